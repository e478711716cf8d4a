// Live mode against the fake API server: the real @kubernetes/client-node list/watch/patch/binding
// code paths, feeding the real ledger (ClusterState).
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LiveBinder } from '../../src/kube/binder.js';
import { startClusterWatch, type ClusterWatch } from '../../src/kube/cluster-watch.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { createMetrics } from '../../src/server/metrics.js';
import { handleBind, handleFilter, type ExtenderContext } from '../../src/server/extender.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import { BindConflictError } from '../../src/state/sink.js';
import { FakeApiServer } from './fake-apiserver.js';

const GiB = 2 ** 30;
const logger = pino({ level: 'silent' });

function node(name: string, memMiB = 131072, replicas = 10) {
  return {
    metadata: {
      name,
      labels: { 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.memory': String(memMiB), 'nvidia.com/gpu.replicas': String(replicas), 'nvidia.com/gpu.sharing-strategy': 'mps' },
      annotations: { 'gpu-ledger.io/mps-daemon-limits': 'false' },
    },
    status: { allocatable: { 'nvidia.com/gpu': String(replicas) } },
  };
}

function pod(name: string, uid: string, memG: number, nodeName?: string, phase = 'Running') {
  return {
    metadata: { name, namespace: 'ml', uid },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: 'c', env: [{ name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: `0=${memG}G` }, { name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: '10' }], resources: { limits: { 'nvidia.com/gpu': '1' } } }],
    },
    status: { phase: nodeName ? phase : 'Pending' },
  };
}

