// Victim selection on the seed setups, through the real parsers: the demo cluster's nodes, running
// pods as the API server would list them (spec.priority, status.startTime, the gpu-ledger.io/gpus
// record), and the Pipeline's search with the production GPU chooser.
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/model/config-types.js';
import { parseSnapshot } from '../../src/model/snapshot.js';
import { budgetView, selectorQuery } from '../../src/preempt/budgets.js';
import { compareCandidates, type Candidate } from '../../src/preempt/victims.js';
import { explainPod, renderExplanation } from '../../src/explain/explain.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import type { PodAllocation } from '../../src/state/ledger.js';

const demo = parseSnapshot(readFileSync('examples/demo-cluster.yaml', 'utf8'), 'demo-cluster.yaml');

let state: ClusterState;
let pipeline: Pipeline;
beforeEach(() => {
  state = new ClusterState({ config: defaultConfig() });
  state.resetNodes(demo.nodes);
  state.resetPods([]);
  pipeline = new Pipeline(state);
});

interface PodOpts {
  node?: string;
  priority?: number;
  /** minutes after a fixed epoch; omitted: not started */
  start?: number;
  mem?: string;
  threads?: number;
  limits?: Record<string, string>;
  annotations?: Record<string, string>;
  preemptionPolicy?: 'Never';
  deleting?: boolean;
}

/** A Pod as the API server lists it. */
function podObject(name: string, o: PodOpts): Record<string, unknown> {
  const env: { name: string; value: string }[] = [];
  if (o.mem) env.push({ name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: o.mem });
  if (o.threads !== undefined) env.push({ name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: String(o.threads) });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, annotations: o.annotations ?? {}, ...(o.deleting ? { deletionTimestamp: '2026-12-01T10:00:00Z' } : {}) },
    spec: {
      ...(o.node ? { nodeName: o.node } : {}),
      priority: o.priority ?? 0,
      ...(o.preemptionPolicy ? { preemptionPolicy: o.preemptionPolicy } : {}),
      containers: [{ name: 'c', image: 'x', env, resources: { limits: o.limits ?? { 'nvidia.com/gpu': '1' } } }],
    },
    status: { phase: 'Running', ...(o.start !== undefined ? { startTime: new Date(Date.UTC(2026, 11, 1, 9, o.start)).toISOString() } : {}) },
  };
}

function running(name: string, o: PodOpts & { node: string }): void {
  state.upsertPod(podObject(name, o));
}

function preemptor(name: string, o: PodOpts) {
  return state.parse(podObject(name, o));
}

const names = (c: Candidate | undefined) => c?.victims.map((v) => v.name);

describe('MPS memory (seed 000, GB10 128 GiB)', () => {
  it('two research pods of 64Gi / 50 %: a production pod of 64Gi / 50 % evicts one — the later started', () => {
    running('research-a', { node: 'spark-01', priority: 100, start: 1, mem: '0=64G', threads: 50 });
    running('research-b', { node: 'spark-01', priority: 100, start: 2, mem: '0=64G', threads: 50 });
    const [best, ...rest] = pipeline.preemption(preemptor('llama', { priority: 1000, mem: '0=64G', threads: 50 }), ['spark-01']);
    expect(rest).toEqual([]);
    // Reprieve goes from the most important (earlier start) down: research-a stays.
    expect(names(best)).toEqual(['research-b']);
    expect(best.node).toBe('spark-01');
    expect(best.takes.map((t) => t.memoryBytes)).toEqual([64 * 2 ** 30]);
  });

  it('the minimal set: the higher-priority pods are reprieved first, and one big victim beats two small ones only by that order', () => {
    running('training-32', { node: 'spark-01', priority: 500, start: 1, mem: '0=32G', threads: 20 });
    running('research-64', { node: 'spark-01', priority: 100, start: 2, mem: '0=64G', threads: 30 });
    running('research-32', { node: 'spark-01', priority: 100, start: 3, mem: '0=32G', threads: 30 });
    const [best] = pipeline.preemption(preemptor('llama', { priority: 1000, mem: '0=64G', threads: 20 }), ['spark-01']);
    // training (500) reprieved first, then research-64 (earlier start): 96Gi in use leaves 32Gi — not enough,
    // so research-64 goes; research-32 then fits back.
    expect(names(best)).toEqual(['research-64']);
  });

  it('equal or higher priority never preempts; preemptionPolicy Never never preempts', () => {
    running('research-a', { node: 'spark-01', priority: 100, mem: '0=64G', threads: 50 });
    running('prod-a', { node: 'spark-01', priority: 1000, mem: '0=64G', threads: 50 });
    expect(pipeline.preemption(preemptor('research-c', { priority: 100, mem: '0=64G', threads: 50 }), ['spark-01'])).toEqual([]);
    // Only research-a is lower than 1000: removing it frees 64Gi, enough.
    expect(names(pipeline.preemption(preemptor('prod-b', { priority: 1000, mem: '0=64G', threads: 50 }), ['spark-01'])[0])).toEqual(['research-a']);
    expect(pipeline.preemption(preemptor('prod-never', { priority: 1000, mem: '0=64G', threads: 50, preemptionPolicy: 'Never' }), ['spark-01'])).toEqual([]);
    // Nothing lower-priority would free enough for 100Gi.
    expect(pipeline.preemption(preemptor('prod-big', { priority: 1000, mem: '0=100G', threads: 50 }), ['spark-01'])).toEqual([]);
  });
});

