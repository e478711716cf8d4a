// Starts a real gpu-ledger server on a loopback port for tests, and talks to it over HTTP.
import { pino } from 'pino';
import { startServer, type RunningServer, type ServeOptions } from '../../src/cli/serve.js';
import { defaultConfig } from '../../src/model/config-types.js';

export async function serve(snapshot: string[], extra: Partial<ServeOptions> = {}): Promise<RunningServer> {
  return startServer(
    {
      ...extra,
      snapshot,
      config: extra.config ?? defaultConfig(),
      host: '127.0.0.1',
      port: extra.port ?? 0,
      statusHost: '127.0.0.1',
      statusPort: extra.statusPort ?? 0,
      maxBody: extra.maxBody ?? '64mb',
      reservationTtlMs: extra.reservationTtlMs ?? 120_000,
      resyncPeriodMs: 300_000,
      preemption: extra.preemption ?? false,
      logLevel: 'silent',
    },
    pino({ level: 'silent' }),
  );
}

export async function post(url: string, body: unknown, raw = false): Promise<{ status: number; type: string; json: unknown; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ? (body as string) : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', json, text };
}
