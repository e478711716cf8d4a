// The seed setups on a real kube-apiserver and kube-scheduler: nodes from examples/demo-cluster.yaml,
// pods from examples/pods/, the shipped scheduler configuration. What is checked is what users see:
// where pods are bound, the FailedScheduling event text of `kubectl describe pod`, and the ledger's
// per-GPU gauges on /metrics.

import { expect, it } from 'vitest';
import { demoNode, examplePod, variant } from './kube.js';
import { gauge } from './ledger-view.js';
import { describeE2e, scenario, type Scenario } from './scenario.js';
import { until } from './wait.js';

const GiB = 2 ** 30;

/**
 * Every FailedScheduling text this file expects, in one place: kube-scheduler's summary of the
 * in-tree and gpu-ledger reasons, then its preemption dry run (which never asks the extender).
 */
const EVENTS = {
  gb10MemoryFull:
    '0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 gpu-ledger: MPS memory overcommit (pod needs 64Gi on one GPU). preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.',
  gb10InvalidEnv:
    '0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 gpu-ledger: invalid GPU spec: container "inference": CUDA_MPS_PINNED_DEVICE_MEM_LIMIT "0=lots": "lots" is not a size (use e.g. 0=16G or 0=1G,1=512M). preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.',
  // kube-scheduler counts the tokens itself (ignoredByScheduler: false): gpu-ledger is not asked
  aggregateTokensFull: '0/2 nodes are available: 2 Insufficient nvidia.com/gpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
  aggregateTokenMemory:
    '0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 gpu-ledger: pod declares more GPU memory (4Gi) than its nvidia.com/gpu tokens get from the MPS daemon. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.',
  individualGpu0Full: '0/2 nodes are available: 2 Insufficient nvidia.com/gpu0. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
  mig3gFull: '0/1 nodes are available: 1 Insufficient nvidia.com/mig-3g.40gb. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
  migMemory:
    '0/1 nodes are available: 1 gpu-ledger: MIG instance too small (pod declares 30Gi, nvidia.com/mig-2g.20gb has 19.5Gi). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
  t4HeldExclusive: '0/1 nodes are available: 1 gpu-ledger: GPU held by an exclusive pod. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
  t4ExclusiveBusy: '0/1 nodes are available: 1 gpu-ledger: exclusive pod needs an idle GPU. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
  homelabMemory:
    '0/1 nodes are available: 1 gpu-ledger: time-sliced GPU memory overcommit (pod needs 20Gi on one GPU). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
};

async function create(s: Scenario, ...pods: Parameters<Scenario['cluster']['createPod']>[0][]): Promise<void> {
  for (const p of pods) {
    p.spec!.schedulerName = s.schedulerName;
    await s.cluster.createPod(p);
  }
}

/** The latest FailedScheduling message of a pod (kube-scheduler retries and may say it again). */
async function lastEvent(s: Scenario, name: string): Promise<string> {
  const msgs = await s.cluster.failedSchedulingMessages(s.ns, name);
  return msgs[msgs.length - 1];
}

const mem = (s: Scenario, node: string, gpu: number) => gauge(s.ledger, 'gpu_memory_allocated_bytes', { node, gpu: String(gpu) });
const reps = (s: Scenario, node: string, gpu: number) => gauge(s.ledger, 'gpu_replicas_allocated', { node, gpu: String(gpu) });
const mig = (s: Scenario, node: string, gpu: number, profile: string) => gauge(s.ledger, 'mig_instances_allocated', { node, gpu: String(gpu), profile });

describeE2e('seed 000: DGX Spark GB10, MPS ×10, 128 GB', () => {
  const s = scenario('gb10', () => ['spark-01', 'cpu-01'].map(demoNode));

  it('two 64G pods are bound to the GB10; a third is refused for MPS memory', async () => {
    await create(s, examplePod('large-mps.yaml', s.ns, 'large-a'), examplePod('large-mps.yaml', s.ns, 'large-b'));
    expect(await s.cluster.bound(s.ns, 'large-a')).toBe('spark-01');
    expect(await s.cluster.bound(s.ns, 'large-b')).toBe('spark-01');
    await create(s, examplePod('large-mps.yaml', s.ns, 'large-c'));
    expect(await lastEvent(s, 'large-c')).toBe(EVENTS.gb10MemoryFull);
    expect(await mem(s, 'spark-01', 0)).toBe(128 * GiB);
    expect((await s.cluster.pod(s.ns, 'large-c'))?.spec?.nodeName).toBeUndefined();
  });

  it('an invalid CUDA_MPS_PINNED_DEVICE_MEM_LIMIT is named in the event', async () => {
    await create(s, examplePod('invalid-env.yaml', s.ns, 'invalid-env'));
    expect(await lastEvent(s, 'invalid-env')).toBe(EVENTS.gb10InvalidEnv);
  });
});

