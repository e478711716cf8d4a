// kubectl gpu-ledger: offline against the demo snapshot, against a running gpu-ledger over loopback
// (--server), and through an API server's service proxy path with a kubeconfig (a loopback stand-in
// that checks the path and the credentials, then forwards like kube-apiserver does; the real API
// server's answers are in test/e2e/ledger-live.test.ts). Also the built executable.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlMain } from '../../src/cli/kubectl/main.js';
import { DEFAULT_NAMESPACE, DEFAULT_SERVICE, proxyPrefix } from '../../src/cli/kubectl/http-source.js';
import type { RunningServer } from '../../src/cli/serve.js';
import type { LedgerView } from '../../src/explain/ledger-view.js';
import { parseYaml } from '../../src/model/yaml.js';
import { serve } from '../server/harness.js';

const SNAP = ['--snapshot', 'examples/demo-cluster.yaml'];

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await kubectlMain(args, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

/** The view without its timestamp: equal views from different sources compare equal. */
function strip(v: LedgerView): Omit<LedgerView, 'generatedAt'> {
  const { generatedAt: _t, ...rest } = v;
  return rest;
}

describe('kubectl gpu-ledger, offline (--snapshot)', () => {
  it('top: a row per node and GPU with used/total per accounted dimension', async () => {
    const r = await run(['top', ...SNAP]);
    expect([r.code, r.err]).toEqual([0, '']);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['NODE', 'GPU', 'MODE', 'REPLICAS', 'MEMORY', 'THREADS', 'MIG', 'PODS', 'EXCLUSIVE', 'PROBLEMS']);
    expect(lines).toHaveLength(1 + 27);
    const row = (node: string, gpu: number) => lines.find((l) => l.startsWith(`${node} `) && l.split(/\s+/)[1] === String(gpu))!.split(/\s{2,}/);
    expect(row('spark-01', 0)).toEqual(['spark-01', '0', 'mps', '1/10', '64Gi/128Gi', '50%/100%', '-', '1', '-', '-']);
    expect(row('t4-01', 0)).toEqual(['t4-01', '0', 'time-slicing', '1/8', '4Gi/15Gi', '-', '-', '1', '-', '-']);
    expect(row('a100-mig-01', 0)).toEqual(['a100-mig-01', '0', 'mig', '-', '-', '-', '3g.40gb:1/1,2g.20gb:0/2', '1', '-', '-']);
  });

  it('top -o wide adds model, pool, tier, clients, fragmentation and pod names; filters narrow it', async () => {
    const r = await run(['top', ...SNAP, '-o', 'wide', '--node', 'spark']);
    const [head, row] = r.out.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
    expect(head).toEqual(['NODE', 'GPU', 'MODE', 'MODEL', 'POOL', 'TIER', 'REPLICAS', 'MEMORY', 'THREADS', 'CLIENTS', 'MIG', 'PODS', 'EXCLUSIVE', 'PROBLEMS', 'FRAG', 'POD NAMES']);
    expect(row.slice(0, 10)).toEqual(['spark-01', '0', 'mps', 'NVIDIA-GB10', '-', 'large', '1/10', '64Gi/128Gi', '50%/100%', '1/48']);
    expect(row[15]).toBe('ai/llama-70b');
    const research = await run(['top', ...SNAP, '-n', 'research', '--mode', 'time-slicing']);
    expect(new Set(research.out.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0]))).toEqual(new Set(['a100-ts-01', 't4-01']));
  });

  it('-o json and -o yaml are the ledger view; ledger dumps every pod', async () => {
    const json = JSON.parse((await run(['top', ...SNAP, '-o', 'json'])).out) as LedgerView;
    const yaml = parseYaml((await run(['top', ...SNAP, '-o', 'yaml'])).out) as LedgerView;
    expect(strip(yaml)).toEqual(strip(json));
    expect(json.nodes).toHaveLength(10);
    const dump = parseYaml((await run(['ledger', ...SNAP])).out) as LedgerView;
    expect(dump.nodes.flatMap((n) => n.gpus.flatMap((g) => g.pods.map((p) => `${p.namespace}/${p.name}`))).sort()).toEqual(['ai/llama-70b', 'ai/ollama', 'ml/batch-embed', 'ml/batch-embed', 'ml/batch-embed', 'ml/batch-embed', 'production/llm-prod-0', 'research/finetune-1', 'research/notebook-a']);
  });

  it('explain by name or file: exit 0 when it fits somewhere, 1 when nowhere; usage errors exit 2', async () => {
    const byName = await run(['explain', 'ai/llama-70b', ...SNAP]);
    expect([byName.code, byName.out.split('\n')[0]]).toEqual([0, 'pod ai/llama-70b (bound on spark-01)']);
    const dashN = await run(['explain', 'llama-70b', '-n', 'ai', ...SNAP, '-o', 'json']);
    expect((JSON.parse(dashN.out) as { placedOn: string }).placedOn).toBe('spark-01');
    const file = await run(['explain', '-f', 'examples/pods/large-mps.yaml', ...SNAP]);
    expect([file.code, file.out.split('\n')[0]]).toEqual([0, 'pod ai/large-mps']);
    const dir = mkdtempSync(join(tmpdir(), 'plugin-'));
    writeFileSync(join(dir, 'huge.yaml'), 'kind: Pod\nmetadata: {name: huge, namespace: ai}\nspec:\n  containers:\n  - name: c\n    env: [{name: CUDA_MPS_PINNED_DEVICE_MEM_LIMIT, value: "0=200G"}]\n    resources: {limits: {nvidia.com/gpu: "1"}}\n');
    expect((await run(['explain', '-f', join(dir, 'huge.yaml'), ...SNAP])).code).toBe(1);
    expect(await run(['explain', 'ai/nobody', ...SNAP])).toEqual({ code: 1, out: '', err: 'kubectl gpu-ledger explain: pod ai/nobody is not known to gpu-ledger (POST it to /explain instead)\n' });
    expect(await run(['explain', ...SNAP])).toMatchObject({ code: 2, err: expect.stringContaining('explain needs one pod') });
    expect(await run(['top', ...SNAP, '-o', 'xml'])).toMatchObject({ code: 2, err: 'kubectl gpu-ledger top: -o "xml" must be one of table, wide, json, yaml\n' });
    expect(await run(['top', ...SNAP, '--nodes', 'x'])).toMatchObject({ code: 2, err: 'kubectl gpu-ledger top: unknown flag --nodes for kubectl gpu-ledger top; did you mean --node? (see kubectl gpu-ledger top --help)\n' });
    expect(await run(['top', ...SNAP, '--server', 'http://127.0.0.1:1'])).toMatchObject({ code: 2, err: expect.stringContaining('choose one source') });
    expect(await run(['frob'])).toMatchObject({ code: 2, err: expect.stringContaining('unknown command "frob"') });
  });
});

