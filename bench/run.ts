// `npm run bench [-- --quick]`: the in-process hot path, HTTP latency against a same-run
// baseline, memory and start-up. Prints a markdown report and writes JSON to bench/results/.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchInProcessIsolated, type InProcessRow } from './inprocess.js';
import { generateCluster, probePod } from './cluster-gen.js';
import type { LoadResult } from './loadgen.js';
import type { MemoryRow } from './memory.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const repo = resolve(here, '..', '..');

interface HttpRow {
  clusterNodes: number;
  names: number;
  mode: 'names' | 'full-nodes';
  concurrency: number;
  ledger: LoadResult;
  baseline: LoadResult;
  p99Ratio: number;
}

function freePort(): Promise<number> {
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

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > end) throw new Error(`server at ${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startLedger(snapshot: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const statusPort = await freePort();
  const child = spawn(process.execPath, [join(repo, 'bin', 'gpu-ledger.js'), 'serve', '--snapshot', snapshot, '--port', String(port), '--status-port', String(statusPort)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // Readiness is on the read-only status port; the verbs on the extender port.
  await waitReady(`http://127.0.0.1:${statusPort}`, 120_000);
  return { url: `http://127.0.0.1:${port}`, child };
}

async function startBaseline(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(here, 'baseline-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((res, rej) => {
    let buf = '';
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) res(m[1]);
    });
    child.on('exit', () => rej(new Error('baseline exited')));
  });
  return { url, child };
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

async function benchHttp(clusterSizes: number[], nameCounts: number[], fullNodeCounts: number[], durationMs: number, tmp: string): Promise<HttpRow[]> {
  const rows: HttpRow[] = [];
  // The pod kube-scheduler 1.30 really sent (fixture), so the body has the real shape.
  const fixture = JSON.parse(readFileSync(join(repo, 'test', 'fixtures', 'kube-scheduler-1.30', 'filter-nodenames.json'), 'utf8')) as { Pod: unknown };
  const pod = fixture.Pod ?? probePod('bench-http');
  const baseline = await startBaseline();
  try {
    for (const size of clusterSizes) {
      const c = generateCluster(size);
      const snap = join(tmp, `cluster-${size}.json`);
      writeFileSync(snap, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...c.nodes, ...c.pods] }));
      const ledger = await startLedger(snap);
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
          for (const concurrency of [1, 4]) {
            // Interleave ledger and baseline so machine noise hits both alike.
            const b = await load(`${baseline.url}/filter`, bodyFile, concurrency, durationMs);
            const l = await load(`${ledger.url}/filter`, bodyFile, concurrency, durationMs);
            rows.push({ clusterNodes: size, names: k.names, mode: k.mode, concurrency, ledger: l, baseline: b, p99Ratio: l.p99Us / b.p99Us });
            process.stderr.write(`http ${size} nodes, ${k.names} ${k.mode}, c=${concurrency}: p99 ${l.p99Us.toFixed(0)} µs vs baseline ${b.p99Us.toFixed(0)} µs\n`);
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

function memory(nodes: number, podsPerNode: number): Promise<MemoryRow> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--expose-gc', join(here, 'memory.js'), String(nodes), String(podsPerNode)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => (code === 0 ? res(JSON.parse(out) as MemoryRow) : rej(new Error(`memory bench exited ${code}`))));
  });
}

