// A running gpu-ledger's status port, over HTTP: directly (--server URL, e.g. after `kubectl
// port-forward`), or through the API server's service proxy
// (/api/v1/namespaces/<ns>/services/<service>/proxy/…) with the user's kubeconfig — its cluster
// CA, client certificate or token, whatever @kubernetes/client-node makes of it. Answers from the
// API server itself (no such Service, no endpoints, RBAC) are told apart from gpu-ledger's own.

import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { PodExplanation } from '../../explain/explain.js';
import type { LedgerView } from '../../explain/ledger-view.js';
import { ledgerPath, SourceError, type LedgerSource } from './source.js';

/** Largest reply read (a page of the ledger is far smaller): a confused endpoint cannot fill memory. */
const MAX_REPLY = 64 * 2 ** 20;
export const REQUEST_TIMEOUT_MS = 30_000;

/** The shipped Service (deploy/manifests/base/service.yaml): its name and the status port's name. */
export const DEFAULT_NAMESPACE = 'gpu-ledger';
export const DEFAULT_SERVICE = 'gpu-ledger-metrics:metrics';

interface Reply {
  status: number;
  type: string;
  body: string;
}

type Send = (method: 'GET' | 'POST', path: string, body?: string) => Promise<Reply>;

function request(url: URL, method: string, options: https.RequestOptions, body: string | undefined, where: string): Promise<Reply> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { ...options, method, headers: { ...options.headers, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/yaml' } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_REPLY) req.destroy(new Error(`reply larger than ${MAX_REPLY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`)));
    req.on('error', (err) => reject(new SourceError(`cannot reach ${where}: ${err.message}`, 0)));
    req.end(body);
  });
}

/** gpu-ledger's `{"Error": …}` or the API server's `Status`, as one line. */
export function explainFailure(r: Reply, via: 'server' | { namespace: string; service: string }): SourceError {
  let j: { Error?: unknown; kind?: unknown; message?: unknown; reason?: unknown } = {};
  try {
    j = JSON.parse(r.body) as typeof j;
  } catch {
    /* not JSON */
  }
  if (typeof j.Error === 'string') return new SourceError(`gpu-ledger: ${j.Error}`, r.status);
  const text = typeof j.message === 'string' ? j.message : r.body.slice(0, 200).trim() || `HTTP ${r.status}`;
  if (via === 'server' || j.kind !== 'Status') return new SourceError(`${via === 'server' ? 'gpu-ledger' : 'the API server'} answered ${r.status}: ${text}`, r.status);
  const svc = `${via.namespace}/${via.service.split(':')[0]}`;
  if (r.status === 404 && j.reason === 'NotFound' && /services? /.test(text)) {
    return new SourceError(`the API server has no Service ${svc} (${text}): is gpu-ledger deployed there? (--gpu-ledger-namespace, --service, or --server URL)`, r.status);
  }
  if (r.status === 503 && /no endpoints available/.test(text)) {
    return new SourceError(`Service ${svc} has no ready endpoints (${text}): is gpu-ledger running? (kubectl -n ${via.namespace} get pods)`, r.status);
  }
  if (r.status === 403) return new SourceError(`forbidden by the API server (${text}): reading gpu-ledger needs "get" on services/proxy in namespace ${via.namespace}`, r.status);
  if (r.status === 401) return new SourceError(`the API server refused your kubeconfig's credentials (${text})`, r.status);
  return new SourceError(`the API server answered ${r.status}: ${text}`, r.status);
}

function sourceOn(where: string, send: Send, via: 'server' | { namespace: string; service: string }): LedgerSource {
  const json = async <T>(method: 'GET' | 'POST', path: string, body?: string): Promise<T> => {
    const r = await send(method, path, body);
    if (r.status !== 200 || !/json/.test(r.type)) throw explainFailure(r, via);
    return JSON.parse(r.body) as T;
  };
  return {
    where,
    ledger: (q) => json<LedgerView>('GET', ledgerPath(q)),
    explainByName: (ns, name) => json<PodExplanation>('GET', `/explain/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`),
    explainPod: (text) => json<PodExplanation>('POST', '/explain', text),
  };
}

/** --server http://127.0.0.1:8889 (the status port, e.g. through kubectl port-forward). */
export function serverSource(base: string): LedgerSource {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new SourceError(`--server "${base}" is not a URL (e.g. http://127.0.0.1:8889)`, 0);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SourceError(`--server "${base}" must be http:// or https://`, 0);
  const prefix = url.pathname.replace(/\/$/, '');
  return sourceOn(url.origin, (method, path, body) => request(new URL(`${url.origin}${prefix}${path}`), method, {}, body, url.origin), 'server');
}

/** The service proxy path prefix for the status port's Service. */
export function proxyPrefix(namespace: string, service: string): string {
  // "name:port" as kubectl writes it: the colon stays.
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(service).replace(/%3A/gi, ':')}/proxy`;
}

/** Through the API server's service proxy, authenticated as the kubeconfig's current user. */
export function proxySource(kc: KubeConfig, namespace = DEFAULT_NAMESPACE, service = DEFAULT_SERVICE): LedgerSource {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new SourceError('the kubeconfig has no current cluster: pass --kubeconfig/--context, or --server URL, or --snapshot files', 0);
  const server = cluster.server.replace(/\/$/, '');
  const prefix = proxyPrefix(namespace, service);
  return sourceOn(
    `${server}${prefix}`,
    async (method, path, body) => {
      const options: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(options);
      return request(new URL(`${server}${prefix}${path}`), method, options, body, server);
    },
    { namespace, service },
  );
}
