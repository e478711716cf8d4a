// gpu-ledger's own preemption behind the filter verb: what kube-scheduler is told, the nomination,
// the evictions and their order, the brakes (evictions in flight, per-node cool-down, back-off),
// a PodDisruptionBudget's 429 moving to the next node, and two preemptors racing for one node.
// The API is an in-process fake that records every call (the real one is test/e2e/preemption.test.ts).
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/model/config-types.js';
import { parseSnapshot } from '../../src/model/snapshot.js';
import type { PodRef } from '../../src/model/types.js';
import type { EvictionOutcome, PreemptionApi, PreemptionEvent } from '../../src/preempt/api.js';
import { budgetView, type BudgetView } from '../../src/preempt/budgets.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';
import { handleFilter, handlePreempt, type ExtenderContext } from '../../src/server/extender.js';
import { createMetrics } from '../../src/server/metrics.js';
import { Preemptor, type PreemptionSettings } from '../../src/server/preemption.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import type { ExtenderFilterResult } from '../../src/server/wire.js';

const demo = parseSnapshot(readFileSync('examples/demo-cluster.yaml', 'utf8'), 'demo-cluster.yaml');
const spark = demo.nodes.find((n) => (n as { metadata: { name: string } }).metadata.name === 'spark-01') as { metadata: Record<string, unknown> };
const gb10 = (name: string) => ({ ...spark, metadata: { ...spark.metadata, name, uid: `node-${name}` } });

class FakeApi implements PreemptionApi {
  evictions: string[] = [];
  events: PreemptionEvent[] = [];
  /** Answer per pod name (default: evicted). */
  answers = new Map<string, EvictionOutcome>();
  budgetsAsked: string[][] = [];
  budgetView: BudgetView = budgetView([], []);
  async evict(pod: PodRef): Promise<EvictionOutcome> {
    this.evictions.push(pod.name);
    await new Promise((r) => setImmediate(r));
    return this.answers.get(pod.name) ?? { outcome: 'evicted' };
  }
  async event(e: PreemptionEvent): Promise<void> {
    this.events.push(e);
  }
  async budgets(namespaces: readonly string[]): Promise<BudgetView> {
    this.budgetsAsked.push([...namespaces]);
    return this.budgetView;
  }
}

let now = 1_000_000;
let state: ClusterState;
let api: FakeApi;
let ctx: ExtenderContext;
let preemptor: Preemptor;

let inSync = true;

function setup(settings: Partial<PreemptionSettings> = {}, nodes = ['spark-01']) {
  inSync = true;
  now = 1_000_000;
  state = new ClusterState({ config: defaultConfig(), now: () => now });
  state.resetNodes(nodes.map(gb10));
  state.resetPods([]);
  const pipeline = new Pipeline(state);
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics(state);
  api = new FakeApi();
  preemptor = new Preemptor({ pipeline, api, metrics, logger, settings: { nominationTtlMs: 120_000, maxEvictionsInFlight: 10, cooldownMs: 5_000, ...settings }, now: () => now, inSync: () => inSync });
  ctx = { state, pipeline, binder: { bind: async () => undefined }, logger, metrics, preemption: true, preemptor };
}

function pod(name: string, priority: number, mem: number, o: { node?: string; start?: number; deleting?: boolean; policy?: 'Never' } = {}): Record<string, unknown> {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...(o.deleting ? { deletionTimestamp: '2026-12-01T10:00:00Z' } : {}) },
    spec: {
      ...(o.node ? { nodeName: o.node } : {}),
      priority,
      ...(o.policy ? { preemptionPolicy: o.policy } : {}),
      containers: [{ name: 'c', env: [{ name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: `0=${mem}G` }, { name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: '10' }], resources: { limits: { 'nvidia.com/gpu': '1' } } }],
    },
    status: { phase: 'Running', ...(o.start !== undefined ? { startTime: new Date(Date.UTC(2026, 11, 1, 9, o.start)).toISOString() } : {}) },
  };
}

function filter(p: Record<string, unknown>, names = ['spark-01']): ExtenderFilterResult {
  return handleFilter(ctx, { Pod: p, Nodes: null, NodeNames: names } as never);
}

