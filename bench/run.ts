// `npm run bench [-- --quick] [-- --only inprocess,http,memory,cycle]`: the in-process hot path,
// HTTP latency against a same-run baseline, memory and start-up, and scheduling cycles (trace
// shapes; skipped without ../shared/trace). Prints a markdown report and writes JSON to
// bench/results/. kube-scheduler's own throughput is `npm run bench:scheduler` (real control plane).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchInProcessIsolated, type InProcessRow } from './inprocess.js';
import { generateCluster, probePod } from './cluster-gen.js';
import { benchCycles, cycleTable, type CycleReport } from './cycle.js';
import type { LoadResult } from './loadgen.js';
import { benchMemory, type MemoryRow } from './memory.js';
import { startLedger, startReference } from './processes.js';
import { median } from '../src/cli/replay/report.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const repo = resolve(here, '..', '..');

interface HttpRow {
  clusterNodes: number;
  names: number;
  mode: 'names' | 'full-nodes';
  concurrency: number;
  /** Round of the interleaved measurement (the same case is measured `rounds` times). */
  round: number;
  ledger: LoadResult;
  baseline: LoadResult;
  p99Ratio: number;
  p50Ratio: number;
}

function load(url: string, bodyFile: string, concurrency: number, durationMs: number): Promise<LoadResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(here, 'loadgen.js'), url, bodyFile, String(concurrency), String(durationMs), String(Math.min(1000, durationMs / 3))], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => (code === 0 ? res(JSON.parse(out) as LoadResult) : rej(new Error(`loadgen exited ${code}`))));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

function filterBody(names: string[], nodes: unknown[] | null, pod: unknown): string {
  return JSON.stringify({ Pod: pod, Nodes: nodes ? { metadata: {}, items: nodes } : null, NodeNames: nodes ? null : names });
}

async function benchHttp(clusterSizes: number[], nameCounts: number[], fullNodeCounts: number[], concurrencies: number[], durationMs: number, rounds: number, tmp: string): Promise<HttpRow[]> {
  const rows: HttpRow[] = [];
  // The pod kube-scheduler 1.30 really sent (fixture), so the body has the real shape.
  const fixture = JSON.parse(readFileSync(join(repo, 'test', 'fixtures', 'kube-scheduler-1.30', 'filter-nodenames.json'), 'utf8')) as { Pod: unknown };
  const pod = fixture.Pod ?? probePod('bench-http');
  const baseline = await startReference('baseline-server.js');
  try {
    for (const size of clusterSizes) {
      const c = generateCluster(size);
      const snap = join(tmp, `cluster-${size}.json`);
      writeFileSync(snap, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...c.nodes, ...c.pods] }));
      const ledger = await startLedger(['--snapshot', snap]);
      try {
        const cases: { names: number; mode: 'names' | 'full-nodes' }[] = [
          ...nameCounts.filter((n) => n <= size).map((names) => ({ names, mode: 'names' as const })),
          ...fullNodeCounts.filter((n) => n <= size).map((names) => ({ names, mode: 'full-nodes' as const })),
        ];
        for (const k of cases) {
          // The scheduler sends the first feasible batch: take an evenly spread sample of names.
          const step = size / k.names;
          const idx = Array.from({ length: k.names }, (_, i) => Math.floor(i * step));
          const body = filterBody(
            idx.map((i) => c.names[i]),
            k.mode === 'full-nodes' ? idx.map((i) => c.nodes[i]) : null,
            pod,
          );
          const bodyFile = join(tmp, `body-${size}-${k.names}-${k.mode}.json`);
          writeFileSync(bodyFile, body);
          for (const concurrency of concurrencies) {
            for (let round = 1; round <= rounds; round++) {
              // Interleave ledger and baseline so machine noise hits both alike.
              const b = await load(`${baseline.url}/filter`, bodyFile, concurrency, durationMs);
              const l = await load(`${ledger.url}/filter`, bodyFile, concurrency, durationMs);
              rows.push({ clusterNodes: size, names: k.names, mode: k.mode, concurrency, round, ledger: l, baseline: b, p99Ratio: l.p99Us / b.p99Us, p50Ratio: l.p50Us / b.p50Us });
              process.stderr.write(`http ${size} nodes, ${k.names} ${k.mode}, c=${concurrency}, round ${round}: p99 ${l.p99Us.toFixed(0)} µs vs baseline ${b.p99Us.toFixed(0)} µs\n`);
            }
          }
        }
      } finally {
        await stop(ledger.child);
      }
    }
  } finally {
    await stop(baseline.child);
  }
  return rows;
}