async function until(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const memOn = (s: ClusterState, n: string) => s.ledger.nodes.get(n)?.gpus[0].memoryBytes ?? -1;
const uids = (s: ClusterState) => [...s.ledger.pods.keys()].sort();

describe('live mode (fake API server, real client-node)', () => {
  let api: FakeApiServer;
  let state: ClusterState;
  let watch: ClusterWatch | null = null;
  const start = (opts: { resyncPeriodMs?: number; watchdogMs?: number } = {}) => {
    watch = startClusterWatch(api.kubeConfig(), { sink: state, logger, resyncPeriodMs: opts.resyncPeriodMs ?? 60_000, apiTimeoutMs: 5000, watchdogMs: opts.watchdogMs, backoffInitialMs: 50, backoffMaxMs: 200 });
    return watch;
  };

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    state = new ClusterState({ config: defaultConfig() });
  });
  afterEach(async () => {
    await watch?.stop();
    watch = null;
    await api.stop();
  });

  it('initial sync: ready after both lists; only bound, non-terminal pods count', async () => {
    api.upsertNode(node('n1'));
    api.upsertNode(node('n2'));
    api.upsertPod(pod('a', 'uid-a', 16, 'n1'));
    api.upsertPod(pod('b', 'uid-b', 8, 'n2'));
    api.upsertPod(pod('done', 'uid-done', 8, 'n1', 'Succeeded'));
    api.upsertPod(pod('pending', 'uid-p', 8));
    const w = start();
    await until(() => w.ready(), 'ready');
    expect(state.ready()).toBe(true);
    expect(uids(state)).toEqual(['uid-a', 'uid-b']);
    expect(memOn(state, 'n1')).toBe(16 * GiB);
    // The field selector reached the server on both LIST and WATCH.
    expect(api.requests.filter((r) => r.startsWith('GET /api/v1/pods')).every((r) => r.includes('fieldSelector=spec.nodeName'))).toBe(true);
  });

  it('event stream: add, terminal phase, delete, node delete, and a pod recreated under the same name', async () => {
    api.upsertNode(node('n1'));
    api.upsertNode(node('n2'));
    const w = start();
    await until(() => w.ready(), 'ready');
    api.upsertPod(pod('a', 'uid-a', 16, 'n1'));
    api.upsertPod(pod('b', 'uid-b', 8, 'n2'));
    await until(() => state.ledger.pods.size === 2, 'two pods');
    api.upsertPod(pod('a', 'uid-a', 16, 'n1', 'Succeeded')); // leaves the selector → DELETED
    await until(() => !state.ledger.pods.has('uid-a'), 'a released');
    expect(memOn(state, 'n1')).toBe(0);
    api.deletePod('ml', 'a');
    api.upsertPod(pod('a', 'uid-a2', 32, 'n1')); // same name, new UID
    await until(() => state.ledger.pods.has('uid-a2'), 'a recreated');
    expect(memOn(state, 'n1')).toBe(32 * GiB);
    api.deleteNode('n2');
    await until(() => !state.ledger.nodes.has('n2'), 'n2 gone');
    // The Node object is gone but its pod is still bound in the API: it stays recorded, detached,
    // until the pod itself goes (or the node comes back).
    expect(state.ledger.pods.has('uid-b')).toBe(true);
    api.deletePod('ml', 'b');
    await until(() => !state.ledger.pods.has('uid-b'), 'b released with its pod');
    // Node changes keep the allocations.
    api.upsertNode({ ...node('n1', 262144), metadata: { ...node('n1', 262144).metadata } });
    await until(() => state.ledger.nodes.get('n1')!.inventory.memoryBytes === 256 * GiB, 'n1 resized');
    expect(memOn(state, 'n1')).toBe(32 * GiB);
  });

  for (const mode of ['http', 'event'] as const) {
    it(`410 Gone (${mode}): relists and converges, releasing pods deleted meanwhile`, async () => {
      api.goneMode = mode;
      api.upsertNode(node('n1'));
      api.upsertPod(pod('a', 'uid-a', 16, 'n1'));
      api.upsertPod(pod('b', 'uid-b', 16, 'n1'));
      const w = start();
      await until(() => w.ready() && state.ledger.pods.size === 2 && api.openWatches === 2, 'synced and watching');
      api.stallWatches();
      api.deletePod('ml', 'a');
      api.upsertPod(pod('c', 'uid-c', 8, 'n1'));
      api.compact();
      const listsBefore = w.stats().pods.lists;
      api.closeWatches();
      await until(() => w.stats().pods.lists > listsBefore, 'relist');
      await until(() => uids(state).join() === 'uid-b,uid-c', 'converged');
      expect(w.stats().pods.gone).toBeGreaterThan(0);
      expect(memOn(state, 'n1')).toBe(24 * GiB);
    });
  }

  it('errors: the watch restarts with backoff and catches up', async () => {
    api.upsertNode(node('n1'));
    const w = start();
    await until(() => w.ready() && api.openWatches === 2, 'watching');
    api.failNext(4);
    api.closeWatches();
    api.upsertPod(pod('a', 'uid-a', 16, 'n1'));
    await until(() => state.ledger.pods.has('uid-a'), 'caught up after errors');
    expect(w.stats().pods.errors + w.stats().nodes.errors).toBeGreaterThan(0);
  });

  it('a stalled watch is detected by the watchdog and the ledger converges', async () => {
    api.upsertNode(node('n1'));
    const w = start({ watchdogMs: 300 });
    await until(() => w.ready() && api.openWatches === 2, 'watching');
    api.stallWatches();
    api.upsertPod(pod('a', 'uid-a', 16, 'n1'));
    await until(() => state.ledger.pods.has('uid-a'), 'watchdog relist', 5000);
    expect(w.stats().pods.watchdogRestarts).toBeGreaterThan(0);
  });

  it('periodic resync converges even without a watchdog trigger', async () => {
    api.upsertNode(node('n1'));
    const w = start({ resyncPeriodMs: 300, watchdogMs: 60_000 });
    await until(() => w.ready() && api.openWatches === 2, 'watching');
    const lists = w.stats().pods.lists;
    api.stallWatches();
    api.upsertPod(pod('a', 'uid-a', 16, 'n1'));
    await until(() => state.ledger.pods.has('uid-a'), 'resync', 5000);
    expect(w.stats().pods.lists).toBeGreaterThan(lists);
    expect(w.stats().pods.watchdogRestarts).toBe(0);
  });

  describe('bind through the API', () => {
    const ctxFor = (s: ClusterState): ExtenderContext => ({ state: s, pipeline: new Pipeline(s), binder: new LiveBinder(api.kubeConfig(), { timeoutMs: 3000 }), logger, metrics: createMetrics(s), preemption: false });

    it('annotates, binds, and the reservation becomes bound when the watch shows the pod', async () => {
      api.upsertNode(node('n1'));
      api.upsertPod(pod('p', 'uid-p', 16));
      const w = start();
      await until(() => w.ready(), 'ready');
      const ctx = ctxFor(state);
      handleFilter(ctx, { Pod: api.pod('ml', 'p')!, Nodes: null, NodeNames: ['n1'] });
      expect(await handleBind(ctx, { PodName: 'p', PodNamespace: 'ml', PodUID: 'uid-p', Node: 'n1' })).toEqual({ Error: '' });
      const stored = api.pod('ml', 'p')!;
      expect((stored.spec as { nodeName: string }).nodeName).toBe('n1');
      expect((stored.metadata.annotations as Record<string, string>)['gpu-ledger.io/gpus']).toBe('0');
      expect((stored.metadata.annotations as Record<string, string>)['gpu-ledger.io/memory']).toBe('0=16Gi');
      await until(() => state.ledger.pods.get('uid-p')?.state === 'bound', 'bound');
      // A retried bind (the first reply was lost) is success: 409 for the same node.
      expect(await handleBind(ctx, { PodName: 'p', PodNamespace: 'ml', PodUID: 'uid-p', Node: 'n1' })).toEqual({ Error: '' });
    });

    it('409 to another node is a conflict; a recreated pod (UID mismatch) is refused; reservations are released', async () => {
      api.upsertNode(node('n1'));
      api.upsertNode(node('n2'));
      api.upsertPod(pod('p', 'uid-p', 16, 'n2'));
      api.upsertPod(pod('q', 'uid-q-new', 16));
      const binder = new LiveBinder(api.kubeConfig(), { timeoutMs: 3000 });
      await expect(binder.bind({ podName: 'p', podNamespace: 'ml', podUid: 'uid-p', node: 'n1', gpus: [0], annotations: {} })).rejects.toBeInstanceOf(BindConflictError);
      await expect(binder.bind({ podName: 'q', podNamespace: 'ml', podUid: 'uid-q-old', node: 'n1', gpus: [0], annotations: {} })).rejects.toThrow(/recreated|UID/);
      const w = start();
      await until(() => w.ready(), 'ready');
      const ctx = ctxFor(state);
      const stale = { ...api.pod('ml', 'q')!, metadata: { ...api.pod('ml', 'q')!.metadata, uid: 'uid-q-old' } };
      handleFilter(ctx, { Pod: stale, Nodes: null, NodeNames: ['n1'] });
      const r = await handleBind(ctx, { PodName: 'q', PodNamespace: 'ml', PodUID: 'uid-q-old', Node: 'n1' });
      expect(r.Error).toMatch(/failed/);
      expect(state.ledger.pods.has('uid-q-old')).toBe(false); // the reservation was released
    });

    it('restart: a new process rebuilds exactly the same ledger from the API (recorded GPUs included)', async () => {
      const four = { ...node('quad'), metadata: { ...node('quad').metadata, labels: { ...node('quad').metadata.labels, 'nvidia.com/gpu.count': '4', 'nvidia.com/gpu.memory': '32768', 'nvidia.com/gpu.replicas': '8' }, annotations: { 'gpu-ledger.io/placement': 'extender', 'gpu-ledger.io/mps-daemon-limits': 'false' } }, status: { allocatable: { 'nvidia.com/gpu': '32' } } };
      api.upsertNode(four);
      for (let i = 0; i < 10; i++) api.upsertPod(pod(`p${i}`, `uid-${i}`, 2 + (i % 5) * 3));
      const w = start();
      await until(() => w.ready(), 'ready');
      const ctx = ctxFor(state);
      for (let i = 0; i < 10; i++) {
        handleFilter(ctx, { Pod: api.pod('ml', `p${i}`)!, Nodes: null, NodeNames: ['quad'] });
        expect((await handleBind(ctx, { PodName: `p${i}`, PodNamespace: 'ml', PodUID: `uid-${i}`, Node: 'quad' })).Error).toBe('');
      }
      await until(() => [...state.ledger.pods.values()].filter((a) => a.state === 'bound').length === 10, 'all bound');
      const snapshot = (s: ClusterState) => JSON.stringify([...s.ledger.pods.values()].map((a) => [a.uid, a.node, a.takes.map((t) => [t.gpu, t.memoryBytes, t.threadMilli])]).sort());
      const before = snapshot(state);
      // "Restart": a fresh ledger fed only from the API server.
      await w.stop();
      const restarted = new ClusterState({ config: defaultConfig() });
      watch = startClusterWatch(api.kubeConfig(), { sink: restarted, logger, resyncPeriodMs: 60_000, apiTimeoutMs: 5000 });
      await until(() => watch!.ready(), 'restarted ready');
      expect(snapshot(restarted)).toBe(before);
      // The GPUs spread by the extender's choice survived (not re-derived by a policy).
      expect(new Set([...restarted.ledger.pods.values()].map((a) => a.takes[0].gpu)).size).toBeGreaterThan(1);
    });

    it('bind races: many pods bound concurrently while events arrive — 0 overcommitted GPUs, 0 lost allocations', async () => {
      api.upsertNode(node('n1', 65536, 64));
      api.upsertNode(node('n2', 65536, 64));
      const N = 40;
      for (let i = 0; i < N; i++) api.upsertPod(pod(`r${i}`, `uid-r${i}`, 3 + (i % 4)));
      const w = start();
      await until(() => w.ready(), 'ready');
      const ctx = ctxFor(state);
      const results = await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const p = api.pod('ml', `r${i}`)!;
          const f = handleFilter(ctx, { Pod: p, Nodes: null, NodeNames: ['n1', 'n2'] });
          const target = f.NodeNames![i % Math.max(1, f.NodeNames!.length)];
          if (!target) return 'no-fit';
          // Unrelated churn while binds run: another pod comes and goes.
          api.upsertPod(pod(`noise${i}`, `uid-noise${i}`, 1, 'n2'));
          api.deletePod('ml', `noise${i}`);
          const r = await handleBind(ctx, { PodName: `r${i}`, PodNamespace: 'ml', PodUID: `uid-r${i}`, Node: target });
          return r.Error === '' ? 'bound' : 'refused';
        }),
      );
      const bound = results.filter((r) => r === 'bound').length;
      await until(() => [...state.ledger.pods.values()].filter((a) => a.uid.startsWith('uid-r') && a.state === 'bound').length === bound, 'all bound pods confirmed');
      await until(() => ![...state.ledger.pods.keys()].some((u) => u.startsWith('uid-noise')), 'noise gone');
      for (const n of state.ledger.nodes.values()) {
        expect(n.gpus[0].memoryBytes).toBeLessThanOrEqual(64 * GiB);
        expect(n.gpus[0].threadMilli).toBeLessThanOrEqual(1000);
      }
      // Every pod the API shows bound is in the ledger, and nothing else.
      const apiBound = Array.from({ length: N }, (_, i) => api.pod('ml', `r${i}`)!).filter((p) => (p.spec as { nodeName?: string }).nodeName).map((p) => String(p.metadata.uid));
      expect(apiBound.length).toBe(bound);
      expect(uids(state)).toEqual(apiBound.sort());
      expect(bound).toBeGreaterThan(10);
    });
  });
});