const allocState = (name: string) => state.ledger.pods.get(`uid-${name}`)?.state;

beforeEach(() => setup());

describe('the filter verb starts a preemption and says so', () => {
  it('refused everywhere for GPU share: an Error (kube-scheduler retries with backoff), victims evicted, the share nominated', async () => {
    state.upsertPod(pod('research-a', 100, 64, { node: 'spark-01', start: 1 }));
    state.upsertPod(pod('research-b', 100, 64, { node: 'spark-01', start: 2 }));
    const llama = pod('llama', 1000, 64);
    const r = filter(llama);
    expect(r.Error).toBe('gpu-ledger: preempting lower-priority pods to make room for this pod; retrying');
    expect(r.FailedAndUnresolvableNodes).toEqual({ 'spark-01': 'gpu-ledger: MPS memory overcommit (pod needs 64Gi on one GPU)' });
    await preemptor.idle();
    expect(api.evictions).toEqual(['research-b']);
    expect(api.budgetsAsked).toEqual([['ns']]);
    expect(allocState('llama')).toBe('nominated');
    // The victim keeps its share until it is gone: 64 + 64 + the 64 held for llama.
    expect(state.ledger.nodes.get('spark-01')!.gpus[0].memoryBytes).toBe(192 * 2 ** 30);
    expect(api.events.map((e) => [e.pod.name, e.reason, e.message])).toEqual([
      ['research-b', 'Preempted', 'preempted by gpu-ledger for ns/llama: frees 64Gi / 10% on spark-01 GPU 0'],
      ['llama', 'Preempting', 'gpu-ledger preempts 1 pod(s) on spark-01 for this pod: ns/research-b; frees 64Gi / 10% on spark-01 GPU 0'],
    ]);
    // While the victim terminates: still an Error, naming what it waits for; nothing evicted again.
    state.upsertPod(pod('research-b', 100, 64, { node: 'spark-01', start: 2, deleting: true }));
    expect(filter(llama).Error).toBe('gpu-ledger: preempted for this pod on spark-01: waiting for ns/research-b to terminate');
    // Another pod of any priority sees the share taken.
    expect(filter(pod('other', 1000, 64)).NodeNames).toEqual([]);
    // Gone: the preemptor fits its own share, and its bind turns the nomination into a reservation.
    state.deletePod('uid-research-b');
    expect(filter(llama)).toMatchObject({ NodeNames: ['spark-01'], Error: '' });
    expect(ctx.pipeline.reserve(state.demandOf(llama), 'spark-01').ok).toBe(true);
    expect(allocState('llama')).toBe('reserved');
    expect(api.evictions).toEqual(['research-b']);
  });

  it('nothing to preempt (equal priority, preemptionPolicy Never, not enough lower-priority share): the usual answer', async () => {
    state.upsertPod(pod('research-a', 100, 64, { node: 'spark-01' }));
    state.upsertPod(pod('prod-a', 1000, 64, { node: 'spark-01' }));
    expect(filter(pod('research-c', 100, 64)).Error).toBe('');
    expect(filter(pod('never', 1000, 64, { policy: 'Never' })).Error).toBe('');
    expect(filter(pod('huge', 1000, 100)).Error).toBe('');
    await preemptor.idle();
    expect(api.evictions).toEqual([]);
  });

  it('a 429 (PodDisruptionBudget) moves to the next candidate node; on every node: PreemptionBlocked and a back-off', async () => {
    setup({}, ['spark-01', 'spark-02']);
    state.upsertPod(pod('research-a', 100, 100, { node: 'spark-01' }));
    state.upsertPod(pod('training-a', 500, 100, { node: 'spark-02' }));
    api.answers.set('research-a', { outcome: 'blocked', message: "429: Cannot evict pod as it would violate the pod's disruption budget." });
    const llama = pod('llama', 1000, 64);
    expect(filter(llama, ['spark-01', 'spark-02']).Error).toContain('preempting');
    await preemptor.idle();
    // research (100) is the better victim, refused; then training on spark-02.
    expect(api.evictions).toEqual(['research-a', 'training-a']);
    expect(state.ledger.pods.get('uid-llama')).toMatchObject({ state: 'nominated', node: 'spark-02' });

    setup({}, ['spark-01']);
    state.upsertPod(pod('research-a', 100, 100, { node: 'spark-01' }));
    api.answers.set('research-a', { outcome: 'blocked', message: '429: budget' });
    expect(filter(llama).Error).toContain('preempting');
    await preemptor.idle();
    expect(allocState('llama')).toBeUndefined();
    expect(api.events.map((e) => [e.pod.name, e.type, e.reason, e.message])).toEqual([['llama', 'Warning', 'PreemptionBlocked', 'gpu-ledger cannot preempt for this pod: evicting ns/research-a on spark-01 was refused (429: budget)']]);
    // Backing off: the usual answer, no new eviction; after the cool-down it tries again.
    expect(filter(llama).Error).toBe('');
    expect(api.evictions).toEqual(['research-a']);
    now += 5_001;
    expect(filter(llama).Error).toContain('preempting');
    await preemptor.idle();
    expect(api.evictions).toEqual(['research-a', 'research-a']);
  });

  it('never evicts on a ledger out of sync with the API server: deferred', async () => {
    state.upsertPod(pod('research-a', 100, 100, { node: 'spark-01' }));
    inSync = false;
    filter(pod('llama', 1000, 64));
    await preemptor.idle();
    expect(api.evictions).toEqual([]);
    expect(filter(pod('llama', 1000, 64)).Error).toBe('gpu-ledger: preemption for this pod deferred (ledger not in sync with the API server); retrying');
  });

  it('an eviction error stops the attempt: the nomination is dropped, the pod backs off', async () => {
    state.upsertPod(pod('research-a', 100, 100, { node: 'spark-01' }));
    api.answers.set('research-a', { outcome: 'error', message: '500: boom', applied: 'no' });
    filter(pod('llama', 1000, 64));
    await preemptor.idle();
    expect(allocState('llama')).toBeUndefined();
    expect(filter(pod('llama', 1000, 64)).Error).toBe('');
  });
});

