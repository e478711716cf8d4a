// Live mode under a faulty API server (the fake one, real client-node, the real server over
// loopback HTTP): lists failing, watches breaking or stalling, API errors and hangs during bind.
// gpu-ledger must fail closed while its ledger does not follow the API server, answer every bind
// within its budget, and never hand the same GPU out twice.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { startClusterWatch, type ClusterWatch } from '../../src/kube/cluster-watch.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import { post } from '../server/harness.js';
import { FakeApiServer } from './fake-apiserver.js';

const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'gpu-ledger-faults-'));
const NOT_IN_SYNC = /^gpu-ledger: ledger not in sync with the API server \(.*pods: (list failing|watch failing|relisting|initial list not applied yet).*\); retrying$/;

function node(name: string, memMiB = 65536, replicas = 4) {
  return {
    metadata: {
      name,
      labels: { 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.memory': String(memMiB), 'nvidia.com/gpu.replicas': String(replicas), 'nvidia.com/gpu.sharing-strategy': 'mps' },
      annotations: { 'gpu-ledger.io/mps-daemon-limits': 'false' },
    },
    status: { allocatable: { 'nvidia.com/gpu': String(replicas) } },
  };
}

function pod(name: string, uid: string, memG: number, nodeName?: string) {
  return {
    metadata: { name, namespace: 'ml', uid },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: 'c', env: [{ name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: `0=${memG}G` }], resources: { limits: { 'nvidia.com/gpu': '1' } } }],
    },
    status: { phase: nodeName ? 'Running' : 'Pending' },
  };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Readyz {
  ready: boolean;
  resources: Record<string, { phase: string; lastError?: string }>;
}

