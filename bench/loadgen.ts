// Closed-loop HTTP load generator, run as its own process so it does not share an event loop
// (or a core's time slices) with the server under test. Keep-alive connections, `concurrency`
// requests in flight, latency per request from hrtime (µs resolution — autocannon's histogram
// rounds to whole milliseconds, too coarse for sub-millisecond replies).
// Usage: node loadgen.js <url> <body-file> <concurrency> <durationMs> [warmupMs]

import { readFileSync } from 'node:fs';
import http from 'node:http';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function run(url: string, body: Buffer, concurrency: number, durationMs: number, warmupMs: number): Promise<LoadResult> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const one = () =>
    new Promise<number>((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = http.request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            resolve(Number(process.hrtime.bigint() - t0) / 1000);
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve(-1);
      });
      req.end(body);
    });
  const worker = async (until: number, record: boolean) => {
    while (performance.now() < until) {
      const us = await one();
      if (record && us >= 0) latencies.push(us);
    }
  };
  const warmEnd = performance.now() + warmupMs;
  await Promise.all(Array.from({ length: concurrency }, () => worker(warmEnd, false)));
  errors = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => worker(start + durationMs, true)));
  const elapsed = performance.now() - start;
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((a, b) => a + b, 0);
  return {
    requests: latencies.length,
    errors,
    rps: (latencies.length * 1000) / elapsed,
    p50Us: percentile(sorted, 50),
    p90Us: percentile(sorted, 90),
    p99Us: percentile(sorted, 99),
    maxUs: sorted.length ? sorted[sorted.length - 1] : 0,
    meanUs: latencies.length ? sum / latencies.length : 0,
  };
}

const [url, bodyFile, conc, dur, warm] = process.argv.slice(2);
if (url && bodyFile) {
  run(url, readFileSync(bodyFile), Number(conc ?? 1), Number(dur ?? 3000), Number(warm ?? 500)).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
