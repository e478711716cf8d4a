// Contract tests: the captured kube-scheduler 1.30 requests and the seed scenarios, over real HTTP.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.js';
import { parseYaml } from '../../src/model/yaml.js';
import { post, serve } from './harness.js';

const fixture = (f: string) => JSON.parse(readFileSync(`test/fixtures/kube-scheduler-1.30/${f}`, 'utf8')) as Record<string, unknown>;
const FILTER_KEYS = ['Error', 'FailedAndUnresolvableNodes', 'FailedNodes', 'NodeNames', 'Nodes'];

function expectFilterShape(reply: unknown, requested: string[], mode: 'names' | 'nodes'): { passed: string[]; r: Record<string, unknown> } {
  const r = reply as Record<string, unknown>;
  expect(Object.keys(r).sort()).toEqual(FILTER_KEYS);
  expect(r.Error).toBe('');
  expect(r.FailedNodes).toBeTypeOf('object');
  expect(r.FailedAndUnresolvableNodes).toBeTypeOf('object');
  let passed: string[];
  if (mode === 'names') {
    expect(Array.isArray(r.NodeNames)).toBe(true); // [] not null
    expect(r.Nodes).toBeNull();
    passed = r.NodeNames as string[];
  } else {
    expect(r.NodeNames).toBeNull();
    const items = (r.Nodes as { items: { metadata: { name: string } }[] }).items;
    expect(Array.isArray(items)).toBe(true);
    passed = items.map((n) => n.metadata.name);
  }
  const failed = [...Object.keys(r.FailedNodes as object), ...Object.keys(r.FailedAndUnresolvableNodes as object)];
  for (const n of [...passed, ...failed]) expect(requested).toContain(n); // names ⊆ request
  expect(new Set([...passed, ...failed]).size).toBe(requested.length); // every node accounted for once
  return { passed, r };
}

function expectPriorities(reply: unknown, requested: string[]): Map<string, number> {
  expect(Array.isArray(reply)).toBe(true);
  const list = reply as { Host: string; Score: number }[];
  expect(list.map((h) => h.Host).sort()).toEqual([...requested].sort());
  for (const h of list) {
    expect(Object.keys(h).sort()).toEqual(['Host', 'Score']);
    expect(Number.isInteger(h.Score)).toBe(true);
    expect(h.Score).toBeGreaterThanOrEqual(0);
    expect(h.Score).toBeLessThanOrEqual(10);
  }
  return new Map(list.map((h) => [h.Host, h.Score]));
}

describe('captured kube-scheduler 1.30 requests', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve(['test/fixtures/rig-cluster.yaml']);
  });
  afterAll(() => s.close());

  it('filter, NodeNames mode: every node passes, reply carries NodeNames', async () => {
    const body = fixture('filter-nodenames.json');
    const res = await post(`${s.url}/filter`, body);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/application\/json/);
    const { passed } = expectFilterShape(res.json, body.NodeNames as string[], 'names');
    expect(passed.sort()).toEqual(['rig-node-0000', 'rig-node-0001', 'rig-node-0002']);
  });

  it('filter, full Nodes mode: reply carries the passing Node objects', async () => {
    const body = fixture('filter-full-nodes.json');
    const names = (body.Nodes as { items: { metadata: { name: string } }[] }).items.map((n) => n.metadata.name);
    const res = await post(`${s.url}/filter`, body);
    expect(res.status).toBe(200);
    const { passed } = expectFilterShape(res.json, names, 'nodes');
    expect(passed.sort()).toEqual([...names].sort());
  });

  it('prioritize in both modes: integer scores 0..10 for exactly the requested hosts', async () => {
    for (const f of ['prioritize-nodenames.json', 'prioritize-full-nodes.json']) {
      const body = fixture(f);
      const names = (body.NodeNames as string[] | null) ?? (body.Nodes as { items: { metadata: { name: string } }[] }).items.map((n) => n.metadata.name);
      const res = await post(`${s.url}/prioritize`, body);
      expect(res.status).toBe(200);
      expectPriorities(res.json, names);
    }
  });

  it('bind: a pod filter never saw gets an Error; after filter it binds, idempotently', async () => {
    const bind = fixture('bind.json');
    const first = await post(`${s.url}/bind`, bind);
    expect(first.status).toBe(200);
    expect((first.json as { Error: string }).Error).toMatch(/not seen by filter/);
    const filter = fixture('filter-nodenames.json') as { Pod: { metadata: Record<string, unknown> } };
    filter.Pod.metadata = { ...filter.Pod.metadata, uid: bind.PodUID, name: bind.PodName };
    await post(`${s.url}/filter`, filter);
    for (let i = 0; i < 2; i++) {
      const res = await post(`${s.url}/bind`, bind);
      expect(res.json).toEqual({ Error: '' });
    }
    const allocs = [...s.state.ledger.pods.values()].filter((a) => a.uid === bind.PodUID);
    expect(allocs).toHaveLength(1);
    expect(allocs[0].node).toBe('rig-node-0000');
  });
});

