// One resource kept in sync: LIST, then WATCH from the list's resourceVersion; on 410 Gone or any
// watch error, LIST again (with backoff after errors). Every LIST replaces the sink's view
// completely, so objects deleted while the watch was down are released. A watchdog relists when
// the watch has been silent for too long (half-open TCP: client-node #364, #596, #958), and a
// periodic relist bounds any drift. Written on client-node's Watch rather than makeInformer:
// 1.4's makeInformer has no field selector and stops for good on errors other than 410.

import type { Watch } from '@kubernetes/client-node';

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
  list: () => Promise<ListResult>;
  watch: Watch;
  onReset: (items: unknown[]) => void;
  onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: unknown) => void;
  logger: Logger;
  /** Full relist every this many ms (stalled-watch guard and drift bound). */
  resyncPeriodMs: number;
  /** Relist when no event (bookmarks included) arrived for this long. */
  watchdogMs: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
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
  private stopped = false;
  private resourceVersion = '';
  private controller: AbortController | null = null;
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

  hasSynced(): boolean {
    return this.synced;
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
  }

  private tick(): void {
    if (this.stopped || !this.synced) return;
    const now = Date.now();
    if (now - this.lastListAt >= this.o.resyncPeriodMs) {
      void this.relist('periodic resync');
    } else if (this.controller && now - this.lastEventAt >= this.o.watchdogMs) {
      this.stats.watchdogRestarts++;
      this.o.logger.warn({ resource: this.o.name, silentMs: now - this.lastEventAt }, 'watch silent for too long: relisting');
      void this.relist('watchdog');
    }
  }

  private schedule(reason: string): void {
    if (this.stopped) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoffMaxMs ?? 30_000);
    this.o.logger.warn({ resource: this.o.name, retryInMs: delay, reason }, 'list/watch failed: retrying');
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.relist('retry'), delay);
    this.timer.unref();
  }

  private async relist(reason: string): Promise<void> {
    if (this.stopped) return;
    const epoch = ++this.epoch;
    this.controller?.abort();
    this.controller = null;
    let result: ListResult;
    try {
      result = await this.o.list();
    } catch (err) {
      if (epoch !== this.epoch) return;
      this.stats.errors++;
      this.schedule(`list: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (epoch !== this.epoch || this.stopped) return;
    this.stats.lists++;
    this.lastListAt = Date.now();
    this.lastEventAt = Date.now();
    this.resourceVersion = result.resourceVersion;
    this.o.onReset(result.items);
    if (!this.synced) this.o.logger.info({ resource: this.o.name, items: result.items.length }, 'initial list applied');
    else this.o.logger.debug({ resource: this.o.name, items: result.items.length, reason }, 'relisted');
    this.synced = true;
    await this.startWatch(epoch);
  }

  private async startWatch(epoch: number): Promise<void> {
    const params: Record<string, string | boolean> = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true };
    if (this.o.fieldSelector) params.fieldSelector = this.o.fieldSelector;
    this.stats.watches++;
    let gone = false;
    try {
      const controller = await this.o.watch.watch(
        this.o.path,
        params,
        (type, obj) => {
          if (epoch !== this.epoch) return;
          this.lastEventAt = Date.now();
          if (type === 'ERROR') {
            const code = (obj as { code?: unknown } | null)?.code;
            if (code === 410) gone = true;
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
            void this.relist('410 Gone');
          } else if (err) {
            this.stats.errors++;
            this.schedule(`watch: ${err instanceof Error ? err.message : String(err)}`);
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
      this.schedule(`watch: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
