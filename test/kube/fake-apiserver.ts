// An in-process fake kube-apiserver on loopback, faithful enough that @kubernetes/client-node's
// real list, watch, patch and binding code paths run unmodified against it: resourceVersions,
// field selectors (with ADDED/DELETED on selector transitions), bookmarks, watch close, 410 Gone
// (HTTP or ERROR event), stalled watches, and injected faults per request (an error status, no
// answer at all, the write applied and then an error or a dropped connection). The binding
// subresource behaves like kube-apiserver's BindingREST.Create / setPodNodeAndMetadata: the
// Binding's name must match the URL, its metadata.uid and resourceVersion are preconditions (409),
// a pod being deleted or already assigned answers 409, and the Binding's annotations and labels are
// copied onto the pod with the node, in one write.

import { writeFileSync } from 'node:fs';
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

/** What an injected fault does to a matching request. */
export type Fault =
  | { kind: 'status'; code: number }
  /** Never answer (the connection stays open until the client gives up or the server stops). */
  | { kind: 'hang' }
  /** Apply the request, then answer with an error status. */
  | { kind: 'apply-then-status'; code: number }
  /** Apply the request, then destroy the connection without an answer. */
  | { kind: 'apply-then-drop' };

export interface FaultMatch {
  method?: string;
  /** Exact path, or a pattern of the path. */
  path?: string | RegExp;
  /** Only watches (true) or only non-watch requests (false). */
  watch?: boolean;
  /** How many matching requests get the fault (default: every one until clearFaults). */
  times?: number;
}

interface FaultRule {
  match: FaultMatch;
  fault: Fault;
  left: number;
}

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
  private faults: FaultRule[] = [];
  private readonly hung = new Set<http.ServerResponse>();
  /** 'http' answers a too-old watch with HTTP 410; 'event' with an ERROR event of code 410. */
  goneMode: 'http' | 'event' = 'http';
  readonly requests: string[] = [];
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const r of this.hung) r.destroy();
    this.hung.clear();
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

  /** A kubeconfig file for this server (what `serve --kubeconfig` reads). */
  writeKubeconfig(file: string): string {
    const server = `http://127.0.0.1:${this.port}`;
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'fake', cluster: { server, 'insecure-skip-tls-verify': true } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'c', context: { cluster: 'fake', user: 'u' } }], 'current-context': 'c' }));
    return file;
  }

  // ---- test controls ----

  /** The next n requests (list, watch, patch, binding) fail with 500. */
  failNext(n: number): void {
    this.inject({ times: n }, { kind: 'status', code: 500 });
  }

  /** Requests matching `match` get `fault` (the first matching rule applies). */
  inject(match: FaultMatch, fault: Fault): void {
    this.faults.push({ match, fault, left: match.times ?? Infinity });
  }

  clearFaults(): void {
    this.faults = [];
    for (const r of this.hung) r.destroy();
    this.hung.clear();
  }

  /** Marks a pod as being deleted (deletionTimestamp set, as graceful deletion does). */
  markDeleting(namespace: string, name: string): void {
    const p = this.pods.get(`${namespace}/${name}`);
    if (!p) return;
    const next = clone(p);
    next.metadata.deletionTimestamp = new Date().toISOString();
    this.upsertPod(next);
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

  private faultFor(method: string, url: URL): Fault | undefined {
    const watch = url.searchParams.get('watch') === 'true';
    for (const r of this.faults) {
      const m = r.match;
      if (r.left <= 0) continue;
      if (m.method !== undefined && m.method !== method) continue;
      if (m.path !== undefined && (typeof m.path === 'string' ? m.path !== url.pathname : !m.path.test(url.pathname))) continue;
      if (m.watch !== undefined && m.watch !== watch) continue;
      r.left--;
      return r.fault;
    }
    return undefined;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    this.requests.push(`${method} ${url.pathname}${url.search}`);
    const fault = this.faultFor(method, url);
    if (fault?.kind === 'status') {
      req.resume();
      this.status(res, fault.code, fault.code === 500 ? 'InternalError' : 'Injected', 'injected failure');
      return;
    }
    if (fault?.kind === 'hang') {
      req.resume();
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // After an applied-then-failed request the client sees an error, whatever the route answered.
      const out = fault ? this.swallow(res, fault) : res;
      try {
        this.route(method, url, chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as unknown) : null, out, req);
      } catch (err) {
        this.status(out, 400, 'BadRequest', String(err));
      }
    });
  }

  /** A response stand-in that applies the route's effects but answers per the fault instead. */
  private swallow(res: http.ServerResponse, fault: Fault): http.ServerResponse {
    const answer = () => {
      if (fault.kind === 'apply-then-drop') res.socket?.destroy();
      else if (fault.kind === 'apply-then-status') this.status(res, fault.code, 'InternalError', 'injected failure after the write');
    };
    return {
      writeHead: () => undefined,
      write: () => true,
      end: () => answer(),
      on: () => undefined,
    } as unknown as http.ServerResponse;
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
      if (podPath[3] && method === 'POST') return this.bind(res, podPath[2], pod, body);
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

  /** kube-apiserver's BindingREST.Create → assignPod → setPodNodeAndMetadata, in one write. */
  private bind(res: http.ServerResponse, name: string, pod: Obj, body: unknown): void {
    const b = (body ?? {}) as { kind?: string; metadata?: { name?: string; uid?: string; resourceVersion?: string; annotations?: Record<string, string>; labels?: Record<string, string> }; target?: { name?: string } };
    const conflict = (why: string) => this.status(res, 409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${name}": ${why}`);
    if (b.metadata?.name !== name) return this.status(res, 400, 'BadRequest', 'name in URL does not match name in Binding object');
    if (!b.target?.name) return this.status(res, 422, 'Invalid', `Binding "${name}" is invalid: target.name: Required value`);
    const md = b.metadata;
    if (md.uid && md.uid !== pod.metadata.uid) return conflict(`Precondition failed: UID in precondition: ${md.uid}, UID in object meta: ${String(pod.metadata.uid)}`);
    if (md.resourceVersion && md.resourceVersion !== pod.metadata.resourceVersion) return conflict(`Precondition failed: ResourceVersion in precondition: ${md.resourceVersion}, ResourceVersion in object meta: ${String(pod.metadata.resourceVersion)}`);
    if (pod.metadata.deletionTimestamp) return conflict(`pod ${name} is being deleted, cannot be assigned to a host`);
    const assigned = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    if (assigned) return conflict(`pod ${name} is already assigned to node "${assigned}"`);
    const next = clone(pod);
    next.spec = { ...(next.spec as object), nodeName: b.target.name };
    if (md.annotations && Object.keys(md.annotations).length > 0) next.metadata.annotations = { ...(next.metadata.annotations as object), ...md.annotations };
    if (md.labels && Object.keys(md.labels).length > 0) next.metadata.labels = { ...(next.metadata.labels as object), ...md.labels };
    const status = (next.status ?? {}) as { conditions?: { type: string }[] };
    next.status = { ...status, conditions: [...(status.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), { type: 'PodScheduled', status: 'True' }] };
    this.upsertPod(next);
    this.json(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
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