describe('live mode against a faulty API server', () => {
  let api: FakeApiServer;
  let s: RunningServer | null = null;

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
  });
  afterEach(async () => {
    await s?.close();
    s = null;
    await api.stop();
  });

  const start = async (o: { reservationTtlMs?: number; bindTimeoutMs?: number; apiTimeoutMs?: number } = {}) => {
    s = await startServer(
      {
        snapshot: [],
        config: defaultConfig(),
        kubeconfig: api.writeKubeconfig(join(dir, `kubeconfig-${api.port}.json`)),
        host: '127.0.0.1',
        port: 0,
        statusHost: '127.0.0.1',
        statusPort: 0,
        maxBody: '8mb',
        apiTimeoutMs: o.apiTimeoutMs ?? 1500,
        bindTimeoutMs: o.bindTimeoutMs ?? 1000,
        reservationTtlMs: o.reservationTtlMs ?? 120_000,
        resyncPeriodMs: 60_000,
        preemption: false,
        logLevel: 'silent',
      },
      logger,
    );
    return s;
  };
  const readyz = async (): Promise<{ status: number; body: Readyz }> => {
    const res = await fetch(`${s!.statusUrl}/readyz`);
    return { status: res.status, body: (await res.json()) as Readyz };
  };
  const filter = async (p: unknown, names: string[]) => (await post(`${s!.url}/filter`, { Pod: p, Nodes: null, NodeNames: names })).json as { NodeNames: string[]; FailedAndUnresolvableNodes: Record<string, string>; Error: string };
  const bind = async (name: string, uid: string, nodeName: string) => (await post(`${s!.url}/bind`, { PodName: name, PodNamespace: 'ml', PodUID: uid, Node: nodeName })).json as { Error: string };
  const bindings = () => api.requests.filter((r) => /^POST .*\/binding/.test(r)).length;
  const writes = () => api.requests.filter((r) => /^(POST|PATCH|PUT|DELETE) /.test(r)).length;

  it('pods LIST failing at start: filter refuses every node, prioritize scores 0, bind refuses, /readyz 503; then it recovers', async () => {
    api.upsertNode(node('n1'));
    api.upsertNode(node('n2'));
    api.upsertPod(pod('running', 'uid-running', 60, 'n1'));
    api.upsertPod(pod('p', 'uid-p', 16));
    api.inject({ method: 'GET', path: '/api/v1/pods', watch: false }, { kind: 'status', code: 500 });
    await start();
    await until(async () => (await readyz()).body.resources.pods?.phase === 'list-failing', 'pods list failing');
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body.ready).toBe(false);
    expect(r.body.resources.pods.lastError).toMatch(/list: .*500|injected/);
    const f = await filter(api.pod('ml', 'p'), ['n1', 'n2']);
    // An Error, not an unresolvable verdict: kube-scheduler retries the pod with its short backoff.
    expect(f.Error).toMatch(NOT_IN_SYNC);
    expect(f.Error).toContain('pods: list failing');
    expect(f.NodeNames).toEqual([]);
    expect(f.FailedAndUnresolvableNodes).toEqual({});
    const scores = (await post(`${s!.url}/prioritize`, { Pod: api.pod('ml', 'p'), Nodes: null, NodeNames: ['n1', 'n2'] })).json;
    // Every candidate 0: the empty list (a host the reply leaves out is 0 to kube-scheduler).
    expect(scores).toEqual([]);
    const b = await bind('p', 'uid-p', 'n2');
    expect(b.Error).toMatch(/not in sync.*not binding$/);
    expect(bindings()).toBe(0);
    expect(s!.state.ledger.pods.has('uid-p')).toBe(false);
    const m = await (await fetch(`${s!.statusUrl}/metrics`)).text();
    expect(m).toMatch(/gpu_ledger_ready 0/);
    expect(m).toMatch(/gpu_ledger_not_in_sync_refusals_total\{verb="filter"\} [1-9]/);

    api.clearFaults();
    await until(async () => (await readyz()).status === 200, 'back in sync');
    // The running pod the failing list hid is in the ledger now: n1 is full for a 16G pod.
    const after = await filter(api.pod('ml', 'p'), ['n1', 'n2']);
    expect(after.NodeNames).toEqual(['n2']);
    expect(after.FailedAndUnresolvableNodes.n1).toMatch(/MPS memory/);
    expect((await bind('p', 'uid-p', 'n2')).Error).toBe('');
  });

  it('a watch error makes the ledger out of sync until a relist is applied', async () => {
    api.upsertNode(node('n1'));
    api.upsertPod(pod('p', 'uid-p', 8));
    await start();
    await until(async () => (await readyz()).status === 200 && api.openWatches === 2, 'synced and watching');
    const lists = () => api.requests.filter((r) => r.startsWith('GET /api/v1/pods?') && !r.includes('watch=true')).length;
    const listsBefore = lists();
    // The pods watch breaks and cannot reconnect; the relist after it hangs until --api-timeout.
    api.inject({ path: '/api/v1/pods', watch: true }, { kind: 'status', code: 500 });
    api.inject({ path: '/api/v1/pods', watch: false }, { kind: 'hang' });
    api.closeWatches();
    await until(async () => (await readyz()).status === 503, 'out of sync');
    const phases = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await readyz();
      phases.add(r.body.resources.pods.phase);
      expect(r.status).toBe(503);
      expect((await filter(api.pod('ml', 'p'), ['n1'])).Error).toMatch(NOT_IN_SYNC);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect([...phases].every((p) => p === 'watch-failing' || p === 'list-failing')).toBe(true);
    api.clearFaults();
    await until(async () => (await readyz()).status === 200, 'back in sync', 20_000);
    expect(lists()).toBeGreaterThan(listsBefore); // in sync again only through a new LIST
    expect((await filter(api.pod('ml', 'p'), ['n1'])).NodeNames).toEqual(['n1']);
  });

  it('a stalled watch during a reservation: the bound pod is marked bound at bind and never expires', async () => {
    api.upsertNode(node('n1', 65536));
    api.upsertPod(pod('a', 'uid-a', 40));
    api.upsertPod(pod('b', 'uid-b', 40));
    await start({ reservationTtlMs: 300 });
    await until(async () => (await readyz()).status === 200 && api.openWatches === 2, 'synced and watching');
    api.stallWatches(); // half-open: the watch never shows the pod bound
    expect((await filter(api.pod('ml', 'a'), ['n1'])).NodeNames).toEqual(['n1']);
    expect((await bind('a', 'uid-a', 'n1')).Error).toBe('');
    expect(s!.state.ledger.pods.get('uid-a')?.state).toBe('bound'); // at once, not when the watch shows it
    await new Promise((r) => setTimeout(r, 600)); // twice the TTL
    expect(s!.state.expire()).toEqual([]);
    expect(s!.state.ledger.pods.get('uid-a')?.state).toBe('bound');
    // The GPU is not handed out again: a second 40G pod does not fit next to the first.
    const f = await filter(api.pod('ml', 'b'), ['n1']);
    expect(f.NodeNames).toEqual([]);
    expect(f.FailedAndUnresolvableNodes.n1).toMatch(/MPS memory/);
  });

  describe('API errors during bind', () => {
    const setup = async (o: { bindTimeoutMs?: number } = {}) => {
      api.upsertNode(node('n1'));
      api.upsertNode(node('n2'));
      api.upsertPod(pod('p', 'uid-p', 16));
      await start(o);
      await until(async () => (await readyz()).status === 200 && api.openWatches === 2, 'synced and watching');
      expect((await filter(api.pod('ml', 'p'), ['n1', 'n2'])).NodeNames).toEqual(['n1', 'n2']);
    };
    const alloc = () => s!.state.ledger.pods.get('uid-p');

    it('success: one API write, the assignment annotations arrive with the node', async () => {
      await setup();
      expect((await bind('p', 'uid-p', 'n1')).Error).toBe('');
      expect(writes()).toBe(1);
      expect(bindings()).toBe(1);
      const stored = api.pod('ml', 'p')!;
      expect((stored.spec as { nodeName: string }).nodeName).toBe('n1');
      expect(stored.metadata.annotations).toMatchObject({ 'gpu-ledger.io/gpus': '0', 'gpu-ledger.io/node': 'n1', 'gpu-ledger.io/memory': '0=16Gi' });
      expect(alloc()?.state).toBe('bound');
    });

    it('409, already bound to the same node (a retried bind): success, kept bound', async () => {
      await setup();
      expect((await bind('p', 'uid-p', 'n1')).Error).toBe('');
      expect((await bind('p', 'uid-p', 'n1')).Error).toBe('');
      expect(bindings()).toBe(2);
      expect(api.requests.filter((r) => r.startsWith('GET /api/v1/namespaces/ml/pods/p')).length).toBe(1);
      expect(alloc()).toMatchObject({ node: 'n1', state: 'bound' });
    });

    it('409, bound to another node meanwhile: a conflict, the reservation is released', async () => {
      await setup();
      api.stallWatches();
      api.upsertPod({ ...api.pod('ml', 'p')!, spec: { ...(api.pod('ml', 'p')!.spec as object), nodeName: 'n2' } });
      const r = await bind('p', 'uid-p', 'n1');
      expect(r.Error).toMatch(/already bound to n2, not n1/);
      expect(alloc()).toBeUndefined();
    });

    it('409, the pod is being deleted: refused, released', async () => {
      await setup();
      api.stallWatches();
      api.markDeleting('ml', 'p');
      const r = await bind('p', 'uid-p', 'n1');
      expect(r.Error).toMatch(/being deleted.*the pod is not bound/);
      expect(alloc()).toBeUndefined();
    });

    it('409, recreated under the same name (UID precondition): a conflict, released', async () => {
      await setup();
      api.stallWatches();
      api.deletePod('ml', 'p');
      api.upsertPod(pod('p', 'uid-p-new', 16));
      const r = await bind('p', 'uid-p', 'n1');
      expect(r.Error).toMatch(/recreated \(uid uid-p-new\)/);
      expect(alloc()).toBeUndefined();
      expect((api.pod('ml', 'p')!.spec as { nodeName?: string }).nodeName).toBeUndefined();
    });

    it('404, the pod is gone: a conflict, released', async () => {
      await setup();
      api.stallWatches();
      api.deletePod('ml', 'p');
      expect((await bind('p', 'uid-p', 'n1')).Error).toMatch(/is gone/);
      expect(alloc()).toBeUndefined();
    });

    it('403 (the write did not happen): an error, released', async () => {
      await setup();
      api.inject({ method: 'POST', path: /\/binding$/ }, { kind: 'status', code: 403 });
      expect((await bind('p', 'uid-p', 'n1')).Error).toMatch(/failed: binding pod ml\/p: 403/);
      expect(alloc()).toBeUndefined();
    });

    it('500 after the write was applied: the read settles it as bound', async () => {
      await setup();
      api.inject({ method: 'POST', path: /\/binding$/, times: 1 }, { kind: 'apply-then-status', code: 500 });
      expect((await bind('p', 'uid-p', 'n1')).Error).toBe('');
      expect(alloc()).toMatchObject({ node: 'n1', state: 'bound' });
    });

    it('connection dropped after the write was applied: the read settles it as bound', async () => {
      await setup();
      api.inject({ method: 'POST', path: /\/binding$/, times: 1 }, { kind: 'apply-then-drop' });
      expect((await bind('p', 'uid-p', 'n1')).Error).toBe('');
      expect(alloc()).toMatchObject({ node: 'n1', state: 'bound' });
    });

    it('500 without the write: outcome unknown, the GPUs stay accounted until a relist settles it', async () => {
      await setup();
      api.inject({ method: 'POST', path: /\/binding$/, times: 1 }, { kind: 'status', code: 500 });
      const r = await bind('p', 'uid-p', 'n1');
      expect(r.Error).toMatch(/outcome unknown.*stay reserved/);
      expect(alloc()).toMatchObject({ node: 'n1', state: 'bound' });
      await new Promise((r) => setTimeout(r, 100));
      expect(s!.state.expire()).toEqual([]);
      // A relist (here forced by 410 Gone: history compacted past the watch's version) does not
      // list the pod as bound: released.
      api.stallWatches();
      api.upsertPod(pod('other', 'uid-other', 1));
      api.compact();
      api.closeWatches();
      await until(() => alloc() === undefined, 'released by the relist');
      // kube-scheduler retries; now it binds.
      expect((await filter(api.pod('ml', 'p'), ['n1', 'n2'])).NodeNames).toEqual(['n1', 'n2']);
      expect((await bind('p', 'uid-p', 'n2')).Error).toBe('');
    });

    it('the API server hangs: bind answers within its budget, outcome unknown, GPUs kept', async () => {
      await setup({ bindTimeoutMs: 800 });
      api.inject({ method: 'POST', path: /\/binding$/ }, { kind: 'hang' });
      api.inject({ method: 'GET', path: '/api/v1/namespaces/ml/pods/p' }, { kind: 'hang' });
      const t0 = Date.now();
      const r = await bind('p', 'uid-p', 'n1');
      const took = Date.now() - t0;
      expect(r.Error).toMatch(/outcome unknown \(binding pod ml\/p: no answer within 800 ms \(--bind-timeout\)/);
      // Well inside kube-scheduler's default 5 s httpTimeout (800 ms budget plus the HTTP round trip).
      expect(took).toBeLessThan(4000);
      expect(alloc()).toMatchObject({ node: 'n1', state: 'bound' });
    });
  });
});

