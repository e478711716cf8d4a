// `gpu-ledger serve`: resolve settings (flag > env var > config file `server:` > default), load the
// ledger from snapshot files or the cluster, and serve two listeners: the extender port (the verbs,
// loopback by default, HTTP or HTTPS/mTLS) and the read-only status port (metrics, health,
// readiness, explain). Snapshot and live mode differ only in the event source and the Binder.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { loadConfigFile } from '../model/config.js';
import { defaultConfig, type LedgerConfig } from '../model/config-types.js';
import { createApp, createVerbsHandler } from '../server/app.js';
import { Pipeline } from '../prioritize/pipeline.js';
import { BodyBudget, parseSize } from '../server/body.js';
import { ConnectionTracker } from '../server/connections.js';
import { createMetrics, type Metrics } from '../server/metrics.js';
import { DEFAULT_PREEMPTION, Preemptor, type PreemptionSettings } from '../server/preemption.js';
import type { PreemptionApi } from '../preempt/api.js';
import { SNAPSHOT_SYNC, type SyncSource } from '../server/sync-gate.js';
import { ClusterState } from '../state/cluster-state.js';
import type { Binder, BindRequest } from '../state/sink.js';
import { SERVE_FLAGS } from './flags.js';
import { tuneGarbageCollector } from './gc-tuning.js';
import { loadSnapshotInto } from './snapshot-files.js';
import { createLogger, type LogFormat } from './pretty-log.js';
import { UsageError } from './usage-error.js';
import { parseCommand } from './args.js';

export interface ServeOptions {
  snapshot: string[];
  config: LedgerConfig;
  /** Extender port (the verbs). */
  host: string;
  port: number;
  /** Read-only status port (metrics, health, readiness, explain). */
  statusHost: string;
  statusPort: number;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  maxBody: string;
  /** Bytes all bodies being read may hold at once, e.g. "128mb". Default: 2 × maxBody. */
  bodyBudget?: string;
  /** Open connections per listener. */
  maxConnections?: number;
  kubeconfig?: string;
  /** Live mode: deadline of each LIST and watch connection, ms. */
  apiTimeoutMs?: number;
  /** Live mode: deadline of a whole bind, ms. */
  bindTimeoutMs?: number;
  reservationTtlMs: number;
  resyncPeriodMs: number;
  preemption: boolean;
  /** With preemption: nomination TTL, evictions in flight, cool-down (default DEFAULT_PREEMPTION). */
  preemptionSettings?: PreemptionSettings;
  logLevel: string;
  /** json (default) or pretty. */
  logFormat?: LogFormat;
  /** Per-pod allocation gauges (opt-in: one series per pod and GPU). */
  podMetrics?: boolean;
  /** HTTP timeouts (tests shorten them; not flags). */
  transport?: Partial<Transport>;
}

/**
 * HTTP server timeouts. kube-scheduler's Go transport closes idle keep-alive connections after 90 s
 * (IdleConnTimeout); the server must keep them longer, or a request sent on a connection the server
 * is closing at that moment is reset. Headers and whole requests get their own, shorter deadlines
 * (they count from a request's first byte, not from an idle connection's last one), checked every
 * checkIntervalMs.
 */
export interface Transport {
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  checkIntervalMs: number;
}

export const TRANSPORT: Transport = { keepAliveTimeoutMs: 120_000, headersTimeoutMs: 30_000, requestTimeoutMs: 60_000, checkIntervalMs: 5_000 };

export interface RunningServer {
  /** The extender port's URL (verbs). */
  url: string;
  port: number;
  /** The status port's URL (read-only). */
  statusUrl: string;
  statusPort: number;
  state: ClusterState;
  server: http.Server;
  statusServer: http.Server;
  logger: Logger;
  /** Graceful: stop accepting, finish requests in flight, close idle connections at once. */
  close(): Promise<void>;
  /** Forced: drop every connection (the shutdown deadline passed). */
  destroyConnections(): void;
}

