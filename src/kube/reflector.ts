// One resource kept in sync: LIST, then WATCH from the list's resourceVersion; on 410 Gone or any
// watch error, LIST again (with backoff after errors). Every LIST replaces the sink's view
// completely, so objects deleted while the watch was down are released. A watchdog relists when
// the watch has been silent for too long (half-open TCP: client-node #364, #596, #958), and a
// periodic relist bounds any drift. Written on client-node's Watch rather than makeInformer:
// 1.4's makeInformer has no field selector and stops for good on errors other than 410.
//
// Sync state: the view is in sync once a LIST is applied, and stays so while the watch that follows
// it runs or resumes cleanly. A failing LIST, a watch error, a 410 or a silent watch make it out of
// sync until the next LIST is applied; the server refuses to place pods meanwhile (fail closed).

import type { Watch } from '@kubernetes/client-node';
import { isTimeout } from './timeouts.js';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface ListResult {
  items: unknown[];
  resourceVersion: string;
}

export interface ReflectorOptions {
  name: string;
  path: string;
  fieldSelector?: string;
  /** One LIST; `signal` aborts it at its deadline (listTimeoutMs) or when the reflector stops. */
  list: (signal: AbortSignal) => Promise<ListResult>;
  /** Deadline of one LIST, ms. */
  listTimeoutMs: number;
  watch: Watch;
  /** `listStartedAt`: when the LIST was sent (epoch ms): what changed after it may be missing from `items`. */
  onReset: (items: unknown[], listStartedAt: number) => void;
  onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: unknown) => void;
  logger: Logger;
  /** Full relist every this many ms (stalled-watch guard and drift bound). */
  resyncPeriodMs: number;
  /** Relist when no event (bookmarks included) arrived for this long. */
  watchdogMs: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

/** Where a resource's view stands; only `synced` lets the server place pods. */
export type SyncPhase = 'initial-list' | 'synced' | 'list-failing' | 'watch-failing' | 'relisting';

export interface SyncState {
  phase: SyncPhase;
  /** When the phase began (ms since the epoch). */
  since: number;
  /** The last error, for /readyz and logs (never part of the text kube-scheduler shows). */
  lastError?: string;
}

export interface ReflectorStats {
  lists: number;
  watches: number;
  events: number;
  errors: number;
  gone: number;
  watchdogRestarts: number;
}

function rv(obj: unknown): string | undefined {
  const md = (obj as { metadata?: { resourceVersion?: unknown } } | null)?.metadata;
  return typeof md?.resourceVersion === 'string' ? md.resourceVersion : undefined;
}

export class Reflector {
  readonly stats: ReflectorStats = { lists: 0, watches: 0, events: 0, errors: 0, gone: 0, watchdogRestarts: 0 };
  private synced = false;
  private sync: SyncState = { phase: 'initial-list', since: Date.now() };
  private stopped = false;
  private resourceVersion = '';
  private controller: AbortController | null = null;
  /** Aborts in-flight LISTs on stop(). */
  private readonly life = new AbortController();
  /** A LIST is in flight, or a retry is scheduled: the ticker starts no other. */
  private listing = false;
  private lastEventAt = Date.now();
  private lastListAt = 0;
  private backoffMs: number;
  private timer: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;
  /** Bumped on every (re)connection so callbacks of an abandoned watch are ignored. */
  private epoch = 0;

  constructor(private readonly o: ReflectorOptions) {
    this.backoffMs = o.backoffInitialMs ?? 1000;
  }

  /** True once the first LIST has been applied (whatever happened since). */
  hasSynced(): boolean {
    return this.synced;
  }

  /** True while the view is known to follow the API server (see the header). */
  inSync(): boolean {
    return this.sync.phase === 'synced';
  }

  syncState(): SyncState {
    return { ...this.sync };
  }

  private setPhase(phase: SyncPhase, error?: string): void {
    const since = this.sync.phase === phase ? this.sync.since : Date.now();
    const lastError = phase === 'synced' ? undefined : (error ?? this.sync.lastError);
    this.sync = lastError === undefined ? { phase, since } : { phase, since, lastError };
  }


  start(): void {
    this.ticker = setInterval(() => this.tick(), Math.max(50, Math.min(this.o.watchdogMs, this.o.resyncPeriodMs) / 4));
    this.ticker.unref();
    void this.relist('start');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.epoch++;
    if (this.timer) clearTimeout(this.timer);
    if (this.ticker) clearInterval(this.ticker);
    this.controller?.abort();
    this.life.abort();
  }

