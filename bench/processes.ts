// The benchmarks' child processes: gpu-ledger's server as users run it (`bin/gpu-ledger.js serve`,
// its own process) and the small reference servers (the JSON echo baseline, the stub extender).

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const repo = resolve(here, '..', '..');

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = a && typeof a === 'object' ? a.port : 0;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export interface LedgerProcess {
  /** The verbs (extender port). */
  url: string;
  port: number;
  /** Readiness, metrics (status port). */
  statusUrl: string;
  statusPort: number;
  child: ChildProcess;
}

/**
 * `gpu-ledger serve <source…>` on two free loopback ports, resolved once /readyz answers 200.
 * GPU_LEDGER_BENCH_NODE_FLAGS: Node.js flags for the server process (e.g. `--cpu-prof` to profile it).
 */
export async function startLedger(source: readonly string[], timeoutMs = 120_000): Promise<LedgerProcess> {
  const port = await freePort();
  const statusPort = await freePort();
  const flags = (process.env.GPU_LEDGER_BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  const child = spawn(process.execPath, [...flags, join(repo, 'bin', 'gpu-ledger.js'), 'serve', ...source, '--port', String(port), '--status-port', String(statusPort), '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const statusUrl = `http://127.0.0.1:${statusPort}`;
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${statusUrl}/readyz`)).status === 200) return { url: `http://127.0.0.1:${port}`, port, statusUrl, statusPort, child };
    } catch {
      /* not listening yet */
    }
    if (child.exitCode !== null) throw new Error(`gpu-ledger serve exited (${child.exitCode}) before it was ready`);
    if (Date.now() > end) {
      child.kill();
      throw new Error(`gpu-ledger serve not ready after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A reference server of dist/bench (`script`), which prints `listening on <url>` when it is up. */
export function startReference(script: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(here, script)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    let buf = '';
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) res({ url: m[1], child });
    });
    child.on('exit', (code) => rej(new Error(`${script} exited (${code})`)));
  });
}

/** gpu-ledger's request-duration histogram per verb so far (from its /metrics): seconds in all, and requests. */
export async function verbMeans(statusUrl: string): Promise<Record<string, { sum: number; count: number }>> {
  const text = await (await fetch(`${statusUrl}/metrics`)).text();
  const out: Record<string, { sum: number; count: number }> = {};
  for (const m of text.matchAll(/^gpu_ledger_request_duration_seconds_(sum|count)\{verb="([^"]+)"\} (\S+)$/gm)) {
    const e = (out[m[2]] ??= { sum: 0, count: 0 });
    if (m[1] === 'sum') e.sum = Number(m[3]);
    else e.count = Number(m[3]);
  }
  return out;
}
