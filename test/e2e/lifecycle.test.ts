// Objects changing under gpu-ledger the way they do in a cluster: a node deleted and re-created
// under the same name, a pod deleted and re-created under the same name (another UID), pods bound
// by hand (spec.nodeName set at creation, no scheduler involved), a pod that finishes, and an
// annotation changed on a running pod. Checked through the ledger's gauges and the scheduler's
// decisions that follow.

import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { expect, it } from 'vitest';
import { demoNode, examplePod, mpsPod, variant } from './kube.js';
import { gauge, pods } from './ledger-view.js';
import { describeE2e, scenario, type Scenario } from './scenario.js';
import { until } from './wait.js';

const GiB = 2 ** 30;

const EVENTS = {
  // (kube-scheduler sorts the reasons as strings)
  // The T4 (15 GiB) could never hold 64Gi: unresolvable there, whatever runs on it.
  gb10Needs64:
    '0/2 nodes are available: 1 gpu-ledger: GPU too small (pod declares 64Gi per GPU), 1 gpu-ledger: MPS memory overcommit (pod needs 64Gi on one GPU). preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.',
  t4Needs: (gi: number) =>
    `0/2 nodes are available: 1 gpu-ledger: time-sliced GPU memory overcommit (pod needs ${gi}Gi on one GPU), 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.`,
};

const gpuMemory = (s: Scenario, node: string) => gauge(s.ledger, 'gpu_memory_allocated_bytes', { node, gpu: '0' });
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function waitMemory(s: Scenario, node: string, bytes: number, what: string): Promise<void> {
  let last: number | undefined;
  await until(
    async () => (last = await gpuMemory(s, node)) === bytes,
    () => `${what}: ${node} GPU 0 at ${bytes / GiB}Gi in the ledger (last seen ${last === undefined ? 'no gauge' : `${last / GiB}Gi`})`,
    15_000,
  );
}

async function lastEvent(s: Scenario, name: string): Promise<string> {
  const m = await s.cluster.failedSchedulingMessages(s.ns, name);
  return m[m.length - 1];
}

