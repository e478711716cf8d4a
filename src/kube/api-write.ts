// The per-pod API write (the Binding) as one plain HTTP request on a kept-alive connection, with
// @kubernetes/client-node's own credentials. Measured against the real kube-apiserver 1.30 on a
// 2-core machine, client-node's generated call (request factory, object serializer, middleware
// chain, node-fetch, a fresh agent and re-read credentials per call) cost 1.6–1.9 ms of CPU per
// Binding; this path costs ~0.8 ms: on the cores kube-scheduler and the API server share, that is
// the bind verb's cost. What client-node does well stays client-node's: the kubeconfig, every auth
// mechanism (certificates, tokens, exec plugins, impersonation) and the TLS settings come from
// `KubeConfig.applyToHTTPSOptions`, re-applied at least every `credentialTtlMs` (as client-go re-reads
// a token file) and at once after a 401, which is retried once with fresh credentials. Reads and
// watches stay on client-node.

import http from 'node:http';
import https from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import type { KeepAlivePool } from './keep-alive.js';

/** By default keep at most this much of a response body (a Status is a few hundred bytes); the rest is drained. */
const MAX_BODY = 64 * 1024;

interface Credentials {
  readonly at: number;
  readonly base: URL;
  readonly agent: http.Agent;
  readonly headers: Readonly<Record<string, string>>;
  readonly auth: string | undefined;
}

export interface ApiResponse {
  status: number;
  body: string;
}

export class ApiWriter {
  private creds: Credentials | null = null;
  private pending: Promise<Credentials> | null = null;

  constructor(
    private readonly kc: KubeConfig,
    private readonly pool: KeepAlivePool,
    private readonly credentialTtlMs = 10_000,
    private readonly now: () => number = Date.now,
    private readonly maxBody = MAX_BODY,
  ) {}

  /** Sends one request; a 2xx resolves with the response, any other status throws ApiException (code, body text). */
  async send(method: string, path: string, body: string | undefined, signal: AbortSignal): Promise<ApiResponse> {
    const res = await this.exchange(method, path, body, signal);
    if (res.status < 200 || res.status >= 300) throw new ApiException(res.status, `HTTP-Code: ${res.status}`, res.body, {});
    return res;
  }

  /** Sends one request (a 401 once more with fresh credentials) and resolves with whatever the server answered. */
  request(method: string, path: string, body: string | undefined, signal: AbortSignal): Promise<ApiResponse> {
    return this.exchange(method, path, body, signal);
  }

  private async exchange(method: string, path: string, body: string | undefined, signal: AbortSignal): Promise<ApiResponse> {
    const res = await this.once(method, path, body, signal, await this.credentials(false));
    return res.status === 401 ? this.once(method, path, body, signal, await this.credentials(true)) : res;
  }

  private credentials(refresh: boolean): Promise<Credentials> {
    const c = this.creds;
    if (!refresh && c && this.now() - c.at < this.credentialTtlMs) return Promise.resolve(c);
    // One refresh at a time: concurrent binds share it.
    this.pending ??= this.load().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async load(): Promise<Credentials> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    const creds: Credentials = { at: this.now(), base: new URL(cluster.server), agent: this.pool.agentFor(opts.agent) as http.Agent, headers, auth: opts.auth ?? undefined };
    this.creds = creds;
    return creds;
  }

  private once(method: string, path: string, body: string | undefined, signal: AbortSignal, c: Credentials): Promise<ApiResponse> {
    const request = c.base.protocol === 'http:' ? http.request : https.request;
    const url = new URL(path, c.base);
    const headers: Record<string, string | number> = { ...c.headers, accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      const req = request(url, { method, agent: c.agent, headers, auth: c.auth, signal }, (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept >= this.maxBody) return;
          chunks.push(chunk);
          kept += chunk.length;
        });
        res.on('error', reject);
        // Cut off mid-body (the deadline, a reset): the write may have happened either way.
        res.on('close', () => {
          if (!res.complete) reject(signal.aborted ? signal.reason : new Error('the API server closed the connection before the response ended'));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, this.maxBody) }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}
