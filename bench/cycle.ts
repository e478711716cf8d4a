// `npm run bench:cycle`: scheduling cycles — what an operator feels. A stream of GPU pods drawn
// from the Alibaba trace's shape mix (../shared/trace/, or --trace-dir) goes through
// filter → prioritize → bind, one pod after the other, against a cluster of trace nodes that is
// already half full (the same ledger for both runs):
//   in process — the Pipeline, as the server calls it (demand parse, filter, rank, reserve);
//   over HTTP  — the real server (`serve --snapshot`, its own process) on loopback, three requests
//                per cycle, kube-scheduler's wire format, keep-alive.
// kube-scheduler's own side is not modelled beyond picking the best extender score (its in-tree
// filters would shorten the candidate list: here every cycle sends every node). Both runs must
// bind every pod to the same node; the report says so.
//
//   node dist/bench/cycle.js [--nodes 5000] [--cycles 1000] [--trace-dir ../shared/trace] [--json file]

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSnapshotInto } from '../src/cli/snapshot-files.js';
import { prng } from '../src/cli/replay/experiment.js';
import { selectHost } from '../src/cli/replay/kube-scores.js';
import { defaultConfig } from '../src/model/config-types.js';
import { parseTraceNodes, parseTracePods, traceNodeObject, tracePodObject, type TraceNode, type TracePod } from '../src/model/trace.js';
import { PREFIX } from '../src/model/types.js';
import { Pipeline } from '../src/prioritize/pipeline.js';
import { ClusterState } from '../src/state/cluster-state.js';
import { startLedger, verbMeans } from './processes.js';
import { tuneGarbageCollector } from '../src/cli/gc-tuning.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const repo = resolve(here, '..', '..');

export interface CycleRun {
  mode: 'in-process' | 'http';
  nodes: number;
  /** Pods already bound when the measured cycles start. */
  prefilled: number;
  cycles: number;
  bound: number;
  unschedulable: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
  cyclesPerSec: number;
  /** Median of each step of a cycle. */
  phasesP50Us: { filter: number; prioritize: number; bind: number };
  /** Node each measured pod was bound to ('' when it fit nowhere). */
  placements: string[];
  /** Over HTTP: the server's own mean time per verb (its /metrics), µs — the rest of a round trip is the wire and the client. */
  serverMeanUs?: Record<string, number>;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The timings of a run's cycles: four instants per cycle (start, after filter, after prioritize, after bind) and where the pod went. */
class Cycles {
  readonly cycles: number[] = [];
  readonly phases: number[][] = [[], [], []];
  readonly placements: string[] = [];
  private readonly t0 = performance.now();

  add(a: number, b: number, c: number, d: number, node: string | null): void {
    this.cycles.push((d - a) * 1000);
    this.phases[0].push((b - a) * 1000);
    this.phases[1].push((c - b) * 1000);
    this.phases[2].push((d - c) * 1000);
    this.placements.push(node ?? '');
  }