describe('MPS threads (seed 000)', () => {
  it('memory is free but the thread percentage is not: the pod whose threads are needed goes', () => {
    running('research-60', { node: 'spark-01', priority: 100, start: 1, mem: '0=8G', threads: 60 });
    running('research-30', { node: 'spark-01', priority: 100, start: 2, mem: '0=8G', threads: 30 });
    const [best] = pipeline.preemption(preemptor('llama', { priority: 1000, mem: '0=8G', threads: 50 }), ['spark-01']);
    // research-60 reprieved first (earlier start): 60 % + 50 % > 100 %, so it goes; research-30 stays.
    expect(names(best)).toEqual(['research-60']);
  });
});

describe('time-slice replicas (seed 003, T4 ×8)', () => {
  it('eight replicas in use: one pod goes, the lowest priority first, then the latest start', () => {
    for (let i = 0; i < 8; i++) running(`r${i}`, { node: 't4-01', priority: i === 0 ? 50 : 100, start: i, annotations: { 'gpu-ledger.io/isolation': 'shared' } });
    const [best] = pipeline.preemption(preemptor('prod', { priority: 1000, annotations: { 'gpu-ledger.io/isolation': 'shared' } }), ['t4-01']);
    // Reprieve order: priority 100 from the earliest start (r1..r7), then r0 (50): r0 is the one left out.
    expect(names(best)).toEqual(['r0']);
  });
});

describe('MIG instances (seed 002, A100 80GB: 1×3g.40gb + 2×2g.20gb per GPU)', () => {
  it('both 3g.40gb instances in use by research: one goes, the 2g.20gb pods are never touched', () => {
    running('small-a', { node: 'a100-mig-01', priority: 100, start: 1, limits: { 'nvidia.com/mig-2g.20gb': '1' } });
    running('big-a', { node: 'a100-mig-01', priority: 100, start: 2, limits: { 'nvidia.com/mig-3g.40gb': '1' } });
    running('big-b', { node: 'a100-mig-01', priority: 100, start: 3, limits: { 'nvidia.com/mig-3g.40gb': '1' } });
    const [best] = pipeline.preemption(preemptor('prod', { priority: 1000, limits: { 'nvidia.com/mig-3g.40gb': '1' } }), ['a100-mig-01']);
    expect(names(best)).toEqual(['big-b']);
    expect([...best.takes[0].mig!]).toEqual([['3g.40gb', 1]]);
  });
});

