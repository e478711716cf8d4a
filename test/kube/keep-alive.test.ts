// Binds over kept-alive TLS connections: client-node gives every call a fresh agent (a handshake
// per bind); the binder's pool swaps it for one kept-alive agent per TLS setting.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveBinder } from '../../src/kube/binder.js';
import { KeepAlivePool } from '../../src/kube/keep-alive.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'gpu-ledger-keepalive-'));
const p = (f: string) => join(dir, f);

describe('kept-alive connections for binds', () => {
  it('one pooled agent per TLS setting, one for plain HTTP; proxy agents are left alone', () => {
    const pool = new KeepAlivePool();
    const a = pool.agentFor(new https.Agent({ ca: 'CA', cert: 'C1', key: 'K1' }));
    const b = pool.agentFor(new https.Agent({ ca: 'CA', cert: 'C1', key: 'K1' }));
    const c = pool.agentFor(new https.Agent({ ca: 'CA', cert: 'C2', key: 'K2' }));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect((a as https.Agent).options.keepAlive).toBe(true);
    const plain = pool.agentFor(new http.Agent()) as http.Agent;
    expect(plain).toBeInstanceOf(http.Agent);
    expect(plain).not.toBeInstanceOf(https.Agent);
    expect((plain as unknown as { keepAlive: boolean }).keepAlive).toBe(true);
    expect(pool.agentFor(new http.Agent())).toBe(plain);
    class ProxyAgent extends https.Agent {}
    const proxy = new ProxyAgent();
    expect(pool.agentFor(proxy)).toBe(proxy);
    pool.close();
  });

  describe.skipIf(!hasOpenssl())('against a TLS API server with client certificates', () => {
    let server: https.Server;
    let connections = 0;
    const bindings: unknown[] = [];
    beforeAll(async () => {
      const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', p('ca.key'), '-out', p('ca.crt'));
      writeFileSync(p('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=apiserver', '-keyout', p('server.key'), '-out', p('server.csr'));
      ssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', p('san.ext'), '-out', p('server.crt'));
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=gpu-ledger', '-keyout', p('client.key'), '-out', p('client.csr'));
      ssl('x509', '-req', '-in', p('client.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1', '-out', p('client.crt'));
      server = https.createServer({ key: readFileSync(p('server.key')), cert: readFileSync(p('server.crt')), ca: readFileSync(p('ca.crt')), requestCert: true, rejectUnauthorized: true }, (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          bindings.push({ url: req.url, body: JSON.parse(body) as unknown });
          res.writeHead(201, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Success' }));
        });
      });
      server.on('secureConnection', () => connections++);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('five binds, one TLS connection, every Binding as before', async () => {
      const kc = new KubeConfig();
      const b64 = (f: string) => readFileSync(p(f)).toString('base64');
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caData: b64('ca.crt') }],
        users: [{ name: 'u', certData: b64('client.crt'), keyData: b64('client.key') }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const binder = new LiveBinder(kc, { timeoutMs: 5000 });
      try {
        for (let i = 0; i < 5; i++) {
          await binder.bind({ podName: `p${i}`, podNamespace: 'ml', podUid: `uid-${i}`, node: 'n1', gpus: [0], annotations: { 'gpu-ledger.io/gpus': '0' } });
        }
      } finally {
        binder.close();
      }
      expect(connections).toBe(1);
      expect(bindings).toHaveLength(5);
      expect(bindings[4]).toEqual({
        url: '/api/v1/namespaces/ml/pods/p4/binding',
        body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p4', namespace: 'ml', uid: 'uid-4', annotations: { 'gpu-ledger.io/gpus': '0' } }, target: { apiVersion: 'v1', kind: 'Node', name: 'n1' } },
      });
    });
  });
});