/** "120s", "5m", "1h", "500ms", or a number of seconds. */
export function parseDuration(text: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${field} "${text}" is not a duration (e.g. 120s, 5m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

const CONFIG_KEY: Record<string, string> = {
  host: 'host',
  port: 'port',
  'status-host': 'statusHost',
  'status-port': 'statusPort',
  'max-body': 'maxBody',
  'body-budget': 'bodyBudget',
  'max-connections': 'maxConnections',
  'api-timeout': 'apiTimeout',
  'bind-timeout': 'bindTimeout',
  'reservation-ttl': 'reservationTtl',
  'resync-period': 'resyncPeriod',
  'log-level': 'logLevel',
  'tls-cert': 'tlsCert',
  'tls-key': 'tlsKey',
  'client-ca': 'clientCa',
  kubeconfig: 'kubeconfig',
  preemption: 'preemption',
  'preemption-ttl': 'preemptionTtl',
  'preemption-max-evictions': 'preemptionMaxEvictions',
  'preemption-cooldown': 'preemptionCooldown',
  'log-format': 'logFormat',
  'pod-metrics': 'podMetrics',
};

export const SERVE_USAGE = `usage: gpu-ledger serve [flags]

Serves the extender verbs (filter, prioritize, bind, preempt) on the extender port and the read-only
status port (metrics, health, readiness, explain, the ledger page /ui/ and /api/ledger), from
snapshot files or, without --snapshot, from the cluster (live mode). Each flag can also be set by
its environment variable or the config file's server: section (flag > env > file > default).

flags:
${SERVE_FLAGS.map((f) => `  --${f.name}${f.type === 'string' ? ' <value>' : ''}${f.multiple ? '...' : ''}\n      ${f.help}${f.default !== undefined ? ` (default ${f.default})` : ''}; env ${f.env}`).join('\n')}
  -h, --help
      this help

examples:
  gpu-ledger serve --snapshot examples/demo-cluster.yaml          # the demo (npm start); page: http://127.0.0.1:8889/ui/
  gpu-ledger serve --kubeconfig ~/.kube/config --log-format pretty  # live mode from a workstation
  gpu-ledger serve --config /etc/gpu-ledger/config.yaml --status-host 0.0.0.0 --pod-metrics
`;

/** Resolves every setting: flag > env var > config file `server:` section > default. */
export function resolveServeOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeOptions | 'help' {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const f of SERVE_FLAGS) options[f.name] = { type: f.type, ...(f.multiple ? { multiple: true } : {}) };
  const parsed = parseCommand({ command: 'gpu-ledger serve', options }, argv);
  if (parsed === 'help') return 'help';
  const { values } = parsed;
  const configPath = (values.config as string | undefined) ?? env.GPU_LEDGER_CONFIG;
  const config = configPath ? loadConfigFile(configPath) : defaultConfig();
  const get = (name: string): string | undefined => {
    const spec = SERVE_FLAGS.find((f) => f.name === name)!;
    const v = values[name];
    if (Array.isArray(v)) return v.map(String).join(',');
    if (v !== undefined) return String(v);
    if (env[spec.env] !== undefined && env[spec.env] !== '') return env[spec.env];
    const fromFile = config.server?.[CONFIG_KEY[name] ?? name];
    if (fromFile !== undefined) return String(fromFile);
    return spec.default;
  };
  const snapshotFlag = values.snapshot as string[] | undefined;
  const snapshot = snapshotFlag?.length ? snapshotFlag : (env.GPU_LEDGER_SNAPSHOT ?? '').split(',').filter((s) => s !== '');
  const portOf = (flag: string): number => {
    const p = Number(get(flag));
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new UsageError(`--${flag} "${get(flag)}" is not a port number`);
    return p;
  };
  const port = portOf('port');
  const statusPort = portOf('status-port');
  const host = get('host') ?? '127.0.0.1';
  const statusHost = get('status-host') ?? '127.0.0.1';
  if (port !== 0 && port === statusPort) throw new UsageError(`--status-port ${statusPort} must differ from --port: the status port never serves the verbs`);
  const size = (flag: string, fallback: string): { text: string; bytes: number } => {
    const text = get(flag) ?? fallback;
    try {
      const bytes = parseSize(text);
      if (bytes <= 0) throw new Error('zero');
      return { text, bytes };
    } catch {
      throw new UsageError(`--${flag} "${text}" is not a size (e.g. 64mb)`);
    }
  };
  const maxBody = size('max-body', '64mb');
  const bodyBudget = size('body-budget', '128mb');
  if (bodyBudget.bytes < maxBody.bytes) throw new UsageError(`--body-budget ${bodyBudget.text} is smaller than --max-body ${maxBody.text}: a request of the largest size could never be read`);
  const maxConnections = Number(get('max-connections') ?? '256');
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new UsageError(`--max-connections "${get('max-connections')}" must be a positive whole number`);
  const positiveDuration = (flag: string, fallback: string): number => {
    const ms = parseDuration(get(flag) ?? fallback, `--${flag}`);
    if (ms <= 0) throw new UsageError(`--${flag} "${get(flag)}" must be longer than 0`);
    return ms;
  };
  const apiTimeoutMs = positiveDuration('api-timeout', '60s');
  const bindTimeoutMs = positiveDuration('bind-timeout', '4s');
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  const logLevel = get('log-level') ?? 'info';
  if (!levels.includes(logLevel)) throw new UsageError(`--log-level "${logLevel}" must be one of ${levels.join(', ')}`);
  const tlsCert = get('tls-cert');
  const tlsKey = get('tls-key');
  if (Boolean(tlsCert) !== Boolean(tlsKey)) throw new UsageError('--tls-cert and --tls-key go together');
  const clientCa = get('client-ca');
  if (clientCa && !tlsCert) throw new UsageError('--client-ca needs --tls-cert/--tls-key (mTLS is HTTPS)');
  // Flag > env var > the file's server.preemption > its top-level preemption > false (get() would
  // answer the flag's default before the top-level key is consulted).
  const fileServer = config.server?.preemption;
  const pre = values.preemption !== undefined ? String(values.preemption) : env.GPU_LEDGER_PREEMPTION ? env.GPU_LEDGER_PREEMPTION : fileServer !== undefined ? String(fileServer) : undefined;
  const preemption = pre === undefined ? config.preemption : pre === 'true' || pre === '1';
  const maxEvictions = Number(get('preemption-max-evictions') ?? '10');
  if (!Number.isInteger(maxEvictions) || maxEvictions < 1) throw new UsageError(`--preemption-max-evictions "${get('preemption-max-evictions')}" must be a positive whole number`);
  const preemptionSettings: PreemptionSettings = {
    nominationTtlMs: positiveDuration('preemption-ttl', '120s'),
    maxEvictionsInFlight: maxEvictions,
    cooldownMs: parseDuration(get('preemption-cooldown') ?? '5s', '--preemption-cooldown'),
  };
  const logFormat = get('log-format') ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'pretty') throw new UsageError(`--log-format "${logFormat}" must be json or pretty`);
  const podMetricsText = get('pod-metrics') ?? 'false';
  if (!['true', 'false', '1', '0'].includes(podMetricsText)) throw new UsageError(`--pod-metrics "${podMetricsText}" must be true or false`);
  return {
    snapshot,
    config,
    host,
    port,
    statusHost,
    statusPort,
    tlsCert,
    tlsKey,
    clientCa,
    maxBody: maxBody.text,
    bodyBudget: bodyBudget.text,
    maxConnections,
    kubeconfig: get('kubeconfig'),
    apiTimeoutMs,
    bindTimeoutMs,
    reservationTtlMs: parseDuration(get('reservation-ttl') ?? '120s', '--reservation-ttl'),
    resyncPeriodMs: parseDuration(get('resync-period') ?? '5m', '--resync-period'),
    preemption,
    preemptionSettings,
    logLevel,
    logFormat,
    podMetrics: podMetricsText === 'true' || podMetricsText === '1',
  };
}