describeE2e('cluster objects changing under gpu-ledger', () => {
  const s = scenario('lifecycle', () => ['spark-01', 't4-01'].map(demoNode));
  const mps = (name: string, mem: string) => mpsPod(s.ns, name, s.schedulerName, { mem });

  it('pods bound by hand (spec.nodeName at creation) are accounted, and the scheduler works around them', async () => {
    for (const n of ['hand-a', 'hand-b']) {
      const p = mps(n, '0=40G');
      p.spec!.nodeName = 'spark-01';
      await s.cluster.createPod(p);
    }
    await waitMemory(s, 'spark-01', 80 * GiB, 'two hand-bound pods');
    // 48Gi left: a 64G pod is refused, a 40G one fits.
    await s.cluster.createPod(mps('big', '0=64G'));
    expect(await lastEvent(s, 'big')).toBe(EVENTS.gb10Needs64);
    await s.cluster.createPod(mps('fits', '0=40G'));
    expect(await s.cluster.bound(s.ns, 'fits')).toBe('spark-01');
    await waitMemory(s, 'spark-01', 120 * GiB, 'the third pod');
    await s.cluster.forceDelete(s.ns, 'big');
  });

  it('a pod deleted and re-created under the same name is another pod: its old share is released', async () => {
    const before = pods(s.ledger).find((p) => p.pod === `${s.ns}/fits`)!;
    await s.cluster.forceDelete(s.ns, 'fits');
    await s.cluster.deleted(s.ns, 'fits');
    await waitMemory(s, 'spark-01', 80 * GiB, 'the deleted pod released');
    await s.cluster.createPod(mps('fits', '0=20G'));
    expect(await s.cluster.bound(s.ns, 'fits')).toBe('spark-01');
    await waitMemory(s, 'spark-01', 100 * GiB, 'the re-created pod');
    const now = pods(s.ledger).filter((p) => p.pod === `${s.ns}/fits`);
    expect(now).toHaveLength(1);
    expect(now[0].uid).not.toBe(before.uid);
  });

  it('a pod that finishes (phase Succeeded) releases its share', async () => {
    await s.cluster.core.patchNamespacedPodStatus({ namespace: s.ns, name: 'fits', body: { status: { phase: 'Succeeded' } } }, merge);
    await waitMemory(s, 'spark-01', 80 * GiB, 'the finished pod released');
  });

  it('a node deleted and re-created under the same name keeps its running pods', async () => {
    await s.cluster.deleteNode('spark-01');
    await until(async () => !(await s.cluster.core.listNode()).items.some((n) => n.metadata?.name === 'spark-01'), 'spark-01 deleted');
    // The ledger has seen the delete (its GPU gauge is gone): the 80Gi below is the re-created node's.
    await until(async () => (await gpuMemory(s, 'spark-01')) === undefined, 'spark-01 gone from the ledger', 15_000);
    await s.cluster.createNode(demoNode('spark-01'));
    // hand-a and hand-b are still bound to spark-01 in the API.
    expect((await s.cluster.pod(s.ns, 'hand-a'))?.spec?.nodeName).toBe('spark-01');
    await waitMemory(s, 'spark-01', 80 * GiB, 'the re-created node');
    expect(pods(s.ledger).filter((p) => p.node === 'spark-01').map((p) => p.pod.split('/')[1])).toEqual(['hand-a', 'hand-b']);
    // and so the scheduler still sees the GB10 as 80Gi full.
    await s.cluster.createPod(mps('big-2', '0=64G'));
    expect(await lastEvent(s, 'big-2')).toBe(EVENTS.gb10Needs64);
  });

  it('a changed gpu-ledger.io/gpu-memory annotation on a running pod is applied to the ledger', async () => {
    // Notebooks pinned to the T4 (15Gi, time-slicing ×8) by a nodeSelector.
    const notebook = (name: string, memory: string) => {
      const p = variant('t4-shared.yaml', s.ns, name, { schedulerName: s.schedulerName, annotations: { 'gpu-ledger.io/gpu-memory': memory } });
      p.spec!.nodeSelector = { 'kubernetes.io/hostname': 't4-01' };
      return p;
    };
    await s.cluster.createPod(notebook('notebook', '4Gi'));
    expect(await s.cluster.bound(s.ns, 'notebook')).toBe('t4-01');
    await waitMemory(s, 't4-01', 4 * GiB, 'the notebook');
    // 4 + 12 > 15Gi: refused now, as the test of the changed annotation below relies on.
    await s.cluster.createPod(notebook('notebook-12', '12Gi'));
    expect(await lastEvent(s, 'notebook-12')).toBe(EVENTS.t4Needs(12));
    await s.cluster.forceDelete(s.ns, 'notebook-12');
    await s.cluster.core.patchNamespacedPod({ namespace: s.ns, name: 'notebook', body: { metadata: { annotations: { 'gpu-ledger.io/gpu-memory': '12Gi' } } } }, merge);
    await waitMemory(s, 't4-01', 12 * GiB, 'the changed annotation');
    // 12 of 15Gi used: another 4Gi notebook no longer fits.
    await s.cluster.createPod(notebook('notebook-2', '4Gi'));
    expect(await lastEvent(s, 'notebook-2')).toBe(EVENTS.t4Needs(4));
  });

  it('examples/pods/large-mps.yaml still fits once the hand-bound pods are gone', async () => {
    await s.cluster.forceDelete(s.ns, 'big-2');
    for (const n of ['hand-a', 'hand-b']) await s.cluster.forceDelete(s.ns, n);
    await waitMemory(s, 'spark-01', 0, 'the hand-bound pods released');
    await s.cluster.createPod(examplePod('large-mps.yaml', s.ns, 'large'));
    expect(await s.cluster.bound(s.ns, 'large')).toBe('spark-01');
  });
});