describe('list and watch deadlines (ClusterWatch)', () => {
  let api: FakeApiServer;
  let w: ClusterWatch | null = null;
  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
  });
  afterEach(async () => {
    await w?.stop();
    w = null;
    await api.stop();
  });

  it('a LIST without an answer fails at --api-timeout and is retried', async () => {
    api.upsertNode(node('n1'));
    api.inject({ method: 'GET', path: '/api/v1/nodes', watch: false, times: 1 }, { kind: 'hang' });
    const state = new ClusterState({ config: defaultConfig() });
    w = startClusterWatch(api.kubeConfig(), { sink: state, logger, resyncPeriodMs: 60_000, apiTimeoutMs: 300, backoffInitialMs: 50, backoffMaxMs: 100 });
    await until(() => w!.sync().nodes.phase === 'list-failing', 'list failing');
    expect(w.sync().nodes.lastError).toBe('list: no answer within 300 ms (--api-timeout)');
    expect(w.ready()).toBe(false);
    await until(() => w!.ready(), 'synced after the retry');
    expect(state.ledger.nodes.has('n1')).toBe(true);
  });

  it('a watch whose connection never answers fails at --api-timeout instead of waiting forever', async () => {
    api.upsertNode(node('n1'));
    api.inject({ path: '/api/v1/pods', watch: true, times: 1 }, { kind: 'hang' });
    const state = new ClusterState({ config: defaultConfig() });
    w = startClusterWatch(api.kubeConfig(), { sink: state, logger, resyncPeriodMs: 60_000, apiTimeoutMs: 300, backoffInitialMs: 50, backoffMaxMs: 100 });
    await until(() => w!.sync().pods.phase === 'watch-failing', 'pods watch failing');
    expect(w.sync().pods.lastError).toMatch(/^watch: network timeout/);
    await until(() => w!.ready() && api.openWatches === 2, 'watching again');
    api.upsertPod(pod('a', 'uid-a', 8, 'n1'));
    await until(() => state.ledger.pods.has('uid-a'), 'events flow');
  });
});
