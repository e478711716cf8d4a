// Exposure: the verbs and the read-only status routes live on separate listeners, both on loopback
// unless told otherwise, and neither answers the other's routes. Explain bodies are bounded (3 MiB,
// no YAML aliases) on the status port.
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeOptions, startServer, type RunningServer } from '../../src/cli/serve.js';
import { post, serve } from './harness.js';

const filterBody = JSON.parse(readFileSync('test/fixtures/kube-scheduler-1.30/filter-nodenames.json', 'utf8')) as Record<string, unknown>;
const VERBS = ['/filter', '/prioritize', '/prioritize-cpu', '/bind', '/preempt'];

/** The alias fan-out pod of test/model/yaml.test.ts, ~366 KB. */
function aliasBombPod(): string {
  const env = Array.from({ length: 2000 }, (_, i) => `    - {name: V${i}, value: "${i}"}`).join('\n');
  const refs = Array.from({ length: 75_000 }, () => '*c').join(', ');
  return `apiVersion: v1\nkind: Pod\nmetadata: {name: bomb, namespace: ml, uid: bomb-1}\nx-env: &e\n${env}\nx-container: &c {name: c, env: *e, resources: {limits: {nvidia.com/gpu: "1"}}}\nspec:\n  containers: [${refs}]\n`;
}

describe('two listeners', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve(['test/fixtures/rig-cluster.yaml']);
  });
  afterAll(() => s.close());

  it('the status port never serves a verb', async () => {
    for (const v of VERBS) {
      const res = await post(`${s.statusUrl}${v}`, filterBody);
      expect(res.status, v).toBe(404);
      expect((res.json as { Error: string }).Error).toContain('the extender verbs are served only on the extender port');
    }
    expect(s.state.ledger.pods.size).toBe(0);
  });

  it('the extender port serves the verbs and /healthz, nothing of the status port', async () => {
    expect((await post(`${s.url}/filter`, filterBody)).status).toBe(200);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/metrics'],
      ['GET', '/readyz'],
      ['POST', '/explain'],
      ['GET', '/explain/ai/x'],
      ['GET', '/'],
    ]) {
      const res = await fetch(`${s.url}${path}`, { method, ...(method === 'POST' ? { body: 'kind: Pod' } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as { Error: string }).Error).toContain('status port');
    }
    expect((await fetch(`${s.url}/filter`)).status).toBe(405);
  });

  it('the status port serves metrics, health, readiness and explain', async () => {
    expect((await fetch(`${s.statusUrl}/healthz`)).status).toBe(200);
    const ready = (await (await fetch(`${s.statusUrl}/readyz`)).json()) as { ready: boolean; resources: Record<string, { phase: string }> };
    expect(ready.ready).toBe(true);
    expect(ready.resources).toEqual({ snapshot: { phase: 'synced' } });
    expect(await (await fetch(`${s.statusUrl}/metrics`)).text()).toContain('gpu_ledger_ready 1');
    const ex = await fetch(`${s.statusUrl}/explain`, { method: 'POST', body: readFileSync('examples/pods/small-mps.yaml', 'utf8') });
    expect(ex.status).toBe(200);
  });

  it('POST /explain: a 366 KB YAML alias fan-out is a 400 naming the line, answered at once', async () => {
    const t0 = performance.now();
    const res = await fetch(`${s.statusUrl}/explain`, { method: 'POST', body: aliasBombPod() });
    const took = performance.now() - t0;
    expect(res.status).toBe(400);
    expect(((await res.json()) as { Error: string }).Error).toBe('body is not a Pod in JSON or YAML: line 4: YAML anchors and aliases are not accepted (found &e); write the value out');
    // Generous: expanding it took ~24 s before. The server keeps serving meanwhile.
    expect(took).toBeLessThan(3000);
    expect((await fetch(`${s.statusUrl}/healthz`)).status).toBe(200);
  });

  it('POST /explain takes at most 3 MiB (a Pod is at most 1.5 MiB in etcd)', async () => {
    const res = await fetch(`${s.statusUrl}/explain`, { method: 'POST', body: 'kind: Pod\n' + '#'.repeat(3 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { Error: string }).Error).toContain('3mb for explain');
    const gz = await fetch(`${s.statusUrl}/explain`, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: 'x' });
    expect(gz.status).toBe(415);
  });
});

describe('defaults are loopback', () => {
  it('without flags both ports listen on 127.0.0.1 only', async () => {
    const opts = resolveServeOptions(['--snapshot', 'test/fixtures/rig-cluster.yaml', '--port', '0', '--status-port', '0'], {});
    if (opts === 'help') throw new Error('unexpected help');
    expect([opts.host, opts.statusHost]).toEqual(['127.0.0.1', '127.0.0.1']);
    const r = await startServer({ ...opts, logLevel: 'silent' }, pino({ level: 'silent' }));
    try {
      expect((r.server.address() as AddressInfo).address).toBe('127.0.0.1');
      expect((r.statusServer.address() as AddressInfo).address).toBe('127.0.0.1');
      expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(r.statusUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await r.close();
    }
  });
});

describe('start-up', () => {
  it('a status port already in use is an error, and the extender port is not left listening', async () => {
    const first = await serve(['test/fixtures/rig-cluster.yaml']);
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    try {
      await expect(serve(['test/fixtures/rig-cluster.yaml'], { port, statusPort: first.statusPort })).rejects.toThrow(/EADDRINUSE/);
      const refused = await new Promise<boolean>((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(false)));
        c.on('error', () => resolve(true));
      });
      expect(refused).toBe(true);
    } finally {
      await first.close();
    }
  });
});
