// The scheduler benchmark's own view of the API server: the product's plain-request writer on
// keep-alive connections with the admin kubeconfig's client certificate (creating 5,000 Nodes
// through a client that opens a TLS connection per call would take minutes), a pods watch that
// timestamps every bind, and the `control-plane` script of ../shared/k8s (README "End-to-end tests").

import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import https from 'node:https';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiWriter } from '../src/kube/api-write.js';
import { KeepAlivePool } from '../src/kube/keep-alive.js';

const run = promisify(execFile);

/** The control-plane script: GPU_LEDGER_E2E_CONTROL_PLANE (script or its directory), else ../shared/k8s next to the repository. */
export function locateControlPlane(repo: string, given = process.env.GPU_LEDGER_E2E_CONTROL_PLANE): { script: string } | { missing: string } {
  const where = given ? resolve(given) : join(repo, '..', 'shared', 'k8s');
  const script = existsSync(where) && statSync(where).isDirectory() ? join(where, 'control-plane') : where;
  return existsSync(script) ? { script } : { missing: given ? `GPU_LEDGER_E2E_CONTROL_PLANE=${given}: no control-plane script there` : `no control plane at ${where}` };
}

export async function controlPlane(script: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<string> {
  try {
    const { stdout } = await run(script, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 2 ** 20, env: { ...process.env, ...env } });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`control-plane ${args.join(' ')} failed: ${e.message ?? String(err)}\n${e.stderr ?? ''}`);
  }
}

export class Api {
  private constructor(
    private readonly base: URL,
    private readonly agent: https.Agent,
    private readonly pool: KeepAlivePool,
    private readonly writer: ApiWriter,
  ) {}

  static async fromKubeconfig(file: string): Promise<Api> {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    // The watch's own connection; every other request goes through the product's writer (64 kept-alive sockets).
    const agent = new https.Agent({ keepAlive: false, ca: opts.ca, cert: opts.cert, key: opts.key });
    const pool = new KeepAlivePool(64);
    return new Api(new URL(kc.getCurrentCluster()!.server), agent, pool, new ApiWriter(kc, pool, 10_000, Date.now, 256 * 2 ** 20));
  }

  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
    return this.writer.request(method, path, body === undefined ? undefined : JSON.stringify(body), AbortSignal.timeout(300_000));
  }

  async ok(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await this.request(method, path, body);
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body.slice(0, 300)}`);
    return JSON.parse(r.body) as unknown;
  }

  /** Runs `work` over `items`, `concurrency` at a time. */
  static async each<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, items.length) }, async () => {
        while (next < items.length) await work(items[next++]);
      }),
    );
  }

  /**
   * Watches the namespace's pods from `resourceVersion`; calls `bound(name, t)` the first time a
   * pod shows spec.nodeName (t = performance.now() at the event). Returns a stop function.
   */
  watchBinds(namespace: string, resourceVersion: string, bound: (name: string, at: number) => void): () => void {
    const seen = new Set<string>();
    const req = https.request({
      host: this.base.hostname,
      port: this.base.port,
      path: `/api/v1/namespaces/${namespace}/pods?watch=1&allowWatchBookmarks=false&resourceVersion=${resourceVersion}`,
      method: 'GET',
      agent: this.agent,
    });
    req.on('response', (r) => {
      let buf = '';
      r.setEncoding('utf8');
      r.on('data', (chunk: string) => {
        const at = performance.now();
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          const ev = JSON.parse(line) as { type: string; object: { metadata: { name: string }; spec?: { nodeName?: string } } };
          const name = ev.object.metadata.name;
          if ((ev.type === 'MODIFIED' || ev.type === 'ADDED') && ev.object.spec?.nodeName && !seen.has(name)) {
            seen.add(name);
            bound(name, at);
          }
        }
      });
    });
    req.on('error', () => undefined);
    req.end();
    return () => req.destroy();
  }

  close(): void {
    this.agent.destroy();
    this.pool.close();
  }
}