describe('brakes', () => {
  it('evictions in flight are capped: the next preemption is deferred (an Error: kube-scheduler retries) until victims are gone', async () => {
    setup({ maxEvictionsInFlight: 1 }, ['spark-01', 'spark-02']);
    state.upsertPod(pod('research-a', 100, 100, { node: 'spark-01' }));
    state.upsertPod(pod('research-b', 100, 100, { node: 'spark-02' }));
    // 100Gi each: a preemptor's share leaves no room for the other on the same node.
    filter(pod('llama-1', 1000, 100), ['spark-01', 'spark-02']);
    await preemptor.idle();
    expect(api.evictions).toHaveLength(1);
    filter(pod('llama-2', 1000, 100), ['spark-01', 'spark-02']);
    await preemptor.idle();
    expect(api.evictions).toHaveLength(1);
    expect(filter(pod('llama-2', 1000, 100), ['spark-01', 'spark-02']).Error).toBe('gpu-ledger: preemption for this pod deferred (1 evictions in flight, at most 1); retrying');
    // The first victim is gone; after the deferral the second preemption runs.
    state.deletePod(`uid-${api.evictions[0]}`);
    now += 5_001;
    filter(pod('llama-2', 1000, 100), ['spark-01', 'spark-02']);
    await preemptor.idle();
    expect(api.evictions.sort()).toEqual(['research-a', 'research-b']);
  });

  it('a node that just had evictions cools down; pods already going are never evicted twice', async () => {
    state.upsertPod(pod('research-a', 100, 64, { node: 'spark-01', start: 1 }));
    state.upsertPod(pod('research-b', 100, 64, { node: 'spark-01', start: 2 }));
    filter(pod('llama-1', 1000, 64));
    await preemptor.idle();
    expect(api.evictions).toEqual(['research-b']);
    expect(filter(pod('llama-2', 1000, 64)).Error).toContain('preempting');
    await preemptor.idle();
    expect(filter(pod('llama-2', 1000, 64)).Error).toBe('gpu-ledger: preemption for this pod deferred (evictions on spark-01 moments ago: cool-down); retrying');
    now += 5_001;
    filter(pod('llama-2', 1000, 64));
    await preemptor.idle();
    expect(api.evictions).toEqual(['research-b', 'research-a']);
  });

  it('two preemptors racing for one node with room for one: each victim is evicted once, the second finds nothing left', async () => {
    state.upsertPod(pod('research-a', 100, 64, { node: 'spark-01' }));
    state.upsertPod(pod('research-b', 100, 64, { node: 'spark-01' }));
    // Both filters are answered before either attempt has run (kube-scheduler asks again meanwhile).
    expect(filter(pod('llama-1', 1000, 100)).Error).toContain('preempting');
    expect(filter(pod('llama-2', 1000, 100)).Error).toContain('preempting');
    await preemptor.idle();
    expect(api.evictions.sort()).toEqual(['research-a', 'research-b']);
    const states = [allocState('llama-1'), allocState('llama-2')];
    expect(states.filter((x) => x === 'nominated')).toHaveLength(1);
    // The other one is told the usual (it backs off): no further eviction.
    const loser = states[0] === 'nominated' ? 'llama-2' : 'llama-1';
    expect(filter(pod(loser, 1000, 100)).Error).toBe('');
    expect(api.evictions).toHaveLength(2);
  });
});

