// Memory and start-up: a cluster of N nodes / M pods (GPU pods and pods without GPUs) loaded from a
// snapshot file the way `gpu-ledger serve --snapshot` does, in a fresh process per measurement so
// its peak RSS is the load's own. The parent writes the file; each child loads it and prints one
// JSON line: `stream` is what serve does (src/cli/snapshot-files.ts: items parsed one at a time),
// `whole` the former way (the file parsed whole, then resetNodes/resetPods), for comparison.
//
//   node memory.js <nodes> <podsPerNode>            → both modes, one row each
//   node memory.js --load <file> <stream|whole>     → (child) one row

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadSnapshotFiles, loadSnapshotInto } from '../src/cli/snapshot-files.js';
import { defaultConfig } from '../src/model/config-types.js';
import { ClusterState } from '../src/state/cluster-state.js';
import { generateCluster } from './cluster-gen.js';
import { tuneGarbageCollector } from '../src/cli/gc-tuning.js';

export interface MemoryRow {
  mode: 'stream' | 'whole';
  nodes: number;
  pods: number;
  /** Pods without GPUs among them (recorded by the ledger for their CPU). */
  cpuPods: number;
  snapshotMB: number;
  loadMs: number;
  /** Peak RSS of the process up to the end of the load (getrusage maxrss). */
  peakRssMB: number;
  /** Steady state: after the load's garbage is collected and V8 has returned unused pages (15 s after the load). */
  rssMB: number;
  heapUsedMB: number;
  /** peak / steady. */
  peakRatio: number;
}

const mb = (bytes: number) => bytes / 2 ** 20;

/** How long after the load the steady state is read (see load()). */
const SETTLE_MS = 15_000;

async function load(file: string, mode: 'stream' | 'whole'): Promise<MemoryRow> {
  // The server's garbage-collector setting (src/cli/gc-tuning.ts): this process runs what serve runs.
  tuneGarbageCollector();
  global.gc?.();
  const t0 = performance.now();
  const state = new ClusterState({ config: defaultConfig() });
  if (mode === 'stream') await loadSnapshotInto(state, [file]);
  else {
    const snap = await loadSnapshotFiles([file]);
    state.resetNodes(snap.nodes);
    state.resetPods(snap.pods);
    // A server keeps only the ledger.
    snap.nodes.length = 0;
    snap.pods.length = 0;
  }
  const loadMs = performance.now() - t0;
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 400));
    global.gc?.();
  }
  // V8 returns the pages a load's garbage left behind only when its memory reducer runs, some
  // seconds after allocation stops (its first pass waits 8 s): measured 2.4 s after the load, the
  // same build read 230-250 MB or, in about one run of three, 310-340 MB, back to ~245 MB by 17 s.
  // A server's steady state is after that.
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  global.gc?.();
  const m = process.memoryUsage();
  let cpuPods = 0;
  for (const a of state.ledger.pods.values()) if (a.cpuOnly) cpuPods++;
  const rssMB = mb(m.rss);
  return { mode, nodes: state.ledger.nodes.size, pods: state.ledger.pods.size, cpuPods, snapshotMB: mb(statSync(file).size), loadMs, peakRssMB, rssMB, heapUsedMB: mb(m.heapUsed), peakRatio: peakRssMB / rssMB };
}

function child(file: string, mode: 'stream' | 'whole'): Promise<MemoryRow> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--load', file, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) => (code === 0 ? res(JSON.parse(out) as MemoryRow) : rej(new Error(`memory bench (${mode}) exited ${code}`))));
  });
}

/** Writes the cluster as a v1 List JSON file and measures both load paths, each in its own process. */
export async function benchMemory(nodes: number, podsPerNode: number): Promise<MemoryRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-ledger-mem-'));
  try {
    const file = join(dir, 'snapshot.json');
    {
      const c = generateCluster(nodes, podsPerNode);
      writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...c.nodes, ...c.pods] }));
    }
    return [await child(file, 'stream'), await child(file, 'whole')];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const run = args[0] === '--load' ? load(args[1], args[2] === 'whole' ? 'whole' : 'stream').then((r) => [r]) : benchMemory(Number(args[0] ?? 15000), Number(args[1] ?? 10));
  run.then(
    (rows) => process.stdout.write(rows.map((r) => JSON.stringify(r)).join('\n') + '\n'),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