describe('exclusivity (seed 003 soft exclusivity; 2× RTX 3090 ×4)', () => {
  it('an exclusive pod needs an idle GPU: the GPU with the fewest lower-priority pods is emptied', () => {
    const shared = { 'gpu-ledger.io/isolation': 'shared' };
    running('g1-a', { node: 'homelab-3090', priority: 100, start: 1, annotations: { ...shared, 'gpu-ledger.io/gpus': '1' } });
    running('g1-b', { node: 'homelab-3090', priority: 100, start: 2, annotations: { ...shared, 'gpu-ledger.io/gpus': '1' } });
    running('g0-a', { node: 'homelab-3090', priority: 100, start: 3, annotations: { ...shared, 'gpu-ledger.io/gpus': '0' } });
    const [best] = pipeline.preemption(preemptor('prod', { priority: 1000, annotations: { 'gpu-ledger.io/isolation': 'exclusive' } }), ['homelab-3090']);
    expect(names(best)).toEqual(['g0-a']);
    expect(best.takes.map((t) => [t.gpu, t.exclusive])).toEqual([[0, true]]);
  });

  it('a shared pod next to an exclusive research job evicts the job', () => {
    running('excl', { node: 't4-01', priority: 100, annotations: { 'gpu-ledger.io/isolation': 'exclusive' } });
    const [best] = pipeline.preemption(preemptor('prod', { priority: 1000, annotations: { 'gpu-ledger.io/isolation': 'shared' } }), ['t4-01']);
    expect(names(best)).toEqual(['excl']);
  });
});

describe('explain says what preemption would do', () => {
  it('would preempt N pod(s), naming them and what they free; with or without --preemption on the server', () => {
    running('research-a', { node: 'spark-01', priority: 100, start: 1, mem: '0=64G', threads: 50 });
    running('research-b', { node: 'spark-01', priority: 100, start: 2, mem: '0=64G', threads: 50 });
    const llama = preemptor('llama', { priority: 1000, mem: '0=64G', threads: 50 });
    const on = explainPod(llama, pipeline, ['spark-01'], { preemption: true });
    expect(on.preemption).toEqual({
      enabled: true,
      state: 'would-preempt',
      node: 'spark-01',
      victims: ['ns/research-b'],
      waitsFor: [],
      frees: '64Gi / 50% on spark-01 GPU 0',
      text: 'would preempt 1 pod(s) on spark-01: ns/research-b (frees 64Gi / 50% on spark-01 GPU 0)',
    });
    expect(on.summary).toBe('0/1 GPU nodes fit; would preempt 1 pod(s) on spark-01: ns/research-b (frees 64Gi / 50% on spark-01 GPU 0)');
    expect(renderExplanation(on)).toContain(on.summary);
    expect(explainPod(llama, pipeline, ['spark-01']).preemption?.text).toBe('with --preemption, gpu-ledger would preempt 1 pod(s) on spark-01: ns/research-b (frees 64Gi / 50% on spark-01 GPU 0)');
    expect(explainPod(preemptor('peer', { priority: 100, mem: '0=64G', threads: 50 }), pipeline, ['spark-01'], { preemption: true }).preemption).toMatchObject({
      state: 'no-candidate',
      text: 'preemption cannot help: no node where evicting lower-priority pods (priority < 100) makes room',
    });
    // A pod that fits somewhere has nothing to preempt.
    expect(explainPod(preemptor('small', { priority: 1000, mem: '0=8G', threads: 10 }), pipeline, ['t4-01', 'spark-01']).preemption).toBeNull();
  });
});

describe('what the order reads comes from the API server', () => {
  it('a pod bound by gpu-ledger learns its start time and deletionTimestamp from the watch', () => {
    const obj = podObject('mine', { priority: 100, mem: '0=64G', threads: 50 });
    expect(pipeline.reserve(state.demandOf(obj), 'spark-01').ok).toBe(true);
    expect(state.ledger.pods.get('uid-mine')).toMatchObject({ state: 'reserved', priority: 100, startTime: null });
    running('mine', { node: 'spark-01', priority: 100, start: 7, mem: '0=64G', threads: 50 });
    expect(state.ledger.pods.get('uid-mine')).toMatchObject({ state: 'bound', startTime: Date.UTC(2026, 11, 1, 9, 7) });
    running('mine', { node: 'spark-01', priority: 100, start: 7, mem: '0=64G', threads: 50, deleting: true });
    expect(state.ledger.pods.get('uid-mine')?.terminating).toBe(true);
  });
});

