// An in-process fake kube-apiserver on loopback, faithful enough that @kubernetes/client-node's
// real list, watch, patch and binding code paths run unmodified against it: resourceVersions,
// field selectors (with ADDED/DELETED on selector transitions), bookmarks, watch close, 410 Gone
// (HTTP or ERROR event), injected errors and stalled watches.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

type Obj = Record<string, unknown> & { metadata: Record<string, unknown> };
type Kind = 'Node' | 'Pod';

interface HistoryEntry {
  rv: number;
  kind: Kind;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  obj: Obj;
  prev: Obj | null;
}

interface Watcher {
  kind: Kind;
  selector: Selector;
  res: http.ServerResponse;
  stalled: boolean;
}

type Selector = { path: string; op: '=' | '!='; value: string }[];

function parseSelector(s: string | null): Selector {
  if (!s) return [];
  return s.split(',').map((term) => {
    const m = /^([^!=]+)(!=|==?)(.*)$/.exec(term);
    if (!m) throw new Error(`bad field selector ${term}`);
    return { path: m[1], op: m[2] === '!=' ? '!=' : '=', value: m[3] };
  });
}

function field(obj: Obj, path: string): string {
  let cur: unknown = obj;
  for (const k of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return typeof cur === 'string' ? cur : '';
}

function matches(obj: Obj | null, sel: Selector): boolean {
  if (!obj) return false;
  return sel.every((t) => (t.op === '=' ? field(obj, t.path) === t.value : field(obj, t.path) !== t.value));
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeApiServer {
  private server = http.createServer((req, res) => this.handle(req, res));
  private rv = 100;
  private readonly nodes = new Map<string, Obj>();
  private readonly pods = new Map<string, Obj>();
  private history: HistoryEntry[] = [];
  /** Versions older than this are no longer in the history. */
  private compactedAt = 0;
  private watchers = new Set<Watcher>();
  private failures = 0;
  /** 'http' answers a too-old watch with HTTP 410; 'event' with an ERROR event of code 410. */
  goneMode: 'http' | 'event' = 'http';
  readonly requests: string[] = [];
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
      currentContext: 'c',
    });
    return kc;
  }

  // ---- test controls ----

  /** The next n requests (list, watch, patch, binding) fail with 500. */
  failNext(n: number): void {
    this.failures = n;
  }

  /** Server-side close of every open watch (as apiservers do periodically). */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Keep watches open but deliver nothing more to them (half-open TCP). */
  stallWatches(): void {
    for (const w of this.watchers) w.stalled = true;
  }

  /** Forget history up to now: watches from older versions get 410 Gone. */
  compact(): void {
    this.history = [];
    this.compactedAt = this.rv;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  upsertNode(node: Obj): Obj {
    return this.write('Node', this.nodes, String(node.metadata.name), node);
  }

  deleteNode(name: string): void {
    this.remove('Node', this.nodes, name);
  }

  upsertPod(pod: Obj): Obj {
    return this.write('Pod', this.pods, `${String(pod.metadata.namespace ?? 'default')}/${String(pod.metadata.name)}`, pod);
  }

  deletePod(namespace: string, name: string): void {
    this.remove('Pod', this.pods, `${namespace}/${name}`);
  }

  pod(namespace: string, name: string): Obj | undefined {
    const p = this.pods.get(`${namespace}/${name}`);
    return p ? clone(p) : undefined;
  }

  // ---- storage ----

  private write(kind: Kind, store: Map<string, Obj>, key: string, obj: Obj): Obj {
    const prev = store.get(key) ?? null;
    const next = clone(obj);
    next.apiVersion = 'v1';
    next.kind = kind;
    next.metadata.resourceVersion = String(++this.rv);
    if (kind === 'Pod') next.metadata.namespace ??= 'default';
    store.set(key, next);
    this.emit({ rv: this.rv, kind, type: prev ? 'MODIFIED' : 'ADDED', obj: clone(next), prev });
    return clone(next);
  }

  private remove(kind: Kind, store: Map<string, Obj>, key: string): void {
    const prev = store.get(key);
    if (!prev) return;
    store.delete(key);
    const gone = clone(prev);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, kind, type: 'DELETED', obj: gone, prev });
  }

  private emit(e: HistoryEntry): void {
    this.history.push(e);
    for (const w of this.watchers) if (w.kind === e.kind && !w.stalled) this.send(w, e);
  }

  /** Translates a change into what a watch with this selector sees. */
  private send(w: Watcher, e: HistoryEntry): void {
    const before = e.type === 'ADDED' ? false : matches(e.prev, w.selector);
    const after = e.type === 'DELETED' ? false : matches(e.obj, w.selector);
    let type: string | null = null;
    if (before && after) type = 'MODIFIED';
    else if (!before && after) type = 'ADDED';
    else if (before && !after) type = 'DELETED';
    if (type) w.res.write(JSON.stringify({ type, object: e.obj }) + '\n');
  }

  // ---- HTTP ----

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private status(res: http.ServerResponse, code: number, reason: string, message: string): void {
    this.json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (this.failures > 0) {
      this.failures--;
      this.status(res, 500, 'InternalError', 'injected failure');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        this.route(req.method ?? 'GET', url, chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as unknown) : null, res, req);
      } catch (err) {
        this.status(res, 400, 'BadRequest', String(err));
      }
    });
  }

  private route(method: string, url: URL, body: unknown, res: http.ServerResponse, req: http.IncomingMessage): void {
    const p = url.pathname;
    if (method === 'GET' && (p === '/api/v1/nodes' || p === '/api/v1/pods')) {
      const kind: Kind = p.endsWith('nodes') ? 'Node' : 'Pod';
      const selector = parseSelector(url.searchParams.get('fieldSelector'));
      if (url.searchParams.get('watch') === 'true') return this.watch(kind, selector, url.searchParams.get('resourceVersion') ?? '', res, req);
      const store = kind === 'Node' ? this.nodes : this.pods;
      const items = [...store.values()].filter((o) => matches(o, selector)).map(clone);
      return this.json(res, 200, { kind: `${kind}List`, apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
    }
    const podPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(\/binding)?$/.exec(p);
    if (podPath) {
      const key = `${podPath[1]}/${podPath[2]}`;
      const pod = this.pods.get(key);
      if (!pod) return this.status(res, 404, 'NotFound', `pods "${podPath[2]}" not found`);
      if (podPath[3] && method === 'POST') {
        const b = body as { metadata?: { uid?: string }; target?: { name?: string } };
        if (b.metadata?.uid && b.metadata.uid !== pod.metadata.uid) return this.status(res, 409, 'Conflict', 'Precondition failed: UID mismatch');
        if ((pod.spec as { nodeName?: string } | undefined)?.nodeName) return this.status(res, 409, 'Conflict', `pod ${key} is already assigned to node "${String((pod.spec as { nodeName: string }).nodeName)}"`);
        const next = clone(pod);
        next.spec = { ...(next.spec as object), nodeName: b.target?.name };
        this.upsertPod(next);
        return this.json(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
      }
      if (method === 'GET') return this.json(res, 200, clone(pod));
      if (method === 'PATCH') {
        if (!String(req.headers['content-type']).startsWith('application/merge-patch+json')) return this.status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${String(req.headers['content-type'])}`);
        const uid = (body as { metadata?: { uid?: string } }).metadata?.uid;
        if (uid && uid !== pod.metadata.uid) return this.status(res, 409, 'Conflict', 'Precondition failed: UID in precondition does not match the UID in object');
        const next = mergePatch(pod, body) as Obj;
        return this.json(res, 200, this.upsertPod(next));
      }
    }
    this.status(res, 404, 'NotFound', `no route ${method} ${p}`);
  }

  private watch(kind: Kind, selector: Selector, fromRv: string, res: http.ServerResponse, req: http.IncomingMessage): void {
    const from = Number(fromRv || this.rv);
    const tooOld = from < this.compactedAt;
    if (tooOld && this.goneMode === 'http') return this.status(res, 410, 'Expired', `too old resource version: ${from} (${this.rv})`);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (tooOld) {
      res.write(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' } }) + '\n');
      res.end();
      return;
    }
    const w: Watcher = { kind, selector, res, stalled: false };
    for (const e of this.history) if (e.rv > from && e.kind === kind) this.send(w, e);
    // A bookmark tells the client where it is even when nothing changed.
    res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind, apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } } }) + '\n');
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}
