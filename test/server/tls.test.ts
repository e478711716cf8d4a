// HTTPS and mTLS with throwaway certificates made by openssl at test time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { defaultConfig } from '../../src/model/config-types.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'gpu-ledger-tls-'));
const p = (f: string) => join(dir, f);
function makeCerts(): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', p('ca.key'), '-out', p('ca.crt'));
  writeFileSync(p('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', p('server.key'), '-out', p('server.csr'));
  ssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', p('san.ext'), '-out', p('server.crt'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kube-scheduler', '-keyout', p('client.key'), '-out', p('client.csr'));
  ssl('x509', '-req', '-in', p('client.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1', '-out', p('client.crt'));
}

function get(url: string, opts: https.RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, opts, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

describe.skipIf(!hasOpenssl())('TLS (needs openssl)', () => {
  let s: RunningServer;
  beforeAll(async () => {
    makeCerts();
    s = await startServer(
      {
        snapshot: ['examples/demo-cluster.yaml'],
        config: defaultConfig(),
        host: '127.0.0.1',
        port: 0,
        statusHost: '127.0.0.1',
        statusPort: 0,
        tlsCert: p('server.crt'),
        tlsKey: p('server.key'),
        clientCa: p('ca.crt'),
        maxBody: '1mb',
        reservationTtlMs: 60_000,
        resyncPeriodMs: 60_000,
        preemption: false,
        logLevel: 'silent',
      },
      pino({ level: 'silent' }),
    );
  });
  afterAll(() => s?.close());

  it('serves HTTPS and logs an https URL', () => {
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('accepts a client certificate signed by --client-ca', async () => {
    const status = await get(`${s.url}/healthz`, { ca: readFileSync(p('ca.crt')), cert: readFileSync(p('client.crt')), key: readFileSync(p('client.key')) });
    expect(status).toBe(200);
  });

  it('refuses a client without a certificate (mTLS)', async () => {
    await expect(get(`${s.url}/healthz`, { ca: readFileSync(p('ca.crt')) })).rejects.toThrow();
  });

  it('TLS is the extender port\'s: the read-only status port stays plain HTTP (kubelet probes, Prometheus)', async () => {
    expect(s.statusUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${s.statusUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${s.statusUrl}/filter`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
