// The Binding's plain request on client-node's credentials (src/kube/api-write.ts), over real HTTP on
// loopback: the credentials client-node computes reach the server, are re-applied after their TTL
// and at once after a 401 (retried once), connections are kept alive, a non-2xx answer is an
// ApiException with the Status text, a deadline aborts with a timeout error, and a huge body is cut.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiWriter } from '../../src/kube/api-write.js';
import { mayHaveApplied, statusOf } from '../../src/kube/binder.js';
import { KeepAlivePool } from '../../src/kube/keep-alive.js';
import { isTimeout } from '../../src/kube/timeouts.js';

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  type: string | undefined;
  body: string;
}

describe('ApiWriter (one plain request per write, client-node credentials)', () => {
  let server: http.Server;
  let seen: Seen[];
  let connections: number;
  let answer: (s: Seen, res: http.ServerResponse) => void;
  let kc: KubeConfig;
  let token: number;
  let applied: number;
  const pool = new KeepAlivePool();

  beforeEach(async () => {
    seen = [];
    connections = 0;
    token = 1;
    applied = 0;
    answer = (_s, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","apiVersion":"v1","status":"Success","code":201}');
    };
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const s = { method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, type: req.headers['content-type'], body };
        seen.push(s);
        answer(s, res);
      });
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    // A rotating credential, the way an exec plugin or a projected token file behaves.
    kc.addAuthenticator({
      isAuthProvider: () => true,
      applyAuthentication: async (_user, opts) => {
        applied++;
        opts.headers = { ...opts.headers, Authorization: `Bearer token-${token}` };
      },
    });
  });
  afterEach(async () => {
    pool.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const post = (w: ApiWriter, body = '{"kind":"Binding"}', signal = AbortSignal.timeout(3000)) => w.send('POST', '/api/v1/namespaces/ml/pods/p0/binding', body, signal);

  it('sends the body as JSON with the credentials, over one kept-alive connection', async () => {
    const w = new ApiWriter(kc, pool);
    for (let i = 0; i < 4; i++) expect((await post(w)).status).toBe(201);
    expect(seen).toHaveLength(4);
    expect(seen[3]).toEqual({ method: 'POST', url: '/api/v1/namespaces/ml/pods/p0/binding', auth: 'Bearer token-1', type: 'application/json', body: '{"kind":"Binding"}' });
    expect(connections).toBe(1);
    expect(applied).toBe(1);
  });

  it('re-applies the credentials after their TTL', async () => {
    let now = 0;
    const w = new ApiWriter(kc, pool, 10_000, () => now);
    await post(w);
    token = 2;
    now = 9_999;
    await post(w);
    now = 10_000;
    await post(w);
    expect(seen.map((s) => s.auth)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
  });

  it('a 401 refreshes the credentials and is retried once', async () => {
    const w = new ApiWriter(kc, pool);
    await post(w);
    token = 2;
    answer = (s, res) => {
      res.writeHead(s.auth === 'Bearer token-2' ? 201 : 401, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","status":"Failure","code":401,"message":"Unauthorized"}');
    };
    expect((await post(w)).status).toBe(201);
    expect(seen.map((s) => s.auth)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
    // Still refused with fresh credentials: an ApiException, not a loop.
    token = 3;
    answer = (_s, res) => {
      res.writeHead(401);
      res.end('{"kind":"Status","message":"Unauthorized"}');
    };
    const err = await post(w).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(401);
    expect(seen).toHaveLength(5);
  });

  it('a non-2xx answer is an ApiException carrying the Status text; a 4xx did not apply, a 5xx may have', async () => {
    const w = new ApiWriter(kc, pool);
    for (const code of [409, 422, 500]) {
      answer = (_s, res) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(`{"kind":"Status","code":${code},"message":"no ${code}"}`);
      };
      const err = await post(w).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiException);
      expect((err as ApiException<string>).code).toBe(code);
      expect((err as ApiException<string>).body).toContain(`no ${code}`);
      expect(mayHaveApplied(err)).toBe(code >= 500);
    }
  });

  it('a deadline aborts the request with a timeout error (the write may have happened)', async () => {
    const w = new ApiWriter(kc, pool);
    answer = () => undefined; // never answers
    const err = await post(w, '{}', AbortSignal.timeout(150)).catch((e: unknown) => e);
    expect(isTimeout(err)).toBe(true);
    expect(mayHaveApplied(err)).toBe(true);
  });

  it('a deadline in the middle of the body also aborts', async () => {
    const w = new ApiWriter(kc, pool);
    answer = (_s, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.write('{"kind":'); // and never the rest
    };
    const err = await post(w, '{}', AbortSignal.timeout(150)).catch((e: unknown) => e);
    expect(isTimeout(err)).toBe(true);
  });

  it('keeps at most 64 KiB of a huge answer', async () => {
    const w = new ApiWriter(kc, pool);
    answer = (_s, res) => {
      res.writeHead(500);
      res.end('x'.repeat(5 * 2 ** 20));
    };
    const err = (await post(w).catch((e: unknown) => e)) as ApiException<string>;
    expect(err.code).toBe(500);
    expect(err.body.length).toBe(64 * 1024);
  });

  it('refused connections are errors that did not apply', async () => {
    const w = new ApiWriter(kc, pool);
    await new Promise<void>((r) => server.close(() => r()));
    pool.close();
    const err = await post(w).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    expect(mayHaveApplied(err)).toBe(false);
    server = http.createServer().listen(0, '127.0.0.1'); // for afterEach
  });
});