describe('seed scenarios over HTTP (demo cluster)', () => {
  let s: RunningServer;
  const demoNodes = ['spark-01', 'mps-agg-01', 'mps-ind-01', 'a100-mig-01', 'a100-mig-small-01', 'a100-mig-large-01', 'a100-ts-01', 'h100-ts-01', 't4-01', 'homelab-3090', 'cpu-01'];
  const pod = (file: string, uid?: string) => {
    const p = parseYaml(readFileSync(`examples/pods/${file}`, 'utf8')) as { metadata: Record<string, unknown> };
    if (uid) p.metadata = { ...p.metadata, uid, name: `${String(p.metadata.name)}-${uid}` };
    return p;
  };
  const filter = async (p: unknown, names = demoNodes) => {
    const res = await post(`${s.url}/filter`, { Pod: p, Nodes: null, NodeNames: names });
    expect(res.status).toBe(200);
    return expectFilterShape(res.json, names, 'names');
  };
  beforeAll(async () => {
    s = await serve(['examples/demo-cluster.yaml']);
  });
  afterAll(() => s.close());

  it('GB10: bind a second 64G pod, then a third is rejected for MPS memory (unresolvable)', async () => {
    const a = pod('large-mps.yaml', 'http-a');
    expect((await filter(a)).passed).toContain('spark-01');
    expect((await post(`${s.url}/bind`, { PodName: 'large-mps-http-a', PodNamespace: 'ai', PodUID: 'http-a', Node: 'spark-01' })).json).toEqual({ Error: '' });
    const { passed, r } = await filter(pod('large-mps.yaml', 'http-b'));
    expect(passed).not.toContain('spark-01');
    expect((r.FailedAndUnresolvableNodes as Record<string, string>)['spark-01']).toBe('gpu-ledger: MPS memory overcommit (pod needs 64Gi on one GPU)');
    // The explain API knows the bound pod by name: where it is, and the full analysis of the other nodes.
    const ex = await fetch(`${s.statusUrl}/explain/ai/large-mps-http-a`);
    expect(ex.status).toBe(200);
    const e = (await ex.json()) as { placedOn: string; state: string; nodes: { node: string; placed: string | null; fits: boolean; reasons: unknown[] }[] };
    expect(e).toMatchObject({ placedOn: 'spark-01', state: 'bound' });
    expect(e.nodes[0]).toMatchObject({ node: 'spark-01', placed: 'bound' });
    expect(e.nodes.length).toBe(demoNodes.filter((n) => n !== 'cpu-01').length);
    expect(e.nodes.find((n) => n.node === 't4-01')).toMatchObject({ fits: false });
    // ?format=text works on this route too.
    const text = await (await fetch(`${s.statusUrl}/explain/ai/large-mps-http-a?format=text`)).text();
    expect(text).toContain('pod ai/large-mps-http-a (bound on spark-01)');
    expect(text).toContain('SCORE: what prioritize sends kube-scheduler');
  });

  it('explain\'s scores are prioritize\'s: the same nodes get the same 0..10', async () => {
    const p = pod('small-mps.yaml', 'same-score');
    const gpuNodes = demoNodes.filter((n) => n !== 'cpu-01');
    const { passed } = await filter(p);
    const prio = (await post(`${s.url}/prioritize`, { Pod: p, Nodes: null, NodeNames: passed })).json as { Host: string; Score: number }[];
    const ex = (await (await fetch(`${s.statusUrl}/explain`, { method: 'POST', body: JSON.stringify(p) })).json()) as { nodes: { node: string; fits: boolean; score: { score: number } | null }[] };
    expect(ex.nodes.map((n) => n.node).sort()).toEqual([...gpuNodes].sort());
    const explained = Object.fromEntries(ex.nodes.filter((n) => n.fits).map((n) => [n.node, n.score!.score]));
    expect(explained).toEqual(Object.fromEntries(prio.map((h) => [h.Host, h.Score])));
    // Ranked across the candidates: the best gets 10, and no two nodes share a score (every rating
    // differs here, if only by the node order).
    expect(passed.length).toBeGreaterThan(2);
    expect(Math.max(...prio.map((h) => h.Score))).toBe(10);
    expect(new Set(prio.map((h) => h.Score)).size).toBe(prio.length);
  });

  it('invalid GPU spec: every node unresolvable, with the container, variable and value', async () => {
    const { passed, r } = await filter(pod('invalid-env.yaml'));
    expect(passed).toEqual([]);
    const reasons = r.FailedAndUnresolvableNodes as Record<string, string>;
    expect(Object.keys(reasons).sort()).toEqual([...demoNodes].sort());
    expect(reasons['spark-01']).toContain('container "inference"');
    expect(reasons['spark-01']).toContain('0=lots');
  });

  it('a pod without GPU resources passes every node unchanged, even unknown names', async () => {
    const plain = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'd', uid: 'web-1' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
    const names = [...demoNodes, 'not-a-node'];
    const { passed } = await filter(plain, names);
    expect(passed).toEqual(names);
  });

  it('unknown node names are unresolvable with a clear reason', async () => {
    const { r } = await filter(pod('small-mps.yaml'), ['spark-01', 'ghost-7']);
    expect((r.FailedAndUnresolvableNodes as Record<string, string>)['ghost-7']).toBe('node unknown to gpu-ledger');
  });

  it('replies are UTF-8 whatever the characters (the ASCII fast path must not mangle others)', async () => {
    const names = ['ghost-9', 'nœud-ü-7', 'ノード'];
    const { r } = await filter(pod('small-mps.yaml'), names);
    const failed = r.FailedAndUnresolvableNodes as Record<string, string>;
    expect(Object.keys(failed).sort()).toEqual([...names].sort());
    expect(failed['ノード']).toBe('node unknown to gpu-ledger');
  });

  it('T4: an exclusive job is rejected while notebook-a runs', async () => {
    const { r } = await filter(pod('t4-exclusive.yaml'));
    expect((r.FailedAndUnresolvableNodes as Record<string, string>)['t4-01']).toBe('gpu-ledger: exclusive pod needs an idle GPU');
  });

  it('prioritize ranks the small-tier MIG pool first for a 9Gi model', async () => {
    const names = ['a100-mig-small-01', 'a100-mig-large-01'];
    const res = await post(`${s.url}/prioritize`, { Pod: pod('mig-small-model.yaml'), Nodes: null, NodeNames: names });
    const scores = expectPriorities(res.json, names);
    expect(scores.get('a100-mig-small-01')!).toBeGreaterThan(scores.get('a100-mig-large-01')!);
  });

  it('preempt keeps only nodes where evicting the victims frees enough', async () => {
    const big = pod('large-mps.yaml', 'pre-1');
    // On spark-01 the running 70B pod (and, after the first test, http-a) hold 128Gi.
    const victims = [...s.state.ledger.pods.values()].filter((a) => a.node === 'spark-01').map((a) => ({ UID: a.uid }));
    const res = await post(`${s.url}/preempt`, {
      Pod: big,
      NodeNameToVictims: null,
      NodeNameToMetaVictims: {
        'spark-01': { Pods: victims.slice(0, 1), NumPDBViolations: 0 },
        't4-01': { Pods: [{ UID: '7b2e1d0f-1004-4000-8000-000000000004' }], NumPDBViolations: 0 },
        'ghost-7': { Pods: [], NumPDBViolations: 0 },
      },
    });
    expect(res.status).toBe(200);
    const kept = (res.json as { NodeNameToMetaVictims: Record<string, unknown> }).NodeNameToMetaVictims;
    // Evicting one 64G pod from a full GB10 makes room; t4-01 has 15Gi, never enough for 64Gi.
    expect(Object.keys(kept)).toEqual(['spark-01']);
  });

  it('explain over HTTP: POST YAML, JSON and text forms agree with the CLI content', async () => {
    const yamlBody = readFileSync('examples/pods/large-mps.yaml', 'utf8');
    const res = await fetch(`${s.statusUrl}/explain`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yamlBody });
    expect(res.status).toBe(200);
    const e = (await res.json()) as { nodes: { node: string; fits: boolean }[]; summary: string };
    expect(e.nodes.find((n) => n.node === 'spark-01')).toBeDefined();
    const text = await (await fetch(`${s.statusUrl}/explain?format=text`, { method: 'POST', body: yamlBody })).text();
    expect(text).toContain('NODE');
    expect(text).toContain(e.summary);
    const missing = await fetch(`${s.statusUrl}/explain/ai/never-heard-of`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toHaveProperty('Error');
  });

  it('health, readiness and metrics', async () => {
    expect((await fetch(`${s.statusUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.statusUrl}/readyz`)).status).toBe(200);
    const m = await (await fetch(`${s.statusUrl}/metrics`)).text();
    expect(m).toMatch(/gpu_ledger_request_duration_seconds_bucket\{le="0.00005",verb="filter"\}/);
    expect(m).toMatch(/gpu_ledger_gpu_memory_allocated_bytes\{node="spark-01",gpu="0"\} \d+/);
    expect(m).toMatch(/gpu_ledger_gpu_threads_capacity_ratio\{node="spark-01",gpu="0"\} 1\n/);
    expect(m).toMatch(/gpu_ledger_mig_instances_capacity\{node="a100-mig-01",gpu="0",profile="3g.40gb"\} 1/);
    expect(m).toMatch(/gpu_ledger_rejections_total\{reason="mps-memory"\} \d+/);
    expect(m).toMatch(/gpu_ledger_pods\{state="bound"\} \d+/);
    // Standard process metrics keep their standard names (stock dashboards expect process_*).
    expect(m).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(m).not.toMatch(/gpu_ledger_process_|gpu_ledger_nodejs_/);
    // Per-pod series are opt-in (--pod-metrics).
    expect(m).not.toContain('gpu_ledger_pod_');
  });
});
