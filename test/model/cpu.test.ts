// CPU in the ledger: pods' effective CPU requests, nodes' allocatable CPU, CPU-only pods on GPU
// nodes, and the fragmentation that CPU exhaustion causes (GPUs no typical pod can use any more).
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { parsePodDemand } from '../../src/model/demand.js';
import { parseNodeInventory, type NodeLike } from '../../src/model/inventory.js';
import { gpuFree } from '../../src/gpu/free.js';
import { explainPod, renderExplanation } from '../../src/explain/explain.js';
import { nameRank, scoreCpuPod } from '../../src/prioritize/policy.js';
import { cpuHeadroom, cpuPerGpu, nodeCpuFree, nodeFragmentation } from '../../src/prioritize/scorers.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import { Ledger } from '../../src/state/ledger.js';
import { GiB, node } from '../helpers/make.js';
import { post, serve } from '../server/harness.js';

const tiers = defaultConfig().tiers;
const container = (name: string, cpu: string | undefined, extra: Record<string, unknown> = {}) => ({
  name,
  image: 'x',
  resources: cpu === undefined ? {} : { requests: { cpu } },
  ...extra,
});
const podWith = (spec: Record<string, unknown>) => ({ metadata: { name: 'p', namespace: 'd', uid: 'u1' }, spec });

describe('pod CPU request (Kubernetes effective-request rules)', () => {
  it('sums app containers and takes the larger of that and the init peak', () => {
    expect(parsePodDemand(podWith({ containers: [container('a', '500m'), container('b', '1')] }), tiers).cpuMilli).toBe(1500);
    expect(parsePodDemand(podWith({ initContainers: [container('i', '4')], containers: [container('a', '500m')] }), tiers).cpuMilli).toBe(4000);
  });

  it('counts sidecars (restartPolicy Always) with the app and during later init containers; adds the overhead', () => {
    const spec = {
      initContainers: [container('side', '250m', { restartPolicy: 'Always' }), container('init', '2')],
      containers: [container('a', '1')],
      overhead: { cpu: '100m' },
    };
    // app 1 + sidecar 0.25 = 1.25; init peak 2 + 0.25 = 2.25; + overhead 0.1.
    expect(parsePodDemand(podWith(spec), tiers).cpuMilli).toBe(2350);
  });

  it('a limit alone is the request (the API server defaults it); no CPU is 0; an unreadable value is 0, not an error', () => {
    expect(parsePodDemand(podWith({ containers: [{ name: 'a', resources: { limits: { cpu: '3' } } }] }), tiers).cpuMilli).toBe(3000);
    expect(parsePodDemand(podWith({ containers: [container('a', undefined)] }), tiers).cpuMilli).toBe(0);
    const bad = parsePodDemand(podWith({ containers: [container('a', 'lots')] }), tiers);
    expect(bad.cpuMilli).toBe(0);
    expect(bad.errors).toEqual([]);
  });
});

