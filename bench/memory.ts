// Memory and start-up: load a cluster of N nodes / M pods from a snapshot file the way
// `gpu-ledger serve --snapshot` does (read, parse YAML/JSON, build the ledger), in a fresh
// process so RSS is not polluted by other benchmarks. Prints one JSON line.

import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadSnapshotFiles } from '../src/cli/snapshot-files.js';
import { defaultConfig } from '../src/model/config-types.js';
import { ClusterState } from '../src/state/cluster-state.js';
import { generateCluster } from './cluster-gen.js';

export interface MemoryRow {
  nodes: number;
  pods: number;
  snapshotMB: number;
  loadMs: number;
  /** Right after loading (includes the parse's transient peak still mapped). */
  rssAfterLoadMB: number;
  /** Steady state, a few seconds later. */
  rssMB: number;
  heapUsedMB: number;
}

async function main(): Promise<void> {
  const nodes = Number(process.argv[2] ?? 15000);
  const podsPerNode = Number(process.argv[3] ?? 10);
  const dir = mkdtempSync(join(tmpdir(), 'gpu-ledger-mem-'));
  const file = join(dir, 'snapshot.json');
  {
    const c = generateCluster(nodes, podsPerNode);
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...c.nodes, ...c.pods] }));
  }
  global.gc?.();
  const t0 = performance.now();
  const snap = await loadSnapshotFiles([file]);
  const state = new ClusterState({ config: defaultConfig() });
  state.resetNodes(snap.nodes);
  state.resetPods(snap.pods);
  const loadMs = performance.now() - t0;
  const pods = snap.pods.length;
  // Drop the parsed snapshot (a server keeps only the ledger), then measure what remains.
  snap.nodes.length = 0;
  snap.pods.length = 0;
  global.gc?.();
  const afterLoad = process.memoryUsage();
  // Steady state: what a serving process holds once the load's transient garbage is collected
  // and V8 has had time to give unused pages back.
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 400));
    global.gc?.();
  }
  const m = process.memoryUsage();
  const { size } = await import('node:fs').then((fs) => fs.statSync(file));
  rmSync(dir, { recursive: true, force: true });
  const row: MemoryRow = {
    nodes,
    pods,
    snapshotMB: size / 2 ** 20,
    loadMs,
    rssAfterLoadMB: afterLoad.rss / 2 ** 20,
    rssMB: m.rss / 2 ** 20,
    heapUsedMB: m.heapUsed / 2 ** 20,
  };
  // Keep the state alive until after measuring.
  if (state.ledger.nodes.size !== nodes) throw new Error('not all nodes loaded');
  process.stdout.write(JSON.stringify(row) + '\n');
}

void main();
