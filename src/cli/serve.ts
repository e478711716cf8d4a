// `gpu-ledger serve`: resolve settings (flag > env var > config file `server:` > default), load the
// ledger from snapshot files or the cluster, and serve HTTP(S). Snapshot and live mode differ only
// in the event source and the Binder.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import { loadConfigFile } from '../model/config.js';
import { defaultConfig, type LedgerConfig } from '../model/config-types.js';
import { createHandler } from '../server/app.js';
import { parseSize } from '../server/verbs.js';
import { createMetrics } from '../server/metrics.js';
import { ClusterState } from '../state/cluster-state.js';
import type { Binder, BindRequest } from '../state/sink.js';
import { SERVE_FLAGS } from './flags.js';
import { loadSnapshotFiles } from './snapshot-files.js';
import { UsageError } from './explain.js';

export interface ServeOptions {
  snapshot: string[];
  config: LedgerConfig;
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  maxBody: string;
  kubeconfig?: string;
  reservationTtlMs: number;
  resyncPeriodMs: number;
  preemption: boolean;
  logLevel: string;
}

export interface RunningServer {
  url: string;
  port: number;
  state: ClusterState;
  server: http.Server;
  logger: Logger;
  close(): Promise<void>;
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
  'max-body': 'maxBody',
  'reservation-ttl': 'reservationTtl',
  'resync-period': 'resyncPeriod',
  'log-level': 'logLevel',
  'tls-cert': 'tlsCert',
  'tls-key': 'tlsKey',
  'client-ca': 'clientCa',
  kubeconfig: 'kubeconfig',
  preemption: 'preemption',
};

export const SERVE_USAGE = `usage: gpu-ledger serve [flags]

${SERVE_FLAGS.map((f) => `  --${f.name}${f.type === 'string' ? ' <value>' : ''}${f.multiple ? '...' : ''}\n      ${f.help}${f.default !== undefined ? ` (default ${f.default})` : ''}; env ${f.env}`).join('\n')}
`;

/** Resolves every setting: flag > env var > config file `server:` section > default. */
export function resolveServeOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeOptions | 'help' {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' } };
  for (const f of SERVE_FLAGS) options[f.name] = { type: f.type, ...(f.multiple ? { multiple: true } : {}) };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true }));
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${SERVE_USAGE}`);
  }
  if (values.help) return 'help';
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
  const port = Number(get('port'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port "${get('port')}" is not a port number`);
  const maxBody = get('max-body') ?? '64mb';
  try {
    parseSize(maxBody);
  } catch {
    throw new UsageError(`--max-body "${maxBody}" is not a size (e.g. 64mb)`);
  }
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  const logLevel = get('log-level') ?? 'info';
  if (!levels.includes(logLevel)) throw new UsageError(`--log-level "${logLevel}" must be one of ${levels.join(', ')}`);
  const tlsCert = get('tls-cert');
  const tlsKey = get('tls-key');
  if (Boolean(tlsCert) !== Boolean(tlsKey)) throw new UsageError('--tls-cert and --tls-key go together');
  const clientCa = get('client-ca');
  if (clientCa && !tlsCert) throw new UsageError('--client-ca needs --tls-cert/--tls-key (mTLS is HTTPS)');
  const pre = get('preemption');
  const preemption = pre === 'true' || (pre === undefined ? config.preemption : pre === '1');
  return {
    snapshot,
    config,
    host: get('host') ?? '127.0.0.1',
    port,
    tlsCert,
    tlsKey,
    clientCa,
    maxBody,
    kubeconfig: get('kubeconfig'),
    reservationTtlMs: parseDuration(get('reservation-ttl') ?? '120s', '--reservation-ttl'),
    resyncPeriodMs: parseDuration(get('resync-period') ?? '5m', '--resync-period'),
    preemption: preemption || config.preemption,
    logLevel,
  };
}

/** Snapshot mode: no API server; a bind is final as soon as the ledger holds it. */
class SnapshotBinder implements Binder {
  constructor(private readonly state: ClusterState) {}
  async bind(req: BindRequest): Promise<void> {
    this.state.ledger.confirm(req.podUid);
  }
}

export async function startServer(opts: ServeOptions, logger: Logger = pino({ level: opts.logLevel })): Promise<RunningServer> {
  const state = new ClusterState({ config: opts.config, reservationTtlMs: opts.reservationTtlMs });
  let binder: Binder;
  let liveReady: (() => boolean) | undefined;
  let stopLive: (() => Promise<void>) | undefined;
  if (opts.snapshot.length > 0) {
    const snap = await loadSnapshotFiles(opts.snapshot);
    state.resetNodes(snap.nodes);
    state.resetPods(snap.pods);
    binder = new SnapshotBinder(state);
    logger.info({ files: opts.snapshot, nodes: state.ledger.nodes.size, pods: state.ledger.pods.size }, 'ledger loaded from snapshot');
  } else {
    // Loaded only in live mode: snapshot mode never needs the Kubernetes client.
    const { startLiveMode } = await import('../kube/live.js');
    const live = await startLiveMode({ kubeconfig: opts.kubeconfig, sink: state, resyncPeriodMs: opts.resyncPeriodMs, logger });
    binder = live.binder;
    liveReady = live.ready;
    stopLive = live.stop;
  }
  const metrics = createMetrics(state);
  const app = createHandler({ state, binder, logger, metrics, preemption: opts.preemption, maxBody: opts.maxBody, ready: liveReady });
  let server: http.Server;
  let scheme = 'http';
  if (opts.tlsCert && opts.tlsKey) {
    scheme = 'https';
    server = https.createServer(
      {
        cert: readFileSync(opts.tlsCert),
        key: readFileSync(opts.tlsKey),
        ...(opts.clientCa ? { ca: readFileSync(opts.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
      },
      app,
    );
  } else {
    server = http.createServer(app);
  }
  // kube-scheduler keeps connections alive; outlive its idle timeouts so it never hits a closed socket.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `${scheme}://${host}:${port}`;
  logger.info({ url, mode: opts.snapshot.length ? 'snapshot' : 'live', tls: scheme === 'https', mtls: Boolean(opts.clientCa) }, `listening on ${url}`);

  const expiry = setInterval(() => {
    const expired = state.expire();
    if (expired.length > 0) {
      metrics.expired.inc(expired.length);
      logger.warn({ pods: expired.map((a) => `${a.namespace}/${a.name}`), node: expired.map((a) => a.node) }, 'reservations expired');
    }
  }, Math.max(1000, Math.min(10_000, opts.reservationTtlMs / 4)));
  expiry.unref();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(expiry);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await stopLive?.();
    })());
  return { url, port, state, server, logger, close };
}

export async function runServe(argv: string[]): Promise<number> {
  const opts = resolveServeOptions(argv);
  if (opts === 'help') {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  const logger = pino({ level: opts.logLevel });
  const running = await startServer(opts, logger);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down: finishing in-flight requests');
      // In-flight requests finish; a stuck one cannot hold the process forever.
      setTimeout(() => {
        logger.warn('shutdown timed out; closing connections');
        running.server.closeAllConnections();
      }, 10_000).unref();
      running.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  logger.info('stopped');
  return 0;
}