describe('node CPU', () => {
  it('allocatable CPU in milli; unknown is 0', () => {
    const n = (allocatable: Record<string, string>) =>
      parseNodeInventory({ metadata: { name: 'n', labels: { 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.memory': '16384', 'nvidia.com/gpu.product': 'T4' } }, status: { allocatable: { 'nvidia.com/gpu': '1', ...allocatable } } } as NodeLike, defaultConfig());
    expect(n({ cpu: '15500m' })?.cpuMilli).toBe(15500);
    expect(n({ cpu: '64' })?.cpuMilli).toBe(64000);
    expect(n({})?.cpuMilli).toBe(0);
  });

  it('the ledger sums CPU of GPU pods and CPU-only pods, and releases it exactly', () => {
    const l = new Ledger();
    const nl = l.setNode({ ...node({ name: 'n', gpus: 2, memoryBytes: 16 * GiB }), cpuMilli: 16_000 });
    l.put({ uid: 'g', namespace: 'd', name: 'g', node: 'n', takes: [], cpuMilli: 4000, state: 'bound', expiresAt: Infinity });
    l.put({ uid: 'c', namespace: 'd', name: 'c', node: 'n', takes: [], cpuMilli: 1500, cpuOnly: true, state: 'bound', expiresAt: Infinity });
    expect(nl.cpuMilli).toBe(5500);
    expect(nodeCpuFree(nl)).toBe(10_500);
    l.setNode({ ...node({ name: 'n', gpus: 2, memoryBytes: 16 * GiB }), cpuMilli: 8000 }); // inventory change keeps pods
    expect(nl.cpuMilli).toBe(5500);
    expect(nodeCpuFree(nl)).toBe(2500);
    l.remove('g');
    l.remove('c');
    expect(nl.cpuMilli).toBe(0);
    expect(nodeCpuFree({ ...nl, inventory: { ...nl.inventory, cpuMilli: 0 } })).toBe(Infinity);
  });
});

describe('fragmentation with CPU (hand-computed)', () => {
  it('a shape whose CPU the node no longer has counts every free GPU share as fragmented', () => {
    const l = new Ledger();
    const n = l.setNode({ ...node({ name: 'n', gpus: 2, memoryBytes: 16 * GiB, placement: 'extender' }), cpuMilli: 8000 });
    const shapes = [
      { memoryBytes: 4 * GiB, threadMilli: 250, gpus: 1, cpuMilli: 4000, p: 0.5 },
      { memoryBytes: 4 * GiB, threadMilli: 250, gpus: 1, cpuMilli: 1000, p: 0.5 },
    ];
    // Two idle GPUs, 8 CPUs free: both shapes fit anywhere → 0.
    expect(nodeFragmentation(n, gpuFree(n), shapes, nodeCpuFree(n))).toBeCloseTo(0, 9);
    // 3 CPUs left: the 4-CPU shape cannot land → its half of the weight sees 2 idle GPUs: 0.5 · 2 = 1.
    expect(nodeFragmentation(n, gpuFree(n), shapes, 3000)).toBeCloseTo(1, 9);
    // 500m left: neither shape → 2 GPUs.
    expect(nodeFragmentation(n, gpuFree(n), shapes, 500)).toBeCloseTo(2, 9);
  });

  it('a CPU-only pod scores low where its CPU would strand GPUs, neutral elsewhere', () => {
    const state = new ClusterState({ config: defaultConfig() });
    const docs = yaml.load(readFileSync('test/fixtures/cpu-strand.yaml', 'utf8')) as { items: Record<string, unknown>[] };
    state.resetNodes(docs.items.filter((i) => i.kind === 'Node'));
    state.resetPods(docs.items.filter((i) => i.kind === 'Pod'));
    const small = state.ledger.nodes.get('small-cpu')!;
    const big = state.ledger.nodes.get('big-cpu')!;
    expect(small.cpuMilli).toBe(4000);
    expect(big.cpuMilli).toBe(5500); // the GPU pod and the web pod
    const cpuPod = parsePodDemand(podWith({ containers: [container('batch', '3')] }), tiers);
    const ctx = { tiers, shapes: state.workload.shapes() };
    // The typical pod (learned from the bound ones) wants 4 CPUs: 3 of small-cpu's last 4 shut it out.
    const onSmall = scoreCpuPod(cpuPod, small, ctx);
    const onBig = scoreCpuPod(cpuPod, big, ctx);
    expect(onSmall.raw).toBeLessThan(onBig.raw);
    expect(onBig.components.fragmentation).toBe(0.5); // strands nothing
    expect(onSmall.components.fragmentation).toBeLessThan(0.5);
    // A node without GPUs rates neutral and wins the tie against a GPU node it would not strand.
    expect(scoreCpuPod(cpuPod, undefined, ctx).raw).toBeGreaterThan(onBig.raw);
  });

  it('CPU-only pods: kept on GPU nodes, not on CPU nodes, released on a terminal phase, invisible to explain by name', () => {
    const state = new ClusterState({ config: defaultConfig() });
    const docs = yaml.load(readFileSync('test/fixtures/cpu-strand.yaml', 'utf8')) as { items: Record<string, unknown>[] };
    state.resetNodes(docs.items.filter((i) => i.kind === 'Node'));
    state.resetPods(docs.items.filter((i) => i.kind === 'Pod'));
    const onCpuNode = { metadata: { name: 'x', namespace: 'apps', uid: 'uid-x' }, spec: { nodeName: 'cpu-only', containers: [container('x', '2')] }, status: { phase: 'Running' } };
    state.upsertPod(onCpuNode);
    expect(state.ledger.pods.has('uid-x')).toBe(false);
    expect(state.ledger.pods.get('uid-web')?.cpuOnly).toBe(true);
    expect(state.findByName('apps', 'web')).toBeUndefined();
    const web = docs.items.find((i) => (i.metadata as { name: string }).name === 'web')!;
    state.upsertPod({ ...web, status: { phase: 'Succeeded' } });
    expect(state.ledger.pods.has('uid-web')).toBe(false);
    expect(state.ledger.nodes.get('big-cpu')!.cpuMilli).toBe(4000);
  });
});

describe('POST /prioritize-cpu over HTTP', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve(['test/fixtures/cpu-strand.yaml']);
  });
  afterAll(async () => {
    await s.close();
  });

  it('scores a CPU-only pod by the GPUs it would strand; GPU pods get a flat 0', async () => {
    const names = ['small-cpu', 'big-cpu', 'cpu-only', 'nope'];
    const cpuPod = { metadata: { name: 'batch', namespace: 'apps', uid: 'uid-batch' }, spec: { containers: [container('batch', '3')] } };
    const res = await post(`${s.url}/prioritize-cpu`, { Pod: cpuPod, Nodes: null, NodeNames: names });
    expect(res.status).toBe(200);
    // A host the reply leaves out scores 0 (as kube-scheduler reads it).
    const scores: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    for (const h of res.json as { Host: string; Score: number }[]) {
      expect(names).toContain(h.Host);
      scores[h.Host] = h.Score;
    }
    // Ranked across the candidates: nodes without GPUs 10, the GPU node it does not strand next (a
    // tie-break lower: one point), where it strands GPUs a point per quantum of its rating lower still.
    expect(scores['cpu-only']).toBe(10);
    expect(scores.nope).toBe(10);
    expect(scores['big-cpu']).toBe(9);
    expect(scores['small-cpu']).toBeLessThanOrEqual(8);

    const gpuPod = { metadata: { name: 'g', namespace: 'ml', uid: 'uid-g' }, spec: { containers: [{ name: 'm', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } };
    const flat = await post(`${s.url}/prioritize-cpu`, { Pod: gpuPod, Nodes: null, NodeNames: names });
    // Every host 0: the empty list (kube-scheduler adds nothing for a host the reply leaves out).
    expect(flat.json).toEqual([]);
  });

  it('a malformed body is a 400 JSON error, as for the other verbs', async () => {
    const res = await post(`${s.url}/prioritize-cpu`, '{"Pod":', true);
    expect(res.status).toBe(400);
    expect(res.type).toContain('application/json');
  });
});

describe('CPU headroom (the tie-break of pods without GPUs)', () => {
  const load = () => {
    const state = new ClusterState({ config: defaultConfig() });
    const docs = yaml.load(readFileSync('test/fixtures/cpu-headroom.yaml', 'utf8')) as { items: Record<string, unknown>[] };
    state.resetNodes(docs.items.filter((i) => i.kind === 'Node'));
    state.resetPods(docs.items.filter((i) => i.kind === 'Pod'));
    return state;
  };

  it('is the CPU left beyond what the free GPUs are expected to need, squashed to 0..1', () => {
    const state = load();
    const shapes = state.workload.shapes();
    // Learned from the two running pods: a whole GPU and 12 CPUs each.
    expect(cpuPerGpu(shapes)).toBe(12_000);
    const ctx = { tiers, shapes };
    const rich = state.ledger.nodes.get('t4-cpu-rich')!;
    const tight = state.ledger.nodes.get('g2-cpu-tight')!;
    // 104 − 12 − 2 = 90 CPUs left for 1 free GPU (12 expected): 78 to spare.
    expect(cpuHeadroom(rich, 2000, ctx)).toBeCloseTo(0.5 + 0.5 * Math.tanh(78 / 32), 12);
    // 96 − 12 − 2 = 82 CPUs left for 7 free GPUs (84 expected): 2 short.
    expect(cpuHeadroom(tight, 2000, ctx)).toBeCloseTo(0.5 + 0.5 * Math.tanh(-2 / 32), 12);
    expect(cpuHeadroom(tight, 0, ctx)).toBe(0.5); // exactly the expected need left
  });

  it('sends a pod without GPUs to the node with CPU to spare when fragmentation rates both the same', () => {
    const state = load();
    const pipeline = new Pipeline(state);
    const web = parsePodDemand(podWith({ containers: [container('web', '2')] }), tiers);
    const ranked = pipeline.rankCpu(web, ['g2-cpu-tight', 't4-cpu-rich']);
    expect(ranked.map((r) => r.breakdown?.components.fragmentation)).toEqual([0.5, 0.5]);
    expect(ranked.find((r) => r.host === 't4-cpu-rich')!.score).toBe(10);
    expect(ranked.find((r) => r.host === 'g2-cpu-tight')!.score).toBeLessThan(10);
    // Without CPU facts on the shapes there is nothing to say: no headroom, the node order decides.
    expect(cpuHeadroom(state.ledger.nodes.get('t4-cpu-rich')!, 2000, { tiers, shapes: [{ memoryBytes: 0, threadMilli: 1000, gpus: 1, p: 1 }] })).toBeNull();
  });
});

describe('CPU headroom (the first tie-break of GPU pods)', () => {
  it('puts a node the pod would leave short of CPU for its free GPUs last; above the floor the node order decides', () => {
    const state = new ClusterState({ config: defaultConfig() });
    const docs = yaml.load(readFileSync('test/fixtures/gpu-headroom.yaml', 'utf8')) as { items: Record<string, unknown>[] };
    state.resetNodes(docs.items.filter((i) => i.kind === 'Node'));
    state.resetPods(docs.items.filter((i) => i.kind === 'Pod'));
    const pipeline = new Pipeline(state);
    const train = parsePodDemand({ metadata: { name: 'train', namespace: 'ml', uid: 'uid-new' }, spec: { containers: [{ name: 'main', image: 'x', resources: { requests: { cpu: '12', 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } } }] } }, tiers);
    const names = ['gpu-a', 'gpu-b', 'gpu-c'];
    // The fixture's premise: without the headroom, the node order alone would pick gpu-a.
    expect(nameRank('gpu-a')).toBeGreaterThan(nameRank('gpu-c'));
    expect(nameRank('gpu-c')).toBeGreaterThan(nameRank('gpu-b'));
    const ranked = pipeline.rank(train, names);
    const by = (n: string) => ranked.find((r) => r.host === n)!;
    // Equal on every scorer and on the packing: the tie-breaks decide.
    expect(new Set(ranked.map((r) => r.breakdown!.components.fragmentation)).size).toBe(1);
    expect(new Set(ranked.map((r) => r.breakdown!.components.pack)).size).toBe(1);
    // gpu-a: 80 − 12 − 12 = 56 CPUs left for 6 free GPUs (72 expected): 16 short.
    expect(by('gpu-a').breakdown!.components.cpuHeadroom).toBeCloseTo(0.5 + 0.5 * Math.tanh(-16 / 32), 12);
    expect(by('gpu-b').breakdown!.components.cpuHeadroom).toBeGreaterThan(by('gpu-c').breakdown!.components.cpuHeadroom!);
    // gpu-c and gpu-b both keep what their GPUs need: the node order, not the larger headroom, decides.
    expect(by('gpu-c').score).toBe(10);
    expect(by('gpu-b').score).toBe(9);
    expect(by('gpu-a').score).toBe(8);
    // explain shows the headroom it ranked by, for each node.
    const text = renderExplanation(explainPod(train, pipeline, names));
    expect(text).toMatch(/gpu-a .* 8 \(tier [0-9.-]+, frag [0-9.]+, cpu 0\.27, pack 1\.00\)/);
    expect(text).toMatch(/gpu-c .* 10 \(tier [0-9.-]+, frag [0-9.]+, cpu 0\.8[0-9], pack 1\.00\)/);
  });
});
