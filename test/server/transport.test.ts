// Transport limits over real loopback HTTP: keep-alive outliving kube-scheduler's 90 s idle timeout
// (from the server objects, and behaviourally with shortened timeouts), header deadlines, the
// connection cap, and the in-flight body budget shared by both ports.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TRANSPORT, type RunningServer } from '../../src/cli/serve.js';
import { serve } from './harness.js';

const filterBody = readFileSync('test/fixtures/kube-scheduler-1.30/filter-nodenames.json', 'utf8');
let running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.map((r) => r.close()));
  running = [];
});
async function start(extra: Parameters<typeof serve>[1] = {}): Promise<RunningServer> {
  const s = await serve(['test/fixtures/rig-cluster.yaml'], extra);
  running.push(s);
  return s;
}

/** A raw client connection: what it received, and whether the server closed it. */
interface Conn {
  sock: net.Socket;
  received: () => string;
  closed: Promise<void>;
  isClosed: () => boolean;
}
async function connect(url: string): Promise<Conn> {
  const { port } = new URL(url);
  const sock = net.connect(Number(port), '127.0.0.1');
  let data = '';
  let closedFlag = false;
  sock.on('data', (d: Buffer) => (data += d.toString()));
  sock.on('error', () => {});
  const closed = new Promise<void>((resolve) =>
    sock.on('close', () => {
      closedFlag = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  return { sock, received: () => data, closed, isClosed: () => closedFlag };
}

async function until(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const responses = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
const post = (path: string, body: string, length = Buffer.byteLength(body)) => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${body}`;
const metric = async (s: RunningServer, line: string) => Number((await (await fetch(`${s.statusUrl}/metrics`)).text()).split('\n').find((l) => l.startsWith(line))?.split(' ').pop() ?? 0);

describe('keep-alive and request deadlines', () => {
  it('both listeners keep idle connections longer than kube-scheduler (90 s), with shorter header and request deadlines', async () => {
    const s = await start();
    for (const srv of [s.server, s.statusServer]) {
      expect(srv.keepAliveTimeout).toBeGreaterThan(90_000);
      expect(srv.keepAliveTimeout).toBe(TRANSPORT.keepAliveTimeoutMs);
      expect(srv.headersTimeout).toBe(TRANSPORT.headersTimeoutMs);
      expect(srv.requestTimeout).toBe(TRANSPORT.requestTimeoutMs);
      expect(srv.headersTimeout).toBeLessThan(srv.requestTimeout);
      expect(srv.maxConnections).toBe(256);
    }
  });

  it('an idle keep-alive connection outlives the header and request deadlines and is closed only at the keep-alive timeout', async () => {
    // Shortened: keep-alive 1.5 s, headers 200 ms, whole request 400 ms, checked every 50 ms.
    const s = await start({ transport: { keepAliveTimeoutMs: 1500, headersTimeoutMs: 200, requestTimeoutMs: 400, checkIntervalMs: 50 } });
    const c = await connect(s.url);
    c.sock.write(request('/healthz'));
    await until(() => responses(c.received()).length === 1, 'first reply');
    await new Promise((r) => setTimeout(r, 800)); // idle for twice the request deadline
    expect(c.isClosed()).toBe(false);
    c.sock.write(post('/filter', filterBody));
    await until(() => responses(c.received()).length === 2, 'second reply on the same connection');
    expect(responses(c.received())).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
    const idleSince = Date.now();
    await c.closed; // the server ends it after the keep-alive timeout
    expect(Date.now() - idleSince).toBeGreaterThanOrEqual(1000);
  });

  it('headers that never complete are cut at the header deadline', async () => {
    const s = await start({ transport: { keepAliveTimeoutMs: 5000, headersTimeoutMs: 200, requestTimeoutMs: 400, checkIntervalMs: 50 } });
    const c = await connect(s.url);
    c.sock.write('POST /filter HTTP/1.1\r\nHost: x\r\n');
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 408|^$/);
  });
});

describe('connection cap', () => {
  it('beyond --max-connections new connections are closed on arrival and counted; the rest keep working', async () => {
    const s = await start({ maxConnections: 3 });
    const held = await Promise.all([connect(s.url), connect(s.url), connect(s.url)]);
    const extra = await connect(s.url);
    await extra.closed;
    expect(extra.received()).toBe('');
    expect(await metric(s, 'gpu_ledger_connections_dropped_total{listener="extender"}')).toBe(1);
    // Those already open are served.
    held[0].sock.write(request('/healthz'));
    await until(() => responses(held[0].received()).length === 1, 'reply on a held connection');
    // Closing one frees a slot (once the server has seen the close: retried briefly).
    held[1].sock.destroy();
    await held[1].closed;
    let again: Conn | null = null;
    for (let i = 0; i < 50 && !again; i++) {
      const c = await connect(s.url);
      c.sock.write(request('/healthz'));
      await Promise.race([c.closed, new Promise((r) => setTimeout(r, 100))]);
      if (responses(c.received()).length === 1) again = c;
      else c.sock.destroy();
    }
    expect(again).not.toBeNull();
    for (const c of [...held, again!]) c.sock.destroy();
  });

  it('the status port has its own cap: it cannot exhaust the extender port', async () => {
    const s = await start({ maxConnections: 2 });
    const held = await Promise.all([connect(s.statusUrl), connect(s.statusUrl)]);
    const extra = await connect(s.statusUrl);
    await extra.closed;
    const verbs = await connect(s.url);
    verbs.sock.write(post('/filter', filterBody));
    await until(() => responses(verbs.received()).length === 1, 'verbs still answer');
    expect(responses(verbs.received())).toEqual(['HTTP/1.1 200']);
    for (const c of [...held, verbs]) c.sock.destroy();
  });
});

describe('in-flight body budget', () => {
  it('a body that does not fit the budget gets a 503 before any of it is read, the connection is closed; others are unaffected', async () => {
    const s = await start({ maxBody: '1mb', bodyBudget: '1mb' });
    // A holds 700 KB of the 1 MB budget: declared, half sent, still arriving.
    const big = JSON.stringify({ Pod: { metadata: { name: 'p', uid: 'big' } }, NodeNames: ['rig-node-0000'], pad: 'x'.repeat(700 * 1024) });
    const a = await connect(s.url);
    a.sock.write(post('/filter', big.slice(0, 1000), Buffer.byteLength(big)));
    await new Promise((r) => setTimeout(r, 100));
    // B declares 500 KB: refused from its headers alone (no body sent at all).
    const b = await connect(s.url);
    b.sock.write(`POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${500 * 1024}\r\n\r\n`);
    await b.closed;
    expect(b.received()).toMatch(/^HTTP\/1\.1 503/);
    expect(b.received()).toMatch(/connection: close/i);
    const error = JSON.parse(b.received().slice(b.received().indexOf('\r\n\r\n') + 4)) as { Error: string };
    expect(error.Error).toBe('server busy: request bodies in flight exceed the budget (1mb; see --body-budget); retry');
    // C sends chunked (no length): refused at the chunk that crosses the budget.
    const c = await connect(s.url);
    c.sock.write('POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = 'y'.repeat(100 * 1024);
    for (let i = 0; i < 5 && !c.isClosed() && responses(c.received()).length === 0; i++) {
      c.sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await new Promise((r) => setTimeout(r, 30));
    }
    await until(() => responses(c.received()).length === 1, 'chunked refusal');
    expect(c.received()).toMatch(/^HTTP\/1\.1 503/);
    // The status port shares the budget: explain is refused too.
    const ex = await fetch(`${s.statusUrl}/explain`, { method: 'POST', body: 'kind: Pod\nmetadata: {name: x}\n' + '#'.repeat(400 * 1024) });
    expect(ex.status).toBe(503);
    expect(((await ex.json()) as { Error: string }).Error).toContain('--body-budget');
    // A completes normally, and then the budget is free again.
    a.sock.write(big.slice(1000));
    await until(() => responses(a.received()).length === 1, 'A answered');
    expect(responses(a.received())).toEqual(['HTTP/1.1 200']);
    const again = await fetch(`${s.url}/filter`, { method: 'POST', body: JSON.stringify({ Pod: { metadata: { name: 'p', uid: 'again' } }, NodeNames: ['rig-node-0000'], pad: 'z'.repeat(500 * 1024) }) });
    expect(again.status).toBe(200);
    expect(await metric(s, 'gpu_ledger_bad_requests_total{verb="filter"}')).toBe(2);
    a.sock.destroy();
  });

  it('bodies that finish, fail or are abandoned give their bytes back', async () => {
    const s = await start({ maxBody: '256kb', bodyBudget: '256kb' });
    const body = (n: number) => JSON.stringify({ Pod: { metadata: { name: 'p', uid: `u${n}` } }, NodeNames: ['rig-node-0000'], pad: 'x'.repeat(200 * 1024) });
    for (let i = 0; i < 5; i++) {
      // abandoned mid-body
      const c = await connect(s.url);
      c.sock.write(post('/filter', body(i).slice(0, 5000), Buffer.byteLength(body(i))));
      await new Promise((r) => setTimeout(r, 20));
      c.sock.destroy();
      // too large
      const big = await fetch(`${s.url}/filter`, { method: 'POST', body: 'x'.repeat(300 * 1024) });
      expect(big.status).toBe(413);
      // malformed
      const bad = await fetch(`${s.url}/filter`, { method: 'POST', body: '{"Pod":' + ' '.repeat(200 * 1024) });
      expect(bad.status).toBe(400);
    }
    // Every one of those returned its share: a body of almost the whole budget still fits.
    let ok = 0;
    for (let i = 0; i < 50 && ok === 0; i++) {
      const res = await fetch(`${s.url}/filter`, { method: 'POST', body: body(100) });
      if (res.status === 200) ok++;
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(ok).toBe(1);
  });
});