  summary(mode: CycleRun['mode'], nodes: number, prefilled: number): CycleRun {
    return summary(mode, nodes, prefilled, this.cycles, this.phases, this.placements, performance.now() - this.t0);
  }
}

function summary(mode: CycleRun['mode'], nodes: number, prefilled: number, cycles: number[], phases: number[][], placements: string[], wallMs: number): CycleRun {
  const sorted = [...cycles].sort((a, b) => a - b);
  const med = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
  const bound = placements.filter((p) => p !== '').length;
  return {
    mode,
    nodes,
    prefilled,
    cycles: cycles.length,
    bound,
    unschedulable: cycles.length - bound,
    p50Us: percentile(sorted, 50),
    p90Us: percentile(sorted, 90),
    p99Us: percentile(sorted, 99),
    maxUs: sorted[sorted.length - 1] ?? 0,
    meanUs: cycles.reduce((a, b) => a + b, 0) / Math.max(1, cycles.length),
    cyclesPerSec: (cycles.length * 1000) / wallMs,
    phasesP50Us: { filter: med(phases[0]), prioritize: med(phases[1]), bind: med(phases[2]) },
    placements,
  };
}

/** `count` trace nodes: the trace's GPU nodes, repeated under new names until there are enough. */
export function traceCluster(nodes: readonly TraceNode[], count: number): TraceNode[] {
  const out: TraceNode[] = [];
  for (let k = 0; out.length < count; k++) for (const n of nodes) if (out.length < count) out.push({ ...n, name: k === 0 ? n.name : `${n.name}-r${k}` });
  return out;
}

/** GPU pods drawn from the trace with replacement (its shape mix), as Pod objects with fresh UIDs. */
function drawPods(pods: readonly TracePod[], count: number, rand: () => number, prefix: string): Record<string, unknown>[] {
  const gpu = pods.filter((p) => p.numGpu > 0);
  return Array.from({ length: count }, (_, i) => {
    const p = gpu[Math.floor(rand() * gpu.length)];
    return tracePodObject({ ...p, name: `${prefix}-${i}` }, `${prefix}-uid-${i}`);
  });
}

/** The score kube-scheduler would add for the extender: the best 0..10 wins; ties by its random pick. */
function choose(scores: readonly { Host: string; Score: number }[], rand: () => number): string | null {
  return selectHost(scores, (s) => s.Score, rand)?.Host ?? null;
}

/**
 * The starting cluster: trace nodes, and trace pods bound until `fill` of the GPU capacity is in
 * use (each on a random node where the production fit accepts it), as Pod objects with their
 * node and GPUs — a snapshot both runs load.
 */
function prefilledSnapshot(nodes: readonly TraceNode[], pods: readonly TracePod[], fill: number, rand: () => number): { items: unknown[]; bound: number } {
  const state = new ClusterState({ config: defaultConfig() });
  const nodeObjects = nodes.map(traceNodeObject);
  state.resetNodes(nodeObjects);
  state.resetPods([]);
  const pipeline = new Pipeline(state);
  const capacity = nodes.reduce((a, n) => a + n.gpus * 1000, 0);
  const items: unknown[] = [...nodeObjects];
  let used = 0;
  let misses = 0;
  for (let i = 0; used < fill * capacity && misses < 1000; i++) {
    const [pod] = drawPods(pods, 1, rand, `warm-${i}`);
    const demand = state.demandOf(pod);
    let placed = false;
    for (let t = 0; t < 20 && !placed; t++) {
      const node = nodes[Math.floor(rand() * nodes.length)].name;
      const r = pipeline.reserve(demand, node);
      if (!r.ok) continue;
      state.ledger.confirm(demand.uid);
      const md = pod.metadata as { annotations?: Record<string, string> };
      md.annotations = { ...md.annotations, [`${PREFIX}gpus`]: r.sequence.join(',') };
      items.push({ ...pod, spec: { ...(pod.spec as object), nodeName: node }, status: { phase: 'Running' } });
      used += r.allocation.takes.reduce((a, t) => a + t.threadMilli, 0);
      placed = true;
    }
    misses = placed ? 0 : misses + 1;
  }
  return { items, bound: items.length - nodeObjects.length };
}

async function inProcess(snapshot: string, names: string[], pods: Record<string, unknown>[], prefilled: number, seed: number): Promise<CycleRun> {
  const state = new ClusterState({ config: defaultConfig() });
  await loadSnapshotInto(state, [snapshot]);
  const pipeline = new Pipeline(state);
  const rand = prng(seed);
  const run = new Cycles();
  for (const pod of pods) {
    const a = performance.now();
    const demand = state.demandOf(pod);
    const { passed } = pipeline.filter(demand, names, undefined, demand.uid);
    const b = performance.now();
    let node: string | null = null;
    if (passed.length > 0) {
      node = choose(
        pipeline.rank(state.demandOf(pod), passed).map((r) => ({ Host: r.host, Score: r.score })),
        rand,
      );
    }
    const c = performance.now();
    if (node !== null) {
      const r = pipeline.reserve(demand, node);
      if (!r.ok) throw new Error(`bind refused after filter passed ${node}`);
      state.ledger.confirm(demand.uid);
    }
    const d = performance.now();
    run.add(a, b, c, d, node);
  }
  return run.summary('in-process', names.length, prefilled);
}

function post(agent: http.Agent, port: number, path: string, body: string): Promise<string> {
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => (r.statusCode === 200 ? res(Buffer.concat(chunks).toString('utf8')) : rej(new Error(`${path}: HTTP ${r.statusCode}`))));
    });
    req.on('error', rej);
    req.end(body);
  });
}

