// GET /api/ledger and /api/ledger/nodes/{name} over loopback on the demo cluster: every dimension a
// node's mode accounts, the pods behind the use (bound, reserved, exclusive), filters, paging and
// its bounds, and the errors for bad parameters.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.js';
import type { LedgerView, NodeDetail, NodeView } from '../../src/explain/ledger-view.js';
import { parseYaml } from '../../src/model/yaml.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';
import { serve } from './harness.js';

const GiB = 2 ** 30;

async function get<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

function node(v: LedgerView, name: string): NodeView {
  const n = v.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`${name} not in the view: ${v.nodes.map((x) => x.name).join(', ')}`);
  return n;
}

describe('the ledger view (GET /api/ledger)', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve(['examples/demo-cluster.yaml']);
    // A reservation (bind reserved, Binding not confirmed yet) and an exclusive pod, both on homelab-3090.
    const pipeline = new Pipeline(s.state);
    const pod = (file: string, name: string, uid: string) => {
      const p = parseYaml(readFileSync(`examples/pods/${file}`, 'utf8')) as { metadata: Record<string, unknown> };
      p.metadata = { ...p.metadata, name, uid };
      return s.state.parse(p);
    };
    expect(pipeline.reserve(pod('t4-exclusive.yaml', 'excl-job', 'u-excl'), 'homelab-3090').ok).toBe(true);
  });
  afterAll(() => s.close());

  it('shows every node and GPU with the dimensions its mode accounts, and the pods on each GPU', async () => {
    const { status, body: v } = await get<LedgerView>(`${s.statusUrl}/api/ledger`);
    expect(status).toBe(200);
    expect(v.ready).toBe(true);
    expect(v.totals).toEqual({ gpuNodes: 10, cpuNodes: 1, problemNodes: 0, gpus: 27, pods: { bound: 6, reserved: 1, cpuOnly: 0 } });
    expect(v.nodes.map((n) => n.name)).toEqual([...v.nodes.map((n) => n.name)].sort());
    // MPS (GB10): replicas, memory, threads (a 0..1 ratio), clients.
    const spark = node(v, 'spark-01').gpus[0];
    expect(spark.dimensions.map((d) => [d.name, d.used, d.capacity, d.free])).toEqual([
      ['replicas', 1, 10, 9],
      ['memory', 64 * GiB, 128 * GiB, 64 * GiB],
      ['threads', 0.5, 1, 0.5],
      ['clients', 1, 48, 47],
    ]);
    expect(spark.dimensions[1].text).toBe('64Gi / 128Gi');
    expect(spark.pods).toEqual([expect.objectContaining({ namespace: 'ai', name: 'llama-70b', state: 'bound', exclusive: false, memoryBytes: 64 * GiB, threads: 0.5 })]);
    // Time-slicing: replicas and declared memory; no threads or clients.
    const t4 = node(v, 't4-01').gpus[0];
    expect(t4.dimensions.map((d) => [d.name, d.used, d.capacity])).toEqual([
      ['replicas', 1, 8],
      ['memory', 4 * GiB, 15 * GiB],
    ]);
    // MIG: instances per profile.
    const mig = node(v, 'a100-mig-01');
    expect(mig.gpus[0].dimensions.map((d) => [d.name, d.profile, d.used, d.capacity])).toEqual([
      ['mig', '3g.40gb', 1, 1],
      ['mig', '2g.20gb', 0, 2],
    ]);
    expect(mig.gpus[0].pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['production/llm-prod-0']);
    // Aggregate MPS: the 10 replicas of batch-embed spread over the 4 GPUs (distributed).
    const agg = node(v, 'mps-agg-01');
    expect(agg.gpus.map((g) => g.dimensions[0].used)).toEqual([3, 3, 2, 2]);
    expect(agg.gpus.every((g) => g.pods[0]?.name === 'batch-embed')).toBe(true);
    // The reserved exclusive pod, on the idle GPU of homelab-3090.
    const home = node(v, 'homelab-3090');
    const excl = home.gpus.find((g) => g.pods.some((p) => p.name === 'excl-job'))!;
    expect(excl.exclusive).toBe(true);
    expect(excl.pods).toEqual([expect.objectContaining({ state: 'reserved', exclusive: true })]);
    expect(home.pods).toEqual({ bound: 1, reserved: 1, cpuOnly: 0 });
    // Fragmentation is the scorer's measure; free capacity is the rules' own.
    expect(node(v, 'mps-ind-01').fragmentation.freeGpus).toBe(4);
    expect(node(v, 'a100-mig-01').fragmentation).toEqual({ unusableGpus: 0, freeGpus: 0 });
    expect(node(v, 'spark-01').room).toBe('on GPU 0: 9 replica(s) of nvidia.com/gpu, 64Gi, 50% threads');
    expect(v.facets).toEqual({ pools: [], modes: ['mig', 'mps', 'time-slicing'], namespaces: ['ai', 'ml', 'production', 'research'], namespacesTruncated: false });
  });

  it('filters by node, mode and namespace (only that namespace\'s pods) and pages by name', async () => {
    const names = async (q: string) => (await get<LedgerView>(`${s.statusUrl}/api/ledger?${q}`)).body.nodes.map((n) => n.name);
    expect(await names('node=MIG')).toEqual(['a100-mig-01', 'a100-mig-large-01', 'a100-mig-small-01']);
    expect(await names('mode=time-slicing')).toEqual(['a100-ts-01', 'h100-ts-01', 'homelab-3090', 't4-01']);
    const research = (await get<LedgerView>(`${s.statusUrl}/api/ledger?namespace=research`)).body;
    expect(research.nodes.map((n) => n.name)).toEqual(['a100-ts-01', 'homelab-3090', 't4-01']);
    const pods = research.nodes.flatMap((n) => n.gpus.flatMap((g) => g.pods.map((p) => p.namespace)));
    expect(new Set(pods)).toEqual(new Set(['research']));
    const p1 = (await get<LedgerView>(`${s.statusUrl}/api/ledger?limit=4`)).body;
    const p2 = (await get<LedgerView>(`${s.statusUrl}/api/ledger?limit=4&offset=${p1.nextOffset}`)).body;
    const p3 = (await get<LedgerView>(`${s.statusUrl}/api/ledger?limit=4&offset=${p2.nextOffset}`)).body;
    expect([p1.nextOffset, p2.nextOffset, p3.nextOffset, p3.matched]).toEqual([4, 8, null, 10]);
    expect([...p1.nodes, ...p2.nodes, ...p3.nodes].map((n) => n.name)).toEqual((await get<LedgerView>(`${s.statusUrl}/api/ledger`)).body.nodes.map((n) => n.name));
  });

  it('refuses bad parameters with a 400 naming the parameter and the value', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'limit "0" must be a whole number from 1 to 500'],
      ['limit=501', 'limit "501" must be a whole number from 1 to 500'],
      ['offset=-1', 'offset "-1" must be a whole number'],
      ['mode=vgpu', 'mode "vgpu" is not one of mps, time-slicing, mig, none'],
      ['pool=dgx', 'pool "dgx" is not a pool of the config file (it defines none)'],
      ['nodes=spark', 'unknown query parameter "nodes"'],
      ['node=a&node=b', 'node must be given once'],
      [`namespace=${'x'.repeat(300)}`, 'namespace "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" is longer than 253 characters'],
    ];
    for (const [q, message] of cases) {
      const { status, body } = await get<{ Error: string }>(`${s.statusUrl}/api/ledger?${q}`);
      expect(status, q).toBe(400);
      expect(body.Error, q).toContain(message);
    }
  });

  it('GET /api/ledger/nodes/{name}: every pod, free room per GPU and the inventory settings', async () => {
    const { status, body: n } = await get<NodeDetail>(`${s.statusUrl}/api/ledger/nodes/spark-01`);
    expect(status).toBe(200);
    expect(n.roomPerGpu).toEqual([expect.objectContaining({ gpu: 0, memoryBytes: 64 * GiB, threadMilli: 500, replicas: 9, clients: 47 })]);
    expect(n.inventory).toEqual(expect.objectContaining({ memorySource: 'annotation', resource: 'nvidia.com/gpu', mpsDaemonLimits: false }));
    const missing = await get<{ Error: string }>(`${s.statusUrl}/api/ledger/nodes/cpu-01`);
    expect([missing.status, missing.body.Error]).toEqual([404, 'node "cpu-01" is not a GPU node in the ledger']);
  });
});