const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} µs`);

/** The HTTP rows of one case (all rounds). */
function httpCase(http: HttpRow[], names: number, concurrency: number, mode: HttpRow['mode'] = 'names', size = 5000): HttpRow[] {
  return http.filter((r) => r.names === names && r.mode === mode && r.concurrency === concurrency && r.clusterNodes === size);
}

function ratioText(rows: HttpRow[]): string {
  const ratios = rows.map((r) => r.p99Ratio);
  return rows.length === 1 ? `${ratios[0].toFixed(2)}×` : `${median(ratios).toFixed(2)}× (rounds ${ratios.map((x) => x.toFixed(2)).join(', ')})`;
}

interface Results {
  inproc: InProcessRow[];
  http: HttpRow[];
  mem: MemoryRow[];
  cycle: CycleReport | null;
}

function report(machine: Record<string, string>, r: Results, command: string): string {
  const lines: string[] = [];
  lines.push(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}, Node ${machine.node}, ${machine.os}. Command: \`${command}\`, ${machine.date}.`);
  if (r.inproc.length) {
    lines.push('', '**In-process** (tinybench; ~8 GPU pods and 2 pods without GPUs per node in the ledger; 1 filter/prioritize call = all nodes):', '');
    lines.push('| nodes | pods | case | mean per call | p99 per call | ns per node | calls/s |');
    lines.push('|---:|---:|---|---:|---:|---:|---:|');
    for (const x of r.inproc) lines.push(`| ${x.nodes} | ${x.pods} | ${x.case} | ${us(x.meanUs)} | ${us(x.p99Us)} | ${x.nsPerNode.toFixed(0)} | ${x.callsPerSec.toFixed(0)} |`);
  }
  if (r.http.length) {
    lines.push('', '**HTTP filter** (server in snapshot mode, separate load-generator process, keep-alive; baseline = minimal Node.js server that parses the same body and answers all names, measured just before each gpu-ledger round):', '');
    lines.push('| cluster | names | mode | conc. | round | gpu-ledger p50 / p90 / p99 / max | req/s | baseline p50 / p99 | p50 ratio | p99 ratio |');
    lines.push('|---:|---:|---|---:|---:|---|---:|---|---:|---:|');
    for (const x of r.http) {
      lines.push(
        `| ${x.clusterNodes} | ${x.names} | ${x.mode} | ${x.concurrency} | ${x.round} | ${us(x.ledger.p50Us)} / ${us(x.ledger.p90Us)} / ${us(x.ledger.p99Us)} / ${us(x.ledger.maxUs)} | ${x.ledger.rps.toFixed(0)} | ${us(x.baseline.p50Us)} / ${us(x.baseline.p99Us)} | ${x.p50Ratio.toFixed(2)}× | ${x.p99Ratio.toFixed(2)}× |`,
      );
    }
  }
  if (r.mem.length) {
    lines.push('', '**Memory and start-up** (each load in a fresh process; peak = getrusage maxrss):', '');
    lines.push('| load | nodes | pods (without GPUs) | snapshot | load time | peak RSS | steady RSS | heap used | peak / steady |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of r.mem) {
      lines.push(
        `| ${m.mode === 'stream' ? 'streamed (serve)' : 'parsed whole (before)'} | ${m.nodes} | ${m.pods} (${m.cpuPods}) | ${m.snapshotMB.toFixed(0)} MB JSON | ${(m.loadMs / 1000).toFixed(2)} s | ${m.peakRssMB.toFixed(0)} MB | ${m.rssMB.toFixed(0)} MB | ${m.heapUsedMB.toFixed(0)} MB | ${m.peakRatio.toFixed(2)} |`,
      );
    }
  }
  if (r.cycle) lines.push('', '**Scheduling cycles** (trace shapes; filter → prioritize → bind per pod):', '', cycleTable(r.cycle));
  lines.push('', '**Targets**:');
  const at = (c: string) => r.inproc.find((x) => x.nodes === 5000 && x.case === c);
  const newPod = at('filter new pod');
  const newShape = at('filter new shape');
  lines.push(`- new pod of a known shape ≤ 100 ns per node at 5,000 nodes: ${newPod ? `${newPod.nsPerNode.toFixed(0)} ns — ${newPod.nsPerNode <= 100 ? 'met' : 'NOT met'}` : 'not measured in this run'}`);
  const floor = at('reference: reads alone');
  lines.push(
    `- never-seen shape ≤ 500 ns per node at 5,000 nodes: ${newShape ? `${newShape.nsPerNode.toFixed(0)} ns — ${newShape.nsPerNode <= 500 ? 'met' : 'NOT met'}${floor ? ` (the reads alone, same run: ${floor.nsPerNode.toFixed(0)} ns)` : ''}` : 'not measured in this run'}`,
  );
  for (const [names, limit] of [
    [5000, 1.5],
    [500, 1.2],
  ] as const) {
    const rows = httpCase(r.http, names, 1);
    const m = median(rows.map((x) => x.p99Ratio));
    lines.push(`- HTTP filter p99 at ${names} names ≤ ${limit}× the baseline's (concurrency 1): ${rows.length ? `${ratioText(rows)} — ${m <= limit ? 'met' : 'NOT met'}` : 'not measured in this run'}`);
  }
  const stream = r.mem.find((m) => m.mode === 'stream');
  if (stream) {
    lines.push(`- load peak ≤ 2× steady state (${stream.nodes} nodes / ${stream.pods} pods): ${stream.peakRatio.toFixed(2)}× — ${stream.peakRatio <= 2 ? 'met' : 'NOT met'}`);
    lines.push(`- steady state ≤ 300 MB: ${stream.rssMB.toFixed(0)} MB — ${stream.rssMB <= 300 ? 'met' : 'NOT met'}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', default: 'inprocess,http,memory,cycle' },
      rounds: { type: 'string' },
      'trace-dir': { type: 'string', default: resolve(repo, '..', 'shared', 'trace') },
    },
  });
  const quick = values.quick;
  const only = new Set(values.only.split(',').map((s) => s.trim()));
  const rounds = Number(values.rounds ?? (quick ? 1 : 3));
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown CPU',
    cores: String(os.cpus().length),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    date: new Date().toISOString().slice(0, 10),
  };
  const tmp = mkdtempSync(join(os.tmpdir(), 'gpu-ledger-bench-'));
  try {
    const r: Results = { inproc: [], http: [], mem: [], cycle: null };
    if (only.has('inprocess')) {
      process.stderr.write('in-process…\n');
      r.inproc = await benchInProcessIsolated(quick ? [1000, 5000] : [100, 1000, 5000, 15000], { timeMs: quick ? 400 : 2000, podsPerNode: 10 });
    }
    if (only.has('http')) {
      process.stderr.write('http…\n');
      r.http = await benchHttp(quick ? [5000] : [1000, 5000], quick ? [500, 5000] : [100, 500, 1000, 5000], quick ? [] : [100, 1000], quick ? [1] : [1, 4], quick ? 1500 : 4000, rounds, tmp);
    }
    if (only.has('memory')) {
      process.stderr.write('memory…\n');
      r.mem = await benchMemory(15000, 10);
    }
    if (only.has('cycle')) {
      process.stderr.write('cycles…\n');
      r.cycle = await benchCycles(values['trace-dir'], 5000, quick ? 300 : 1000);
      if (!r.cycle) process.stderr.write(`cycles skipped: no trace at ${values['trace-dir']}\n`);
    }
    const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
    const md = report(machine, r, command);
    process.stdout.write(md + '\n');
    const dir = join(repo, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    // A partial run is named after what it ran: it never overwrites the day's full run.
    const partial = values.only === 'inprocess,http,memory,cycle' ? '' : `-${[...only].join('-')}`;
    const file = join(dir, `bench-${machine.date}${partial}${quick ? '-quick' : ''}.json`);
    const cycle = r.cycle ? { ...r.cycle, runs: r.cycle.runs.map(({ placements: _p, ...rest }) => rest) } : null;
    writeFileSync(file, JSON.stringify({ machine, command, inproc: r.inproc, http: r.http, memory: r.mem, cycle }, null, 2) + '\n');
    process.stderr.write(`wrote ${file}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