async function overHttp(snapshot: string, names: string[], pods: Record<string, unknown>[], prefilled: number, seed: number): Promise<CycleRun> {
  const server = await startLedger(['--snapshot', snapshot]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const rand = prng(seed);
  try {
    const run = new Cycles();
    for (const pod of pods) {
      const a = performance.now();
      const filtered = JSON.parse(await post(agent, server.port, '/filter', JSON.stringify({ Pod: pod, Nodes: null, NodeNames: names }))) as { NodeNames: string[] | null; Error: string };
      const b = performance.now();
      const passed = filtered.NodeNames ?? [];
      let node: string | null = null;
      if (passed.length > 0) node = choose(JSON.parse(await post(agent, server.port, '/prioritize', JSON.stringify({ Pod: pod, Nodes: null, NodeNames: passed }))) as { Host: string; Score: number }[], rand);
      const c = performance.now();
      if (node !== null) {
        const md = pod.metadata as { name: string; namespace: string; uid: string };
        const bound = JSON.parse(await post(agent, server.port, '/bind', JSON.stringify({ PodName: md.name, PodNamespace: md.namespace, PodUID: md.uid, Node: node }))) as { Error: string };
        if (bound.Error) throw new Error(`bind: ${bound.Error}`);
      }
      const d = performance.now();
      run.add(a, b, c, d, node);
    }
    const result = run.summary('http', names.length, prefilled);
    const means = await verbMeans(server.statusUrl);
    result.serverMeanUs = Object.fromEntries(Object.entries(means).filter(([, e]) => e.count > 0).map(([v, e]) => [v, (e.sum / e.count) * 1e6]));
    return result;
  } finally {
    agent.destroy();
    await new Promise<void>((r) => {
      server.child.once('exit', () => r());
      server.child.kill('SIGTERM');
    });
  }
}

export interface CycleReport {
  runs: CycleRun[];
  /** Both runs bound every pod to the same node. */
  samePlacements: boolean;
}

export async function benchCycles(traceDir: string, nodeCount: number, cycleCount: number, seed = 7): Promise<CycleReport | null> {
  // The server's garbage-collector setting (src/cli/gc-tuning.ts): this process runs what serve runs.
  tuneGarbageCollector();
  const nodesFile = join(traceDir, 'openb_node_list_gpu_node.csv');
  const podsFile = join(traceDir, 'openb_pod_list_default.csv');
  if (!existsSync(nodesFile) || !existsSync(podsFile)) return null;
  const traceNodes = parseTraceNodes(readFileSync(nodesFile, 'utf8'), nodesFile).filter((n) => n.gpus > 0);
  const tracePods = parseTracePods(readFileSync(podsFile, 'utf8'), podsFile);
  const nodes = traceCluster(traceNodes, nodeCount);
  const names = nodes.map((n) => n.name);
  const dir = mkdtempSync(join(os.tmpdir(), 'gpu-ledger-cycle-'));
  try {
    const rand = prng(seed);
    const start = prefilledSnapshot(nodes, tracePods, 0.5, rand);
    const snapshot = join(dir, 'cluster.json');
    writeFileSync(snapshot, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: start.items }));
    const pods = drawPods(tracePods, cycleCount, rand, 'cycle');
    // Each run gets its own copies of the pods (the server parses JSON; the in-process run must not share objects).
    const inproc = await inProcess(snapshot, names, structuredClone(pods), start.bound, seed);
    const viaHttp = await overHttp(snapshot, names, structuredClone(pods), start.bound, seed);
    return { runs: [inproc, viaHttp], samePlacements: inproc.placements.every((p, i) => p === viaHttp.placements[i]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} µs`);

export function cycleTable(r: CycleReport): string {
  const lines = [
    '| run | nodes | pods bound before | cycles | bound / unschedulable | cycle p50 / p90 / p99 / max | filter / prioritize / bind p50 | cycles/s |',
    '|---|---:|---:|---:|---|---|---|---:|',
  ];
  for (const c of r.runs) {
    lines.push(
      `| ${c.mode} | ${c.nodes} | ${c.prefilled} | ${c.cycles} | ${c.bound} / ${c.unschedulable} | ${us(c.p50Us)} / ${us(c.p90Us)} / ${us(c.p99Us)} / ${us(c.maxUs)} | ${us(c.phasesP50Us.filter)} / ${us(c.phasesP50Us.prioritize)} / ${us(c.phasesP50Us.bind)} | ${c.cyclesPerSec.toFixed(0)} |`,
    );
  }
  const httpRun = r.runs.find((c) => c.serverMeanUs);
  const server = httpRun?.serverMeanUs;
  if (server) lines.push('', `Over HTTP, gpu-ledger's own mean time per verb (its /metrics): ${Object.entries(server).map(([v, x]) => `${v} ${us(x)}`).join(', ')}; the rest of a round trip is the loopback wire and the client (JSON of ${httpRun!.nodes.toLocaleString('en-US')} names each way).`);
  lines.push('', `Both runs bound every pod to the same node: ${r.samePlacements ? 'yes' : 'NO'}.`);
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '5000' },
      cycles: { type: 'string', default: '1000' },
      'trace-dir': { type: 'string', default: resolve(repo, '..', 'shared', 'trace') },
      json: { type: 'string' },
    },
  });
  benchCycles(values['trace-dir'], Number(values.nodes), Number(values.cycles)).then(
    (r) => {
      if (!r) {
        process.stdout.write(`bench:cycle skipped: no trace at ${values['trace-dir']} (openb_node_list_gpu_node.csv, openb_pod_list_default.csv; see README "Placement quality")\n`);
        return;
      }
      process.stdout.write(cycleTable(r) + '\n');
      if (values.json) writeFileSync(values.json, JSON.stringify({ ...r, runs: r.runs.map(({ placements: _p, ...rest }) => rest) }, null, 2) + '\n');
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
