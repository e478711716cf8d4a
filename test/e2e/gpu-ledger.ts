// The one place that starts and stops gpu-ledger for the e2e scenarios, in live mode against the
// real API server.
//
// In-process, through startServer() — the function `gpu-ledger serve` itself calls — rather than
// spawning `node bin/gpu-ledger.js serve` from dist/: `npm test` does not build, so a spawned
// server would test whatever stale dist/ happens to be there (or nothing, on a fresh clone), and
// in-process the canonical ledger dump can read the server's own state next to its /metrics.
// Everything kube-scheduler does goes over real HTTP on loopback all the same.

import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { DEFAULT_PREEMPTION, type PreemptionSettings } from '../../src/server/preemption.js';
import type { E2eEnv } from './control-plane.js';
import { until } from './wait.js';

export interface LedgerOptions {
  /** kubeconfig gpu-ledger runs under (default: the admin one) */
  kubeconfig?: string;
  /** listen port (default: a free one); a restart passes the old one, as kube-scheduler knows only that */
  port?: number;
  reservationTtlMs?: number;
  resyncPeriodMs?: number;
  /** wait for /readyz before returning (default true) */
  waitReady?: boolean;
  /** serve --preemption (default off), and its settings */
  preemption?: boolean;
  preemptionSettings?: Partial<PreemptionSettings>;
  /** serve --pod-metrics */
  podMetrics?: boolean;
}

export interface Ledger {
  running: RunningServer;
  /** http://127.0.0.1:<port> — the extender verbs, kube-scheduler's urlPrefix */
  url: string;
  /** where /metrics, /readyz, /healthz and /explain are served: the read-only status port */
  statusUrl: string;
  port: number;
  /** its log (pino JSON lines) */
  logFile: string;
  stop(): Promise<void>;
}

let started = 0;

export async function ready(ledger: Pick<Ledger, 'statusUrl'>, timeoutMs = 30_000): Promise<void> {
  const url = `${ledger.statusUrl}/readyz`;
  await until(async () => (await fetch(url)).status === 200, `gpu-ledger ${url}`, timeoutMs);
}

export async function startLedger(env: E2eEnv, o: LedgerOptions = {}): Promise<Ledger> {
  // Logs go to a file in the run's scratch directory (kept with GPU_LEDGER_E2E_KEEP=1).
  const logFile = join(env.work, `gpu-ledger-${process.pid}-${++started}.log`);
  const log = createWriteStream(logFile);
  // A stopped server's last requests (a bind whose API call was held, say) may still log: drop that.
  let open = true;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (open) log.write(chunk);
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const running = await startServer(
    {
      snapshot: [],
      config: defaultConfig(),
      host: '127.0.0.1',
      port: o.port ?? 0,
      statusHost: '127.0.0.1',
      statusPort: 0,
      maxBody: '64mb',
      kubeconfig: o.kubeconfig ?? env.kubeconfig,
      reservationTtlMs: o.reservationTtlMs ?? 120_000,
      resyncPeriodMs: o.resyncPeriodMs ?? 300_000,
      preemption: o.preemption ?? false,
      preemptionSettings: { ...DEFAULT_PREEMPTION, ...o.preemptionSettings },
      logLevel: 'info',
      podMetrics: o.podMetrics,
    },
    logger,
  );
  const url = running.url;
  const statusUrl = running.statusUrl;
  if (o.waitReady !== false) await ready({ statusUrl });
  return {
    running,
    url,
    statusUrl,
    port: running.port,
    logFile,
    stop: async () => {
      // kube-scheduler keeps connections alive: drop them, as a stopped process would.
      running.server.closeAllConnections();
      await running.close();
      open = false;
      await new Promise<void>((r) => log.end(r));
    },
  };
}