const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} µs`);

function report(machine: Record<string, string>, inproc: InProcessRow[], http: HttpRow[], mem: MemoryRow, quick: boolean): string {
  const lines: string[] = [];
  lines.push(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}, Node ${machine.node}, ${machine.os}. Command: \`npm run bench${quick ? ' -- --quick' : ''}\`, ${machine.date}.`);
  lines.push('');
  lines.push('**In-process** (tinybench; ~10 GPU pods per node in the ledger; 1 filter/prioritize call = all nodes):');
  lines.push('');
  lines.push('| nodes | pods | case | mean per call | p99 per call | ns per node | calls/s |');
  lines.push('|---:|---:|---|---:|---:|---:|---:|');
  for (const r of inproc) lines.push(`| ${r.nodes} | ${r.pods} | ${r.case} | ${us(r.meanUs)} | ${us(r.p99Us)} | ${r.nsPerNode.toFixed(0)} | ${r.callsPerSec.toFixed(0)} |`);
  lines.push('');
  lines.push('**HTTP filter** (server in snapshot mode, separate load-generator process, keep-alive; baseline = minimal Node.js server that parses the same body and answers all names, same run):');
  lines.push('');
  lines.push('| cluster | names | mode | conc. | gpu-ledger p50 / p90 / p99 / max | req/s | baseline p50 / p99 | p99 ratio |');
  lines.push('|---:|---:|---|---:|---|---:|---|---:|');
  for (const r of http) {
    lines.push(
      `| ${r.clusterNodes} | ${r.names} | ${r.mode} | ${r.concurrency} | ${us(r.ledger.p50Us)} / ${us(r.ledger.p90Us)} / ${us(r.ledger.p99Us)} / ${us(r.ledger.maxUs)} | ${r.ledger.rps.toFixed(0)} | ${us(r.baseline.p50Us)} / ${us(r.baseline.p99Us)} | ${r.p99Ratio.toFixed(2)}× |`,
    );
  }
  lines.push('');
  lines.push(
    `**Memory and start-up**: ${mem.nodes} nodes / ${mem.pods} pods (snapshot ${mem.snapshotMB.toFixed(0)} MB JSON) load in ${(mem.loadMs / 1000).toFixed(2)} s; ` +
      `RSS ${mem.rssAfterLoadMB.toFixed(0)} MB right after loading (the parse's transient peak), ${mem.rssMB.toFixed(0)} MB steady state; heap used ${mem.heapUsedMB.toFixed(0)} MB.`,
  );
  lines.push('');
  const at5k = inproc.filter((r) => r.nodes === 5000 && r.case === 'filter cached');
  const http5k = http.filter((r) => r.names === 5000 && r.mode === 'names' && r.concurrency === 1);
  lines.push('**Targets**:');
  lines.push(`- ≤ 100 ns per candidate node in-process at 5,000 nodes (cached filter): ${at5k.length ? `${at5k[0].nsPerNode.toFixed(0)} ns — ${at5k[0].nsPerNode <= 100 ? 'met' : 'NOT met'}` : 'not measured in this run'}`);
  lines.push(`- HTTP p99 at 5,000 names ≤ 1.5× baseline p99 (concurrency 1): ${http5k.length ? `${http5k[0].p99Ratio.toFixed(2)}× — ${http5k[0].p99Ratio <= 1.5 ? 'met' : 'NOT met'}` : 'not measured in this run'}`);
  lines.push(
    `- RSS ≤ 300 MB with ${mem.nodes} nodes / ${mem.pods} pods: steady state ${mem.rssMB.toFixed(0)} MB — ${mem.rssMB <= 300 ? 'met' : 'NOT met'}; ` +
      `right after loading ${mem.rssAfterLoadMB.toFixed(0)} MB — ${mem.rssAfterLoadMB <= 300 ? 'met' : 'NOT met'}`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
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
    process.stderr.write('in-process…\n');
    const inproc = await benchInProcessIsolated(quick ? [100, 1000, 5000] : [100, 1000, 5000, 15000], { timeMs: quick ? 400 : 2000, podsPerNode: 10 });
    process.stderr.write('http…\n');
    const http = await benchHttp(quick ? [5000] : [1000, 5000], quick ? [100, 1000, 5000] : [100, 500, 1000, 5000], quick ? [100] : [100, 1000], quick ? 1500 : 5000, tmp);
    process.stderr.write('memory…\n');
    const mem = await memory(15000, 10);
    const md = report(machine, inproc, http, mem, quick);
    process.stdout.write(md + '\n');
    const dir = join(repo, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `bench-${machine.date}${quick ? '-quick' : ''}.json`);
    writeFileSync(file, JSON.stringify({ machine, quick, inproc, http, memory: mem }, null, 2) + '\n');
    process.stderr.write(`wrote ${file}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