describe('pods already going, and other preemptors', () => {
  it('a terminating pod is counted as gone and never chosen again: the pod waits for it, evicting nothing', () => {
    running('research-a', { node: 'spark-01', priority: 100, mem: '0=64G', threads: 50 });
    running('research-b', { node: 'spark-01', priority: 100, mem: '0=64G', threads: 50, deleting: true });
    const [best] = pipeline.preemption(preemptor('llama', { priority: 1000, mem: '0=64G', threads: 50 }), ['spark-01']);
    expect(names(best)).toEqual([]);
    expect(best.waitsFor.map((a) => a.name)).toEqual(['research-b']);
  });

  it("another preemptor's nomination holds its share: a second preemptor of the same priority finds no room", () => {
    running('research-a', { node: 'spark-01', priority: 100, mem: '0=64G', threads: 50 });
    running('research-b', { node: 'spark-01', priority: 100, mem: '0=64G', threads: 50 });
    const first = preemptor('llama-1', { priority: 1000, mem: '0=100G', threads: 50 });
    const [c] = pipeline.preemption(first, ['spark-01']);
    expect(names(c)).toHaveLength(2);
    state.nominate(first, c.node, c.takes, c.sequence, 60_000);
    const going = new Set(c.victims.map((v) => v.uid));
    const second = preemptor('llama-2', { priority: 1000, mem: '0=100G', threads: 50 });
    expect(pipeline.preemption(second, ['spark-01'], { going: (a) => going.has(a.uid) })).toEqual([]);
    // A smaller one fits in what is left once the victims are gone (128 − 100), without evicting anything more.
    const small = preemptor('small', { priority: 1000, mem: '0=20G', threads: 40 });
    const [w] = pipeline.preemption(small, ['spark-01'], { going: (a) => going.has(a.uid) });
    expect(names(w)).toEqual([]);
    expect(w.waitsFor.map((a) => a.name).sort()).toEqual(['research-a', 'research-b']);
  });

  it('the nominated pod fits its own share once the victims are gone; every other pod sees it taken', () => {
    running('research-a', { node: 'spark-01', priority: 100, mem: '0=64G', threads: 50 });
    const llama = preemptor('llama', { priority: 1000, mem: '0=64G', threads: 50 });
    const [c] = pipeline.preemption(llama, ['spark-01']);
    state.nominate(llama, c.node, c.takes, c.sequence, 60_000);
    state.deletePod('uid-research-a');
    expect(pipeline.filter(llama, ['spark-01'], undefined, llama.uid).passed).toEqual(['spark-01']);
    const other = preemptor('other', { priority: 1000, mem: '0=100G', threads: 10 });
    expect(pipeline.filter(other, ['spark-01'], undefined, other.uid).passed).toEqual([]);
    // The bind turns the nomination into the reservation in one step.
    const r = pipeline.reserve(llama, 'spark-01');
    expect(r.ok).toBe(true);
    expect(state.ledger.pods.get(llama.uid)?.state).toBe('reserved');
  });
});

