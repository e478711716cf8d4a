// In-process hot path: filter and prioritize over synthetic clusters, measured with tinybench
// (warm-up included). Three kinds of pod per verb:
//   "same pod"  — the same pod object again (kube-scheduler retrying a pod);
//   "new pod"   — a new pod object (new UID) of a shape seen before: what a real cluster mostly
//                 sends (replicas of a Deployment, tiers). Parsed anew; the nodes' memos answer;
//   "new shape" — a new UID and a shape never seen: every node computes its fit from scratch.
// And a same-run reference for the last: "reads alone", a loop that only reads per candidate what a
// one-replica pod's fit must read (the name's node, its inventory, every GPU's usage, the picked
// GPU's numbers) and decides nothing (no rule, no answer, no memo): the floor the ledger's memory
// layout leaves on this machine, measured beside the filter so the machine's drift hits both alike.

import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { defaultConfig } from '../src/model/config-types.js';
import { Pipeline } from '../src/prioritize/pipeline.js';
import { ClusterState } from '../src/state/cluster-state.js';
import { gpuExclusive, gpuPods, gpuReplicas, usageOf } from '../src/gpu/usage.js';
import { generateCluster, probePod } from './cluster-gen.js';
import { tuneGarbageCollector } from '../src/cli/gc-tuning.js';

export interface InProcessRow {
  nodes: number;
  pods: number;
  case: string;
  /** Mean time of one call. */
  meanUs: number;
  p99Us: number;
  nsPerNode: number;
  callsPerSec: number;
  samples: number;
}

export function loadState(nodes: number, podsPerNode: number): { state: ClusterState; names: string[]; pods: number } {
  const c = generateCluster(nodes, podsPerNode);
  const state = new ClusterState({ config: defaultConfig() });
  state.resetNodes(c.nodes);
  state.resetPods(c.pods);
  return { state, names: c.names, pods: c.pods.length };
}

/**
 * The reference loop (see the header): per name, the reads a one-replica pod's fit makes, nothing
 * else. Returns a count so the reads cannot be optimised away.
 */
export function readsAlone(state: ClusterState, names: readonly string[], memoryBytes: number): number {
  const nodes = state.ledger.nodes;
  let sink = 0;
  for (let k = 0; k < names.length; k++) {
    const node = nodes.get(names[k]);
    if (node === undefined) continue;
    const inv = node.inventory;
    if (inv.problems.length > 0 || inv.gpus.length === 0) continue;
    let best = -1;
    for (let i = 0; i < inv.gpus.length; i++) {
      sink += gpuPods(node, i);
      if (gpuExclusive(node, i) > 0 || gpuReplicas(node, i) >= inv.gpus[i].replicas) continue;
      if (best < 0 || gpuReplicas(node, i) < gpuReplicas(node, best)) best = i;
    }
    if (best < 0) continue;
    const u = usageOf(node, best);
    if (u.memoryBytes + memoryBytes <= inv.gpus[best].memoryBytes && u.threadMilli < 1000 && u.clients < inv.mpsMaxClients) sink++;
  }
  return sink;
}

export async function benchInProcess(sizes: readonly number[], options: { timeMs: number; podsPerNode: number }): Promise<InProcessRow[]> {
  // The server's garbage-collector setting (src/cli/gc-tuning.ts): this process runs what serve runs.
  tuneGarbageCollector();
  const rows: InProcessRow[] = [];
  for (const n of sizes) {
    const { state, names, pods } = loadState(n, options.podsPerNode);
    const pipeline = new Pipeline(state);
    const samePod = probePod('probe-same');
    let seq = 0;
    let sink = 0;
    const newPod = () => probePod(`probe-pod-${++seq}`);
    const newShape = () => {
      // A new UID and a new shape (thread % and memory vary) defeats every memo.
      const p = probePod(`probe-${++seq}`) as { spec: { containers: { env: { value: string }[] }[] } };
      p.spec.containers[0].env[0].value = String(1 + (seq % 97));
      p.spec.containers[0].env[1].value = `0=${1 + (seq % 89)}00M`;
      return p;
    };
    const bench = new Bench({ time: options.timeMs, warmupTime: Math.min(500, options.timeMs / 2) });
    // As the server does: the pod's UID joins the workload model at filter (pipeline.filter's uid).
    const filter = (pod: unknown) => {
      const d = state.demandOf(pod);
      pipeline.filter(d, names, undefined, d.uid);
    };
    bench
      .add('filter same pod', () => filter(samePod))
      .add('filter new pod', () => filter(newPod()))
      .add('filter new shape', () => filter(newShape()))
      .add('reference: reads alone', () => {
        sink += readsAlone(state, names, (1 + (++seq % 89)) * 100 * 2 ** 20);
      })
      .add('prioritize same pod', () => {
        pipeline.rank(state.demandOf(samePod), names);
      })
      .add('prioritize new pod', () => {
        pipeline.rank(state.demandOf(newPod()), names);
      })
      .add('prioritize new shape', () => {
        pipeline.rank(state.demandOf(newShape()), names);
      });
    await bench.run();
    if (sink < 0) throw new Error('unreachable: keeps the reference loop observable');
    for (const t of bench.tasks) {
      const r = t.result;
      if (!r) continue;
      const meanMs = r.mean;
      rows.push({
        nodes: n,
        pods,
        case: t.name,
        meanUs: meanMs * 1000,
        p99Us: r.p99 * 1000,
        nsPerNode: (meanMs * 1e6) / n,
        callsPerSec: 1000 / meanMs,
        samples: r.samples.length,
      });
    }
  }
  return rows;
}

/**
 * Each cluster size in a fresh process (`node inprocess.js <nodes> <timeMs> <podsPerNode>` prints
 * the rows as JSON): a server holds one cluster, and the garbage of smaller clusters measured
 * earlier in the same heap would slow the larger ones down (GC, CPU cache).
 */
export function benchInProcessIsolated(sizes: readonly number[], options: { timeMs: number; podsPerNode: number }): Promise<InProcessRow[]> {
  const self = fileURLToPath(import.meta.url);
  return sizes.reduce<Promise<InProcessRow[]>>(
    (acc, n) =>
      acc.then(
        (rows) =>
          new Promise((resolve, reject) => {
            const child = spawn(process.execPath, [self, String(n), String(options.timeMs), String(options.podsPerNode)], { stdio: ['ignore', 'pipe', 'inherit'] });
            let out = '';
            child.stdout.on('data', (c: Buffer) => (out += c.toString()));
            child.on('error', reject);
            child.on('exit', (code) => (code === 0 ? resolve([...rows, ...(JSON.parse(out) as InProcessRow[])]) : reject(new Error(`in-process bench for ${n} nodes exited ${code}`))));
          }),
      ),
    Promise.resolve([]),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [nodes, timeMs, podsPerNode] = process.argv.slice(2).map(Number);
  benchInProcess([nodes], { timeMs, podsPerNode })
    .then((rows) => process.stdout.write(JSON.stringify(rows) + '\n'))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