  private tick(): void {
    if (this.stopped || !this.synced || this.listing) return;
    const now = Date.now();
    if (now - this.lastListAt >= this.o.resyncPeriodMs) {
      void this.relist('periodic resync');
    } else if (this.controller && now - this.lastEventAt >= this.o.watchdogMs) {
      this.stats.watchdogRestarts++;
      this.o.logger.warn({ resource: this.o.name, silentMs: now - this.lastEventAt }, 'watch silent for too long: relisting');
      // Events may have been missed: out of sync until the relist is applied.
      this.setPhase('relisting', `watch silent for ${now - this.lastEventAt} ms`);
      void this.relist('watchdog');
    }
  }

  private schedule(reason: string, phase: 'list-failing' | 'watch-failing'): void {
    if (this.stopped) return;
    this.setPhase(phase, reason);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoffMaxMs ?? 30_000);
    this.o.logger.warn({ resource: this.o.name, retryInMs: delay, reason }, 'list/watch failed: retrying');
    if (this.timer) clearTimeout(this.timer);
    this.listing = true;
    this.timer = setTimeout(() => void this.relist('retry'), delay);
    this.timer.unref();
  }

  private async relist(reason: string): Promise<void> {
    if (this.stopped) return;
    const epoch = ++this.epoch;
    this.controller?.abort();
    this.controller = null;
    let result: ListResult;
    this.listing = true;
    const listStartedAt = Date.now();
    try {
      result = await this.o.list(AbortSignal.any([this.life.signal, AbortSignal.timeout(this.o.listTimeoutMs)]));
    } catch (err) {
      if (epoch !== this.epoch) return;
      this.listing = false;
      this.stats.errors++;
      const why = isTimeout(err) ? `no answer within ${this.o.listTimeoutMs} ms (--api-timeout)` : err instanceof Error ? err.message : String(err);
      this.schedule(`list: ${why}`, 'list-failing');
      return;
    }
    if (epoch !== this.epoch || this.stopped) return;
    this.listing = false;
    this.stats.lists++;
    this.lastListAt = Date.now();
    this.lastEventAt = Date.now();
    this.resourceVersion = result.resourceVersion;
    this.o.onReset(result.items, listStartedAt);
    if (!this.synced) this.o.logger.info({ resource: this.o.name, items: result.items.length }, 'initial list applied');
    else if (!this.inSync()) this.o.logger.info({ resource: this.o.name, items: result.items.length, reason }, 'relisted: back in sync');
    else this.o.logger.debug({ resource: this.o.name, items: result.items.length, reason }, 'relisted');
    this.synced = true;
    this.setPhase('synced');
    await this.startWatch(epoch);
  }

  private async startWatch(epoch: number): Promise<void> {
    const params: Record<string, string | boolean> = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true };
    if (this.o.fieldSelector) params.fieldSelector = this.o.fieldSelector;
    this.stats.watches++;
    let gone = false;
    let errorEvent: string | null = null;
    try {
      const controller = await this.o.watch.watch(
        this.o.path,
        params,
        (type, obj) => {
          if (epoch !== this.epoch) return;
          this.lastEventAt = Date.now();
          if (type === 'ERROR') {
            const status = obj as { code?: unknown; message?: unknown } | null;
            if (status?.code === 410) gone = true;
            else errorEvent = `ERROR event ${String(status?.code)}: ${String(status?.message ?? '')}`.slice(0, 300);
            return;
          }
          const v = rv(obj);
          if (v) this.resourceVersion = v;
          if (type === 'BOOKMARK') return;
          if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
            this.stats.events++;
            this.backoffMs = this.o.backoffInitialMs ?? 1000;
            this.o.onEvent(type, obj);
          }
        },
        (err: unknown) => {
          if (epoch !== this.epoch || this.stopped) return;
          const status = (err as { statusCode?: unknown } | null)?.statusCode;
          if (gone || status === 410) {
            this.stats.gone++;
            this.o.logger.info({ resource: this.o.name }, 'watch expired (410 Gone): relisting');
            this.setPhase('relisting', 'watch expired (410 Gone)');
            void this.relist('410 Gone');
          } else if (err || errorEvent) {
            this.stats.errors++;
            this.schedule(`watch: ${err ? (err instanceof Error ? err.message : String(err)) : errorEvent}`, 'watch-failing');
          } else {
            // The server closed the watch (normal, periodic): resume from the last version.
            void this.startWatch(epoch);
          }
        },
      );
      if (epoch === this.epoch) this.controller = controller;
      else controller.abort();
    } catch (err) {
      if (epoch !== this.epoch) return;
      this.stats.errors++;
      this.schedule(`watch: ${err instanceof Error ? err.message : String(err)}`, 'watch-failing');
    }
  }
}