describe("kube-scheduler's order across nodes", () => {
  const alloc = (name: string, priority: number, start: number | null): PodAllocation => ({ uid: name, namespace: 'ns', name, node: 'n', takes: [], priority, startTime: start, state: 'bound', expiresAt: Infinity });
  const cand = (node: string, victims: PodAllocation[], pdbViolations = 0): Candidate => ({ node, victims, pdbViolations, waitsFor: [], takes: [], sequence: [] });

  it('fewest PDB violations, lowest highest priority, lowest priority sum, fewest victims, latest start', () => {
    const sorted = (...cs: Candidate[]) => [...cs].sort(compareCandidates).map((c) => c.node);
    expect(sorted(cand('a', [alloc('x', 10, 1)], 1), cand('b', [alloc('y', 500, 1)], 0))).toEqual(['b', 'a']);
    expect(sorted(cand('a', [alloc('x', 500, 1)]), cand('b', [alloc('y', 100, 1), alloc('z', 100, 1)]))).toEqual(['b', 'a']);
    expect(sorted(cand('a', [alloc('x', 100, 1), alloc('w', 100, 1)]), cand('b', [alloc('y', 100, 1), alloc('z', 50, 1)]))).toEqual(['b', 'a']);
    expect(sorted(cand('a', [alloc('x', 100, 1), alloc('w', 0, 1)]), cand('b', [alloc('y', 100, 1)]))).toEqual(['b', 'a']);
    expect(sorted(cand('a', [alloc('x', 100, 1)]), cand('b', [alloc('y', 100, 5)]))).toEqual(['b', 'a']);
    expect(sorted(cand('a', [alloc('x', 100, 1)]), cand('b', [alloc('y', 100, null)]))).toEqual(['b', 'a']);
    expect(sorted(cand('b', [alloc('x', 100, 1)]), cand('a', [alloc('y', 100, 1)]))).toEqual(['a', 'b']);
    expect(sorted(cand('a', [alloc('x', 1, 1)]), cand('b', []))).toEqual(['b', 'a']);
  });

  it('a PodDisruptionBudget moves the choice to the node without violations, and its pods are evicted first', () => {
    running('covered', { node: 'spark-01', priority: 100, start: 1, mem: '0=64G', threads: 50 });
    running('other', { node: 'spark-01', priority: 100, start: 2, mem: '0=64G', threads: 50 });
    state.upsertNode({ ...(demo.nodes.find((n) => (n as { metadata: { name: string } }).metadata.name === 'spark-01') as object), metadata: { name: 'spark-02', labels: { 'nvidia.com/gpu.product': 'NVIDIA-GB10', 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.replicas': '10', 'nvidia.com/gpu.sharing-strategy': 'mps' }, annotations: { 'gpu-ledger.io/gpu-memory': '128Gi' } } });
    running('training', { node: 'spark-02', priority: 500, start: 1, mem: '0=100G', threads: 50 });
    const llama = preemptor('llama', { priority: 1000, mem: '0=100G', threads: 50 });
    const none = pipeline.preemption(llama, ['spark-01', 'spark-02']);
    // Without budgets: research (100) beats training (500) as the highest victim priority.
    expect(none.map((c) => [c.node, names(c)])).toEqual([
      ['spark-01', ['covered', 'other']],
      ['spark-02', ['training']],
    ]);
    const budgets = budgetView([{ namespace: 'ns', name: 'keep-one', allowed: 0, disrupted: new Set() }], [['uid-covered']]);
    const withPdb = pipeline.preemption(llama, ['spark-01', 'spark-02'], { budgets });
    expect(withPdb.map((c) => [c.node, names(c), c.pdbViolations])).toEqual([
      ['spark-02', ['training'], 0],
      ['spark-01', ['covered', 'other'], 1],
    ]);
    // Allowed disruptions left: no violation, but the covered pod still goes first (a 429 before any other eviction).
    const allowed = budgetView([{ namespace: 'ns', name: 'keep-one', allowed: 1, disrupted: new Set() }], [['uid-other']]);
    expect(names(pipeline.preemption(llama, ['spark-01'], { budgets: allowed })[0])).toEqual(['other', 'covered']);
  });

  it('label selectors become the API query, an empty one selects nothing (as kube-scheduler reads it)', () => {
    expect(selectorQuery({ matchLabels: { app: 'research' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }, { key: 'x', operator: 'Exists' }, { key: 'y', operator: 'DoesNotExist' }, { key: 'z', operator: 'NotIn', values: ['c'] }] })).toBe(
      'app=research,tier in (a,b),x,!y,z notin (c)',
    );
    expect(selectorQuery({})).toBeNull();
    expect(selectorQuery(null)).toBeNull();
    expect(selectorQuery({ matchExpressions: [{ key: 'a', operator: 'Bogus' }] })).toBeNull();
  });
});

describe('kube-scheduler proposed victims (/preempt)', () => {
  it('its victims stay victims; the GPU victims they lack are added, the fewest', () => {
    running('cpu-hog', { node: 'spark-01', priority: 100, start: 1, mem: '0=8G', threads: 10 });
    running('research-a', { node: 'spark-01', priority: 100, start: 2, mem: '0=60G', threads: 40 });
    running('research-b', { node: 'spark-01', priority: 100, start: 3, mem: '0=60G', threads: 40 });
    const llama = preemptor('llama', { priority: 1000, mem: '0=64G', threads: 40 });
    const c = pipeline.preemptionOn(llama, 'spark-01', new Set(['uid-cpu-hog']));
    expect(names(c ?? undefined)).toEqual(['cpu-hog', 'research-b']);
  });
});
