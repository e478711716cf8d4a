// `gpu-ledger serve` as a real process: its start-up line, the two ports, and shutdown on SIGTERM —
// idle keep-alive connections closed at once, in-flight requests finished.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

const BUILT = existsSync('dist/src/cli/main.js');
const filterBody = readFileSync('test/fixtures/kube-scheduler-1.30/filter-nodenames.json', 'utf8');

interface Serving {
  child: ChildProcess;
  url: string;
  statusUrl: string;
  log: () => string;
  exited: Promise<{ code: number | null; at: number }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

async function serve(...args: string[]): Promise<Serving> {
  return serveWith([], args);
}

/** serve with Node.js flags before the script. */
async function serveWith(nodeFlags: string[], args: string[]): Promise<Serving> {
  const child = spawn(process.execPath, [...nodeFlags, 'bin/gpu-ledger.js', 'serve', '--snapshot', 'test/fixtures/rig-cluster.yaml', '--port', '0', '--status-port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let log = '';
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: Date.now() })));
  const [url, statusUrl] = await new Promise<[string, string]>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+) \(extender\), (http:\/\/127\.0\.0\.1:\d+) \(status\)/.exec(log);
      if (m) resolve([m[1], m[2]]);
    });
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    void exited.then(() => reject(new Error(`exited early: ${log}`)));
  });
  return { child, url, statusUrl, log: () => log, exited };
}

/** A request over a keep-alive agent; the socket stays open and idle afterwards. */
async function keepAliveGet(url: string, agent: http.Agent): Promise<{ status: number; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket as net.Socket }));
    });
    req.on('error', reject);
  });
}

const closed = (s: net.Socket) => new Promise<number>((resolve) => (s.destroyed ? resolve(Date.now()) : s.once('close', () => resolve(Date.now()))));

describe.skipIf(!BUILT)('serve as a process', () => {
  it("turns V8's allocation-site pretenuring off (src/cli/gc-tuning.ts), unless the node command line sets it", async () => {
    const line = (log: string) => log.split('\n').find((l) => l.includes('"msg":"garbage collector"'));
    const tuned = await serveWith([], ['--log-level', 'debug']);
    expect(JSON.parse(line(tuned.log())!).allocationSitePretenuring).toBe(false);
    tuned.child.kill('SIGTERM');
    await tuned.exited;
    for (const [flag, on] of [['--allocation-site-pretenuring', true], ['--allocation_site_pretenuring', true], ['--no-allocation-site-pretenuring', false]] as const) {
      const kept = await serveWith([flag], ['--log-level', 'debug']);
      expect(JSON.parse(line(kept.log())!).allocationSitePretenuring, flag).toBe(on);
      kept.child.kill('SIGTERM');
      await kept.exited;
    }
  });

  it('logs both URLs; the verbs on the extender port, health/readiness/metrics on the status port', async () => {
    const s = await serve();
    expect((await fetch(`${s.statusUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const f = await fetch(`${s.url}/filter`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: filterBody });
    expect(f.status).toBe(200);
    expect((await fetch(`${s.statusUrl}/filter`, { method: 'POST', body: filterBody })).status).toBe(404);
    expect((await fetch(`${s.url}/metrics`)).status).toBe(404);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    expect(s.log()).toContain('shutting down');
  });

  it('SIGTERM: idle keep-alive connections and silent connections on both ports are closed at once, the process exits without waiting for them', async () => {
    const s = await serve();
    const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    const a = await keepAliveGet(`${s.url}/healthz`, agent);
    const b = await keepAliveGet(`${s.statusUrl}/healthz`, agent);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.socket.destroyed || b.socket.destroyed).toBe(false);
    // Connected, never sent a byte (Node's closeIdleConnections does not count these as idle).
    const silent = await Promise.all(
      [s.url, s.statusUrl].map(
        (u) =>
          new Promise<net.Socket>((resolve, reject) => {
            const c = net.connect(Number(new URL(u).port), '127.0.0.1', () => resolve(c));
            c.on('error', reject);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    const [exit, ...closes] = await Promise.all([s.exited, closed(a.socket), closed(b.socket), ...silent.map(closed)]);
    agent.destroy();
    expect(exit.code).toBe(0);
    // The forced close comes after 10 s and the keep-alive timeout is 120 s; a drained idle
    // connection goes at once. 5 s leaves room for a loaded machine.
    expect(Math.max(...closes) - t0).toBeLessThan(5000);
    expect(exit.at - t0).toBeLessThan(5000);
    expect(s.log()).not.toContain('shutdown timed out');
  });

  it('SIGTERM: a request in flight (body still arriving) completes with its reply, then the process exits', async () => {
    const s = await serve();
    const { port } = new URL(s.url);
    const sock = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    let reply = '';
    sock.on('data', (d: Buffer) => (reply += d.toString()));
    const half = Math.floor(filterBody.length / 2);
    sock.write(`POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(filterBody)}\r\n\r\n${filterBody.slice(0, half)}`);
    // Let the server see the request before the signal.
    await new Promise((r) => setTimeout(r, 200));
    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    expect(s.child.exitCode).toBeNull(); // still serving the request in flight
    sock.write(filterBody.slice(half));
    const exit = await s.exited;
    await closed(sock);
    expect(exit.code).toBe(0);
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
    const json = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { NodeNames: string[]; Error: string };
    expect(json.Error).toBe('');
    expect(json.NodeNames.length).toBeGreaterThan(0);
    expect(s.log()).not.toContain('shutdown timed out');
  });
});