/** Snapshot mode: no API server; a bind is final as soon as the ledger holds it. */
class SnapshotBinder implements Binder {
  constructor(private readonly state: ClusterState) {}
  async bind(req: BindRequest): Promise<void> {
    this.state.ledger.confirm(req.podUid);
  }
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Timeouts and the connection cap, the same on both listeners. */
function harden(server: http.Server, name: string, transport: Transport, maxConnections: number, metrics: Metrics, logger: Logger): void {
  server.keepAliveTimeout = transport.keepAliveTimeoutMs;
  server.headersTimeout = transport.headersTimeoutMs;
  server.requestTimeout = transport.requestTimeoutMs;
  // Beyond the cap Node closes new connections at once; count them so the refusals are visible.
  server.maxConnections = maxConnections;
  server.on('drop', () => {
    metrics.connectionsDropped.inc({ listener: name });
    logger.warn({ listener: name, maxConnections }, 'connection refused: --max-connections reached');
  });
}

export async function startServer(opts: ServeOptions, logger: Logger = createLogger(opts.logLevel, opts.logFormat)): Promise<RunningServer> {
  const state = new ClusterState({
    config: opts.config,
    reservationTtlMs: opts.reservationTtlMs,
    // Once per node and change of its inventory: an unusable label or annotation is never silent.
    onNodeProblems: (node, problems) => logger.warn({ node, problems: problems.map((p) => ({ field: p.field, value: p.value, message: p.message })) }, 'node GPU inventory has problems: pods are refused there until they are fixed'),
  });
  let binder: Binder;
  let sync: SyncSource = SNAPSHOT_SYNC;
  let stopLive: (() => Promise<void>) | undefined;
  let preemptionApi: PreemptionApi | undefined;
  if (opts.snapshot.length > 0) {
    // Streamed into the ledger (a 15,000-node dump parsed whole peaked at ~3× the ledger it built).
    await loadSnapshotInto(state, opts.snapshot);
    binder = new SnapshotBinder(state);
    logger.info({ files: opts.snapshot, nodes: state.ledger.nodes.size, pods: state.ledger.pods.size }, 'ledger loaded from snapshot');
    if (opts.preemption) logger.info('--preemption in snapshot mode: nothing is evicted (no API server); /preempt and explain use the victim search');
  } else {
    // Loaded only in live mode: snapshot mode never needs the Kubernetes client.
    const { startLiveMode } = await import('../kube/live.js');
    const live = await startLiveMode({
      kubeconfig: opts.kubeconfig,
      sink: state,
      resyncPeriodMs: opts.resyncPeriodMs,
      apiTimeoutMs: opts.apiTimeoutMs,
      bindTimeoutMs: opts.bindTimeoutMs,
      logger,
    });
    binder = live.binder;
    if (opts.preemption) preemptionApi = live.preemptionApi;
    sync = () => ({ inSync: live.ready(), resources: live.sync() });
    stopLive = live.stop;
  }
  const metrics = createMetrics(state, () => state.ready() && sync().inSync, { podMetrics: opts.podMetrics });
  const maxBody = parseSize(opts.maxBody);
  const budgetText = opts.bodyBudget ?? `2 × ${opts.maxBody}`;
  const budget = new BodyBudget(opts.bodyBudget ? parseSize(opts.bodyBudget) : 2 * maxBody, budgetText);
  const pipeline = new Pipeline(state);
  const preemptor = preemptionApi
    ? new Preemptor({ pipeline, api: preemptionApi, metrics, logger, settings: opts.preemptionSettings ?? DEFAULT_PREEMPTION, inSync: () => state.ready() && sync().inSync })
    : undefined;
  const appOpts = { state, binder, logger, metrics, preemption: opts.preemption, preemptor, maxBody: opts.maxBody, budget, sync, pipeline };
  const transport: Transport = { ...TRANSPORT, ...opts.transport };
  const serverOptions: http.ServerOptions = { connectionsCheckingInterval: transport.checkIntervalMs };

  const verbs = createVerbsHandler(appOpts);
  let server: http.Server;
  let scheme = 'http';
  if (opts.tlsCert && opts.tlsKey) {
    scheme = 'https';
    server = https.createServer(
      {
        ...serverOptions,
        cert: readFileSync(opts.tlsCert),
        key: readFileSync(opts.tlsKey),
        ...(opts.clientCa ? { ca: readFileSync(opts.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
      },
      verbs,
    );
  } else {
    server = http.createServer(serverOptions, verbs);
  }
  const statusServer = http.createServer(serverOptions, createApp(appOpts));
  const maxConnections = opts.maxConnections ?? 256;
  harden(server, 'extender', transport, maxConnections, metrics, logger);
  harden(statusServer, 'status', transport, maxConnections, metrics, logger);
  const trackers = [new ConnectionTracker(server), new ConnectionTracker(statusServer)];

  let port: number;
  let statusPort: number;
  try {
    port = await listen(server, opts.port, opts.host);
    statusPort = await listen(statusServer, opts.statusPort, opts.statusHost);
  } catch (err) {
    // e.g. EADDRINUSE on the second port: leave nothing running behind the error.
    server.close();
    statusServer.close();
    await stopLive?.();
    throw err;
  }
  const hostOf = (h: string) => (h.includes(':') ? `[${h}]` : h);
  const url = `${scheme}://${hostOf(opts.host)}:${port}`;
  const statusUrl = `http://${hostOf(opts.statusHost)}:${statusPort}`;
  logger.info({ url, statusUrl, mode: opts.snapshot.length ? 'snapshot' : 'live', tls: scheme === 'https', mtls: Boolean(opts.clientCa) }, `listening on ${url} (extender), ${statusUrl} (status)`);

  const expiry = setInterval(() => {
    const all = state.expire();
    const expired = all.filter((a) => a.state === 'reserved');
    if (expired.length > 0) {
      metrics.expired.inc(expired.length);
      logger.warn({ pods: expired.map((a) => `${a.namespace}/${a.name}`), node: expired.map((a) => a.node) }, 'reservations expired');
    }
    const nominations = all.filter((a) => a.state === 'nominated');
    if (nominations.length > 0) logger.info({ pods: nominations.map((a) => `${a.namespace}/${a.name}`), node: nominations.map((a) => a.node) }, 'preemption nominations expired (the pods did not bind in time)');
  }, Math.max(1000, Math.min(10_000, opts.reservationTtlMs / 4)));
  expiry.unref();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(expiry);
      await Promise.all(trackers.map((t) => t.drain()));
      // Attempts under way end within their API deadlines; shutdown waits for them a few seconds at most.
      if (preemptor) await Promise.race([preemptor.idle(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      await stopLive?.();
    })());
  const destroyConnections = () => trackers.forEach((t) => t.destroyAll());
  return { url, port, statusUrl, statusPort, state, server, statusServer, logger, close, destroyConnections };
}

export async function runServe(argv: string[]): Promise<number> {
  const opts = resolveServeOptions(argv);
  if (opts === 'help') {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  // Before anything is loaded (./gc-tuning.ts says why).
  const pretenuring = tuneGarbageCollector();
  const logger = createLogger(opts.logLevel, opts.logFormat);
  logger.debug({ allocationSitePretenuring: pretenuring }, 'garbage collector');
  const running = await startServer(opts, logger);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down: finishing in-flight requests');
      // In-flight requests finish; a stuck one cannot hold the process forever.
      setTimeout(() => {
        logger.warn('shutdown timed out; closing connections');
        running.destroyConnections();
      }, 10_000).unref();
      running.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  logger.info('stopped');
  return 0;
}