describe('the ledger view on a large cluster, with pools, problems and overcommit', () => {
  let s: RunningServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ledger-view-'));
    const items: unknown[] = [];
    // 1,200 small MPS nodes: a page is bounded whatever the cluster's size.
    for (let i = 0; i < 1200; i++) {
      items.push({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: `n-${String(i).padStart(4, '0')}`, labels: { 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.memory': '16384', 'nvidia.com/gpu.replicas': '4', 'nvidia.com/gpu.sharing-strategy': 'mps', pool: i % 2 ? 'odd' : 'even' } },
        status: { allocatable: { cpu: '8', 'nvidia.com/gpu': '4' } },
      });
    }
    // A node whose memory annotation is unusable (a node problem) and a GB10 overcommitted by hand-bound pods.
    items.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'zz-broken', labels: { 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.replicas': '2', 'nvidia.com/gpu.sharing-strategy': 'mps' }, annotations: { 'gpu-ledger.io/gpu-memory': 'lots' } }, status: { allocatable: { 'nvidia.com/gpu': '2' } } });
    items.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'zz-spark', labels: { 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.replicas': '10', 'nvidia.com/gpu.sharing-strategy': 'mps' }, annotations: { 'gpu-ledger.io/gpu-memory': '128Gi' } }, status: { allocatable: { 'nvidia.com/gpu': '10' } } });
    for (let i = 0; i < 3; i++) {
      items.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `big-${i}`, namespace: 'hand', uid: `u-big-${i}` },
        spec: { nodeName: 'zz-spark', containers: [{ name: 'c', env: [{ name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: '0=64G' }], resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
        status: { phase: 'Running' },
      });
    }
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    writeFileSync(join(dir, 'config.yaml'), 'pools:\n  - {name: even-pool, selector: {matchLabels: {pool: even}}, tier: small}\n  - {name: all-mps, selector: {matchExpressions: [{key: nvidia.com/gpu.sharing-strategy, operator: In, values: [mps]}]}}\n');
    const { loadConfigFile } = await import('../../src/model/config.js');
    s = await serve([join(dir, 'cluster.json')], { config: loadConfigFile(join(dir, 'config.yaml')) });
  });
  afterAll(() => s.close());

  it('answers a bounded page, and filters by pool (the first matching pool of the config)', async () => {
    const v = (await get<LedgerView>(`${s.statusUrl}/api/ledger`)).body;
    expect([v.matched, v.nodes.length, v.nextOffset, v.limit]).toEqual([1202, 100, 100, 100]);
    const big = (await get<LedgerView>(`${s.statusUrl}/api/ledger?limit=500&offset=1000`)).body;
    expect([big.nodes.length, big.nextOffset]).toEqual([202, null]);
    const even = (await get<LedgerView>(`${s.statusUrl}/api/ledger?pool=even-pool&limit=500`)).body;
    expect(even.matched).toBe(600);
    expect(even.nodes.every((n) => n.pool === 'even-pool' && n.tier === 'small')).toBe(true);
    const rest = (await get<LedgerView>(`${s.statusUrl}/api/ledger?pool=all-mps&limit=500`)).body;
    expect(rest.matched).toBe(602); // odd nodes, zz-broken and zz-spark: even ones matched even-pool first
    expect(v.facets.pools).toEqual(['even-pool', 'all-mps']);
    const bad = await get<{ Error: string }>(`${s.statusUrl}/api/ledger?pool=gone`);
    expect(bad.body.Error).toBe('pool "gone" is not a pool of the config file (even-pool, all-mps)');
  });

  it('shows node problems and capacity in use beyond what a node has', async () => {
    const v = (await get<LedgerView>(`${s.statusUrl}/api/ledger?node=zz-`)).body;
    const broken = node(v, 'zz-broken');
    expect(broken.problems.join('\n')).toContain('gpu-ledger.io/gpu-memory');
    expect(broken.problems.join('\n')).toContain('"lots"');
    const spark = node(v, 'zz-spark');
    expect(spark.overcommitted).toBe(true);
    const mem = spark.gpus[0].dimensions.find((d) => d.name === 'memory')!;
    expect(mem.used).toBeGreaterThan(mem.capacity);
    expect(spark.problems.some((p) => p.startsWith('overcommitted: GPU 0 memory'))).toBe(true);
    expect(v.totals.problemNodes).toBe(1);
  });
});