describe('kubectl gpu-ledger against a running gpu-ledger', () => {
  let s: RunningServer;
  let proxy: http.Server;
  let proxyUrl: string;
  let kubeconfig: string;
  const seen: { path: string; auth: string | undefined }[] = [];
  let refuse: { status: number; body: unknown } | null = null;

  beforeAll(async () => {
    s = await serve(['examples/demo-cluster.yaml']);
    // A stand-in for kube-apiserver's service proxy: the path and the bearer token are checked, then
    // the request goes to the status port with the prefix removed (what the API server does). Plain
    // HTTP, so the kubeconfig says insecure-skip-tls-verify (client-node refuses http:// otherwise).
    const prefix = proxyPrefix(DEFAULT_NAMESPACE, DEFAULT_SERVICE) + '/';
    proxy = http.createServer((req, res) => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization });
      const status = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (refuse) return status(refuse.status, refuse.body);
      if (req.headers.authorization !== 'Bearer secret-token') return status(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
      if (!req.url?.startsWith(prefix)) return status(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', code: 404 });
      const upstream = http.request(`${s.statusUrl}/${req.url.slice(prefix.length)}`, { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? '' } }, (u) => {
        res.writeHead(u.statusCode ?? 502, { 'content-type': u.headers['content-type'] ?? '' });
        u.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    kubeconfig = join(mkdtempSync(join(tmpdir(), 'kubeconfig-')), 'config');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${proxyUrl}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: secret-token}}, {name: nobody, user: {token: wrong}}]\ncontexts: [{name: ctx, context: {cluster: c, user: u}}, {name: other, context: {cluster: c, user: nobody}}]\ncurrent-context: ctx\n`,
    );
  });
  afterAll(async () => {
    proxy?.close();
    await s?.close();
  });

  it('--server: the same answers as offline on the same snapshot', async () => {
    for (const args of [['top'], ['top', '-o', 'wide', '-n', 'ai'], ['explain', 'ai/llama-70b'], ['explain', '-f', 'examples/pods/large-mps.yaml']]) {
      const live = await run([...args, '--server', s.statusUrl]);
      const offline = await run([...args, ...SNAP]);
      expect(live, args.join(' ')).toEqual(offline);
    }
    const json = JSON.parse((await run(['ledger', '-o', 'json', '--server', s.statusUrl])).out) as LedgerView;
    expect(strip(json)).toEqual(strip(JSON.parse((await run(['ledger', '-o', 'json', ...SNAP])).out) as LedgerView));
    // gpu-ledger's own refusal, named as such.
    expect(await run(['top', '--server', s.statusUrl, '--pool', 'x'])).toEqual({ code: 2, out: '', err: 'kubectl gpu-ledger top: gpu-ledger: pool "x" is not a pool of the config file (it defines none)\n' });
    expect(await run(['top', '--server', 'http://127.0.0.1:1'])).toMatchObject({ code: 1, err: expect.stringMatching(/^kubectl gpu-ledger top: cannot reach http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/) });
  });

  it('through the service proxy with the kubeconfig: the path of the shipped Service, the user\'s credentials', async () => {
    seen.length = 0;
    const viaProxy = await run(['top', '--kubeconfig', kubeconfig]);
    expect(viaProxy).toEqual(await run(['top', ...SNAP]));
    expect(seen).toEqual([{ path: '/api/v1/namespaces/gpu-ledger/services/gpu-ledger-metrics:metrics/proxy/api/ledger?limit=500', auth: 'Bearer secret-token' }]);
    const e = await run(['explain', '-f', 'examples/pods/large-mps.yaml', '--kubeconfig', kubeconfig]);
    expect([e.code, e.out.split('\n')[0]]).toEqual([0, 'pod ai/large-mps']);
    expect(await run(['top', '--kubeconfig', kubeconfig, '--context', 'other'])).toEqual({ code: 1, out: '', err: "kubectl gpu-ledger top: the API server refused your kubeconfig's credentials (Unauthorized)\n" });
    expect(await run(['top', '--kubeconfig', kubeconfig, '--context', 'nope'])).toMatchObject({ code: 2, err: expect.stringContaining('--context "nope" is not in the kubeconfig (contexts: ctx, other)') });
  });

  it('says what the API server\'s refusals mean: no endpoints, no Service, RBAC', async () => {
    const status = (code: number, reason: string, message: string) => ({ status: code, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code } });
    const cases: [ReturnType<typeof status>, string][] = [
      [status(503, 'ServiceUnavailable', 'no endpoints available for service "gpu-ledger-metrics"'), 'Service gpu-ledger/gpu-ledger-metrics has no ready endpoints (no endpoints available for service "gpu-ledger-metrics"): is gpu-ledger running? (kubectl -n gpu-ledger get pods)'],
      [status(404, 'NotFound', 'services "gpu-ledger-metrics" not found'), 'the API server has no Service gpu-ledger/gpu-ledger-metrics (services "gpu-ledger-metrics" not found): is gpu-ledger deployed there?'],
      [status(403, 'Forbidden', 'services "gpu-ledger-metrics" is forbidden: User "alice" cannot get resource "services/proxy"'), 'reading gpu-ledger needs "get" on services/proxy in namespace gpu-ledger'],
    ];
    try {
      for (const [answer, message] of cases) {
        refuse = answer;
        const r = await run(['top', '--kubeconfig', kubeconfig]);
        expect(r.code).toBe(1);
        expect(r.err).toContain(message);
      }
    } finally {
      refuse = null;
    }
  });

  it('the defaults name the shipped Service and its port (deploy/manifests/base/service.yaml)', () => {
    const svc = parseYaml(readFileSync('deploy/manifests/base/service.yaml', 'utf8')) as { metadata: { name: string; namespace: string }; spec: { ports: { name: string; targetPort: string }[] } };
    const port = svc.spec.ports.find((p) => p.targetPort === 'status')!;
    expect(DEFAULT_SERVICE).toBe(`${svc.metadata.name}:${port.name}`);
    expect(DEFAULT_NAMESPACE).toBe(svc.metadata.namespace);
  });
});

describe('bin/kubectl-gpu_ledger, the built executable', () => {
  it('runs from dist/ with a Node shebang and is executable', async () => {
    const text = readFileSync('bin/kubectl-gpu_ledger', 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    const r = await new Promise<{ code: number | null; out: string }>((resolve) =>
      execFile('bin/kubectl-gpu_ledger', ['top', ...SNAP, '--node', 't4'], { encoding: 'utf8', timeout: 60_000 }, (error, out) => resolve({ code: error ? (error.code as number) : 0, out })),
    );
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[1].split(/\s{2,}/).slice(0, 5)).toEqual(['t4-01', '0', 'time-slicing', '1/8', '4Gi/15Gi']);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin['kubectl-gpu_ledger']).toBe('bin/kubectl-gpu_ledger');
  });
});