describeE2e('seed 001: 4 × 31.8 GB MPS ×20, aggregate and individual', () => {
  const s = scenario('mps4', () => ['mps-agg-01', 'mps-ind-01'].map(demoNode));
  // 10 tokens of a 31.8 GB GPU with 20 replicas give 15.9 GiB: 15G fits within them when they are
  // all on one GPU (individual mode). In aggregate mode the device plugin spreads a pod's tokens over
  // the GPUs (distributed), so the seed's pod declares nothing and gets each GPU's tokens' share.
  const tokens = (name: string, limits: Record<string, string>) => variant('aggregate-10-tokens.yaml', s.ns, name, { schedulerName: s.schedulerName, limits, env: { CUDA_MPS_PINNED_DEVICE_MEM_LIMIT: '0=15G' } });
  const pooled = (name: string, limits: Record<string, string>, env: Record<string, string> = {}) => variant('aggregate-10-tokens.yaml', s.ns, name, { schedulerName: s.schedulerName, limits, env });

  it('aggregate: a pod declaring 4G on one token is refused, the event says its tokens do not hold it', async () => {
    await create(s, pooled('agg-small', { 'nvidia.com/gpu': '1' }, { CUDA_MPS_PINNED_DEVICE_MEM_LIMIT: '0=4G' }));
    expect(await lastEvent(s, 'agg-small')).toBe(EVENTS.aggregateTokenMemory);
    await s.cluster.forceDelete(s.ns, 'agg-small');
  });

  it('aggregate: eight 10-token pods fill the 80 replicas, spread over the four GPUs; a ninth is refused', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `agg-${i}`);
    await create(s, ...names.map((n) => pooled(n, { 'nvidia.com/gpu': '10' })));
    for (const n of names) expect(await s.cluster.bound(s.ns, n)).toBe('mps-agg-01');
    for (let g = 0; g < 4; g++) {
      expect(await reps(s, 'mps-agg-01', g)).toBe(20);
      expect(await mem(s, 'mps-agg-01', g)).toBeLessThanOrEqual((await gauge(s.ledger, 'gpu_memory_capacity_bytes', { node: 'mps-agg-01', gpu: String(g) }))!);
    }
    await create(s, pooled('agg-8', { 'nvidia.com/gpu': '10' }));
    expect(await lastEvent(s, 'agg-8')).toBe(EVENTS.aggregateTokensFull);
  });

  it('individual: tokens of nvidia.com/gpu0 land on GPU 0 only; when they are gone, gpu1 still fits', async () => {
    await create(s, tokens('ind-a', { 'nvidia.com/gpu0': '10' }), tokens('ind-b', { 'nvidia.com/gpu0': '10' }));
    expect(await s.cluster.bound(s.ns, 'ind-a')).toBe('mps-ind-01');
    expect(await s.cluster.bound(s.ns, 'ind-b')).toBe('mps-ind-01');
    await create(s, tokens('ind-c', { 'nvidia.com/gpu0': '10' }), tokens('ind-d', { 'nvidia.com/gpu1': '10' }));
    expect(await s.cluster.bound(s.ns, 'ind-d')).toBe('mps-ind-01');
    expect(await lastEvent(s, 'ind-c')).toBe(EVENTS.individualGpu0Full);
    expect(await reps(s, 'mps-ind-01', 0)).toBe(20);
    expect(await mem(s, 'mps-ind-01', 0)).toBe(30 * GiB);
    expect(await reps(s, 'mps-ind-01', 1)).toBe(10);
    expect(await mem(s, 'mps-ind-01', 1)).toBe(15 * GiB);
  });
});