describe('/preempt with --preemption', () => {
  it("adds the GPU victims kube-scheduler's in-tree proposal lacks; none while the pod's own preemption runs", async () => {
    state.upsertPod(pod('cpu-hog', 100, 8, { node: 'spark-01', start: 1 }));
    state.upsertPod(pod('research-a', 100, 60, { node: 'spark-01', start: 2 }));
    state.upsertPod(pod('research-b', 100, 60, { node: 'spark-01', start: 3 }));
    const llama = pod('llama', 1000, 64);
    const out = handlePreempt(ctx, { Pod: llama, NodeNameToMetaVictims: { 'spark-01': { Pods: [{ UID: 'uid-cpu-hog' }], NumPDBViolations: 0 } } } as never);
    expect(out.NodeNameToMetaVictims).toEqual({ 'spark-01': { Pods: [{ UID: 'uid-cpu-hog' }, { UID: 'uid-research-b' }], NumPDBViolations: 0 } });
    filter(llama);
    expect(handlePreempt(ctx, { Pod: llama, NodeNameToMetaVictims: { 'spark-01': { Pods: [{ UID: 'uid-cpu-hog' }], NumPDBViolations: 0 } } } as never).NodeNameToMetaVictims).toEqual({});
    await preemptor.idle();
  });
});

describe('without --preemption', () => {
  it('filter answers as always, nothing is evicted, /preempt only filters kube-scheduler proposals', async () => {
    state.upsertPod(pod('research-a', 100, 64, { node: 'spark-01' }));
    state.upsertPod(pod('research-b', 100, 64, { node: 'spark-01' }));
    const off: ExtenderContext = { ...ctx, preemption: false, preemptor: undefined };
    const llama = pod('llama', 1000, 64);
    const r = handleFilter(off, { Pod: llama, Nodes: null, NodeNames: ['spark-01'] } as never);
    expect(r).toMatchObject({ NodeNames: [], FailedNodes: {}, Error: '' });
    expect(allocState('llama')).toBeUndefined();
    const proposal = { 'spark-01': { Pods: [{ UID: 'uid-research-a' }], NumPDBViolations: 0 } };
    expect(handlePreempt(off, { Pod: llama, NodeNameToMetaVictims: proposal } as never).NodeNameToMetaVictims).toEqual(proposal);
    const tooFew = { 'spark-01': { Pods: [], NumPDBViolations: 0 } };
    expect(handlePreempt(off, { Pod: llama, NodeNameToMetaVictims: tooFew } as never).NodeNameToMetaVictims).toEqual({});
    await preemptor.idle();
    expect(api.evictions).toEqual([]);
  });
});