describeE2e('seed 002: A100-80GB MIG mixed, 1×3g.40gb + 2×2g.20gb per GPU', () => {
  const s = scenario('mig', () => ['a100-mig-01'].map(demoNode));

  it('two 3g.40gb pods take one instance on each GPU; a third is refused', async () => {
    await create(s, examplePod('mig-3g40.yaml', s.ns, 'mig-a'), examplePod('mig-3g40.yaml', s.ns, 'mig-b'));
    expect(await s.cluster.bound(s.ns, 'mig-a')).toBe('a100-mig-01');
    expect(await s.cluster.bound(s.ns, 'mig-b')).toBe('a100-mig-01');
    expect([await mig(s, 'a100-mig-01', 0, '3g.40gb'), await mig(s, 'a100-mig-01', 1, '3g.40gb')]).toEqual([1, 1]);
    await create(s, examplePod('mig-3g40.yaml', s.ns, 'mig-c'));
    expect(await lastEvent(s, 'mig-c')).toBe(EVENTS.mig3gFull);
  });

  it('a model declaring more memory than a 2g.20gb instance has is refused; one that fits is bound', async () => {
    const on2g = (name: string, memory: string) => variant('mig-3g40.yaml', s.ns, name, { schedulerName: s.schedulerName, limits: { 'nvidia.com/mig-2g.20gb': '1' }, annotations: { 'gpu-ledger.io/gpu-memory': memory } });
    await create(s, on2g('mig-too-big', '30Gi'), on2g('mig-fits', '16Gi'));
    expect(await s.cluster.bound(s.ns, 'mig-fits')).toBe('a100-mig-01');
    expect(await lastEvent(s, 'mig-too-big')).toBe(EVENTS.migMemory);
  });
});

describeE2e('seed 003: T4 time-slicing ×8, shared and exclusive jobs', () => {
  const s = scenario('t4', () => ['t4-01'].map(demoNode));

  it('a shared pod next to an exclusive one is refused', async () => {
    await create(s, examplePod('t4-exclusive.yaml', s.ns, 'excl-a'));
    expect(await s.cluster.bound(s.ns, 'excl-a')).toBe('t4-01');
    await create(s, examplePod('t4-shared.yaml', s.ns, 'shared-b'));
    expect(await lastEvent(s, 'shared-b')).toBe(EVENTS.t4HeldExclusive);
  });

  it('an exclusive pod next to a busy GPU is refused', async () => {
    await s.cluster.forceDelete(s.ns, 'excl-a');
    await s.cluster.forceDelete(s.ns, 'shared-b');
    await s.cluster.deleted(s.ns, 'excl-a');
    await s.cluster.deleted(s.ns, 'shared-b');
    await create(s, examplePod('t4-shared.yaml', s.ns, 'shared-c'));
    expect(await s.cluster.bound(s.ns, 'shared-c')).toBe('t4-01');
    await create(s, examplePod('t4-exclusive.yaml', s.ns, 'excl-d'));
    expect(await lastEvent(s, 'excl-d')).toBe(EVENTS.t4ExclusiveBusy);
  });
});

describeE2e('seed 004: homelab, 2 × RTX 3090 24 GB, time-slicing ×4', () => {
  const s = scenario('homelab', () => ['homelab-3090'].map(demoNode));
  const declared = (name: string, memory: string) => variant('timeslice-research.yaml', s.ns, name, { schedulerName: s.schedulerName, annotations: { 'gpu-ledger.io/gpu-memory': memory } });

  it('ComfyUI with 2 replicas (nodeSelector node-type: gpu-worker) is bound, one replica on each GPU (distributed)', async () => {
    await create(s, examplePod('comfyui-2-replicas.yaml', s.ns, 'comfyui'));
    expect(await s.cluster.bound(s.ns, 'comfyui')).toBe('homelab-3090');
    expect([await reps(s, 'homelab-3090', 0), await reps(s, 'homelab-3090', 1)]).toEqual([1, 1]);
    await s.cluster.forceDelete(s.ns, 'comfyui');
    await s.cluster.deleted(s.ns, 'comfyui');
  });

  it('two 20Gi models go to different GPUs; a third is refused for time-sliced memory', async () => {
    await until(async () => (await reps(s, 'homelab-3090', 0)) === 0, 'comfyui released');
    await create(s, declared('model-a', '20Gi'), declared('model-b', '20Gi'));
    expect(await s.cluster.bound(s.ns, 'model-a')).toBe('homelab-3090');
    expect(await s.cluster.bound(s.ns, 'model-b')).toBe('homelab-3090');
    expect([await mem(s, 'homelab-3090', 0), await mem(s, 'homelab-3090', 1)]).toEqual([20 * GiB, 20 * GiB]);
    await create(s, declared('model-c', '20Gi'));
    expect(await lastEvent(s, 'model-c')).toBe(EVENTS.homelabMemory);
  });
});
