// One run of the FGD paper's experiment (trace × policy × seed), as the trace README describes it:
// shuffle, top up to 130 % of GPU capacity, place pods one at a time, skip failures, record
// arrived / allocated / fragmentation after every pod.
//
// The `gpu-ledger` policies run the product itself: Node and Pod objects go through the same
// parsers, ClusterState, Pipeline (filter → prioritize with its normalisation → bind's reserve and
// GPU choice) and prioritize-cpu as the server; kube-scheduler's side (its resource filter, its
// in-tree scores, how it adds extender scores, selectHost's random tie-break) is modelled in
// kube-scores.ts. `gpu-ledger` is the shipped scheduler configuration (in-tree + extender × weight),
// `gpu-ledger-alone` ranks by the extender's scores only. The paper's baselines are reimplemented
// on the same ledger and fit.

import { fit, bestFitChooser, type GpuChooser } from '../../gpu/place.js';
import { fitCached, type Placement } from '../../filter/fit-cache.js';
import { defaultConfig } from '../../model/config-types.js';
import { parsePodDemand } from '../../model/demand.js';
import { parseNodeInventory } from '../../model/inventory.js';
import { traceNodeObject, tracePodObject, type TraceNode, type TracePod } from '../../model/trace.js';
import type { GpuTake } from '../../model/types.js';
import { bestFitScore, dotProdScore, gpuPackingScore, lowestGpu, tightestGpu, type NodeResources, type PodResources } from './baselines.js';
import { Pipeline } from '../../prioritize/pipeline.js';
import { ClusterState } from '../../state/cluster-state.js';
import { Ledger, type NodeLedger } from '../../state/ledger.js';
import { nodeTraceFrag, traceShapes, type TraceShape } from './frag.js';
import { extenderContribution, inTreeScore, selectHost, type NodeRequests } from './kube-scores.js';
import { loadSchedulerModel, type SchedulerModel } from './sched-config.js';

export const POLICIES = ['random', 'dotprod', 'best-fit', 'gpu-packing', 'fgd', 'gpu-ledger', 'gpu-ledger-alone'] as const;
export type Policy = (typeof POLICIES)[number];

export interface RunRow {
  arrived: number;
  allocated: number;
  frag: number;
  idle: number;
}

export interface RunResult {
  policy: Policy;
  seed: number;
  totalGpuMilli: number;
  pods: number;
  failedPods: number;
  rows: RunRow[];
  /** With `record` (the `gpu-ledger` policies): every decision, to replay it against the server. */
  decisions?: Decision[];
}

/** One pod's trip through the pipeline in the replay: what kube-scheduler sent, what it got, where the pod went. */
export interface Decision {
  pod: Record<string, unknown>;
  /** Nodes that passed kube-scheduler's own filters: the filter request's NodeNames. */
  feasible: string[];
  /** gpu-ledger's 0..10 prioritize scores for the filter's survivors (empty when fewer than two). */
  scores: Record<string, number>;
  node: string | null;
  /** GPUs bind recorded, in placement order. */
  gpus: number[];
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(list: T[], rand: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

export const podGpuMilli = (p: TracePod) => p.numGpu * p.gpuMilli;

/** Steps 1–2: shuffled pods, topped up (or trimmed) to `target` GPU milli. */
export function workloadFor(pods: readonly TracePod[], totalGpuMilli: number, rand: () => number, targetRatio = 1.3): TracePod[] {
  const list = shuffle([...pods], rand);
  const target = targetRatio * totalGpuMilli;
  let sum = list.reduce((a, p) => a + podGpuMilli(p), 0);
  if (sum > target) {
    while (sum > target && list.length > 0) {
      const i = Math.floor(rand() * list.length);
      sum -= podGpuMilli(list[i]);
      list.splice(i, 1);
    }
    return list;
  }
  for (;;) {
    const p = pods[Math.floor(rand() * pods.length)];
    if (sum + podGpuMilli(p) > target) break;
    list.push(p);
    sum += podGpuMilli(p);
  }
  return list;
}

export interface RunOptions {
  /** The whole-trace shape distribution (the fragmentation measure, and FGD's target workload). */
  shapes?: readonly TraceShape[];
  /** The shipped scheduler configuration's weights (the `gpu-ledger` policies). */
  scheduler?: SchedulerModel;
  /** Keep every decision of the `gpu-ledger` policies (tests compare them with the server's). */
  record?: boolean;
}

/** The harness's per-node view shared by every policy: CPU and memory as kube-scheduler counts them. */
interface Site extends NodeRequests, NodeResources {
  index: number;
  trace: TraceNode;
  frag: number;
  /** Baselines: scores per pod shape, valid for one ledger generation of the node. */
  scoreGen: number;
  scores: Map<string, { score: number; gpu: number }>;
}

function sites(nodes: readonly TraceNode[]): Site[] {
  return nodes.map((n, index) => ({
    index,
    trace: n,
    cpuAllocatable: n.cpuMilli,
    memAllocatable: n.memoryMiB * 2 ** 20,
    cpu: 0,
    mem: 0,
    cpuNonZero: 0,
    memNonZero: 0,
    cpuFree: n.cpuMilli,
    memFree: n.memoryMiB,
    cpuCap: n.cpuMilli,
    model: n.model,
    frag: 0,
    scoreGen: -1,
    scores: new Map(),
  }));
}

/** kube-scheduler's own filters for a trace pod: NodeResourcesFit (CPU, memory) and the gpu_spec node affinity. */
function inTreeFits(s: Site, p: TracePod): boolean {
  return s.cpuFree >= p.cpuMilli && s.memFree >= p.memoryMiB && (p.gpuSpec.length === 0 || p.gpuSpec.includes(s.model));
}

function charge(s: Site, p: TracePod): void {
  s.cpuFree -= p.cpuMilli;
  s.memFree -= p.memoryMiB;
  s.cpu += p.cpuMilli;
  s.mem += p.memoryMiB * 2 ** 20;
  s.cpuNonZero += p.cpuMilli || 100;
  s.memNonZero += p.memoryMiB * 2 ** 20 || 200 * 2 ** 20;
}

export function runExperiment(nodes: readonly TraceNode[], tracePods: readonly TracePod[], policy: Policy, seed: number, options: RunOptions = {}): RunResult {
  const rand = prng(seed);
  const totalGpuMilli = nodes.reduce((a, n) => a + n.gpus * 1000, 0);
  const pods = workloadFor(tracePods, totalGpuMilli, rand);
  const order = shuffle(nodes.map((_, i) => i), rand); // the simulator's tie order
  const priority = new Int32Array(nodes.length);
  order.forEach((nodeIndex, rank) => (priority[nodeIndex] = rank));
  const shapes = options.shapes ?? traceShapes(tracePods);
  const run = policy === 'gpu-ledger' || policy === 'gpu-ledger-alone' ? productionRun : baselineRun;
  return run({ nodes, pods, policy, seed, rand, priority, shapes, totalGpuMilli, scheduler: options.scheduler, record: options.record ?? false });
}

interface RunInput {
  nodes: readonly TraceNode[];
  pods: readonly TracePod[];
  policy: Policy;
  seed: number;
  rand: () => number;
  priority: Int32Array;
  shapes: readonly TraceShape[];
  totalGpuMilli: number;
  scheduler?: SchedulerModel;
  record: boolean;
}

/** The product: ClusterState + Pipeline exactly as the server runs them, kube-scheduler around it. */
function productionRun(input: RunInput): RunResult {
  const { nodes, pods, policy, seed, rand, shapes, totalGpuMilli } = input;
  const sched = input.scheduler ?? loadSchedulerModel();
  const withInTree = policy === 'gpu-ledger';
  const state = new ClusterState({ config: defaultConfig() });
  state.resetNodes(nodes.map(traceNodeObject));
  state.resetPods([]);
  const pipeline = new Pipeline(state);
  const all = sites(nodes);
  const byName = new Map(all.map((s) => [s.trace.name, s]));
  const ledgerNode = (s: Site) => state.ledger.nodes.get(s.trace.name)!;
  for (const s of all) s.frag = nodeTraceFrag(ledgerNode(s), s.cpuFree, s.model, shapes);
  let clusterFrag = all.reduce((a, s) => a + s.frag, 0);
  let arrived = 0;
  let allocated = 0;
  let failed = 0;
  const rows: RunRow[] = [];
  const decisions: Decision[] = [];

  pods.forEach((p, i) => {
    const uid = `p${i}`;
    const obj = tracePodObject(p, uid);
    const decision: Decision | null = input.record ? { pod: obj, feasible: [], scores: {}, node: null, gpus: [] } : null;
    arrived += podGpuMilli(p);
    // What kube-scheduler sends: the pod and the nodes that passed its own filters.
    const demand = state.demandOf(obj);
    const feasible: string[] = [];
    for (const s of all) if (inTreeFits(s, p)) feasible.push(s.trace.name);
    const candidates = demand.managed && feasible.length > 0 ? pipeline.filter(demand, feasible, undefined, uid).passed : feasible;
    if (decision) decision.feasible = feasible;
    let chosen: string | null = null;
    if (candidates.length === 1) chosen = candidates[0];
    else if (candidates.length > 1) {
      // Prioritize runs only with two or more candidates; each extender entry scores the pods it gets.
      const ranked = demand.managed ? pipeline.rank(demand, candidates) : sched.cpuWeight > 0 ? pipeline.rankCpu(demand, candidates) : null;
      const weight = demand.managed ? sched.gpuWeight : sched.cpuWeight;
      const ext = new Map<string, number>();
      if (ranked) for (const r of ranked) ext.set(r.host, extenderContribution(r.score, weight));
      if (decision && ranked) for (const r of ranked) decision.scores[r.host] = r.score;
      const req = { cpu: p.cpuMilli, mem: p.memoryMiB * 2 ** 20 };
      chosen = selectHost(candidates, (name) => (ext.get(name) ?? 0) + (withInTree ? inTreeScore(byName.get(name)!, req, sched) : 0), rand);
    }
    if (chosen === null) failed++;
    else {
      const s = byName.get(chosen)!;
      if (demand.managed) {
        const r = pipeline.reserve(demand, chosen);
        if (!r.ok) throw new Error(`internal: ${p.name} passed the filter on ${chosen} but bind refused it`);
        state.ledger.confirm(uid);
        if (decision) decision.gpus = [...r.sequence];
        allocated += podGpuMilli(p);
      } else {
        // A pod without GPUs reaches the ledger as the pods watch reports it bound.
        state.upsertPod({ ...obj, spec: { ...(obj.spec as object), nodeName: chosen }, status: { phase: 'Running' } });
      }
      charge(s, p);
      clusterFrag -= s.frag;
      s.frag = nodeTraceFrag(ledgerNode(s), s.cpuFree, s.model, shapes);
      clusterFrag += s.frag;
      if (decision) decision.node = chosen;
    }
    if (decision) decisions.push(decision);
    rows.push({ arrived, allocated, frag: clusterFrag, idle: totalGpuMilli - allocated });
  });
  return { policy, seed, totalGpuMilli, pods: pods.length, failedPods: failed, rows, ...(input.record ? { decisions } : {}) };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The paper's policies on the same ledger and fit, with their own GPU choice; ties by the simulator's node order. */
function baselineRun(input: RunInput): RunResult {
  const { nodes, pods, policy, seed, rand, priority, shapes, totalGpuMilli } = input;
  const config = defaultConfig();
  const ledger = new Ledger();
  const all = sites(nodes);
  const nodeOf: NodeLedger[] = nodes.map((n) => ledger.setNode(parseNodeInventory(traceNodeObject(n), config)!));
  for (const s of all) s.frag = nodeTraceFrag(nodeOf[s.index], s.cpuFree, s.model, shapes);
  let clusterFrag = all.reduce((a, s) => a + s.frag, 0);
  const placementFor = (chooser: GpuChooser): Placement => ({ chooser, epoch: chooser });
  const feasibility = placementFor(bestFitChooser);
  let arrived = 0;
  let allocated = 0;
  let failed = 0;
  const rows: RunRow[] = [];

  pods.forEach((p, podIndex) => {
    const uid = `p${podIndex}`;
    const demand = parsePodDemand(tracePodObject(p, uid), config.tiers);
    const res: PodResources = { cpuMilli: p.cpuMilli, memoryMiB: p.memoryMiB, gpuMilliTotal: podGpuMilli(p), numGpu: p.numGpu, gpuMilli: p.gpuMilli };
    arrived += res.gpuMilliTotal;
    const feasible = all.filter((s) => inTreeFits(s, p) && (!demand.managed || fitCached(demand, nodeOf[s.index], feasibility).fits));
    let chosen: Site | null = null;
    let chosenGpu = -1;
    if (feasible.length > 0) {
      if (policy === 'random') chosen = feasible[Math.floor(rand() * feasible.length)];
      else {
        let best = -Infinity;
        for (const s of feasible) {
          const { score, gpu } = scoreFor(s);
          if (score > best || (score === best && chosen !== null && priority[s.index] < priority[chosen.index])) {
            best = score;
            chosen = s;
            chosenGpu = gpu;
          }
        }
      }
    }
    if (!chosen) failed++;
    else {
      const node = nodeOf[chosen.index];
      let takes: readonly GpuTake[] = [];
      if (demand.managed) {
        const r = fit(demand, node, placementOptions(chosenGpu));
        if (!r.fits) throw new Error(`internal: ${p.name} was feasible on ${node.name} but does not fit`);
        takes = r.takes;
        allocated += res.gpuMilliTotal;
      }
      ledger.put({ uid, namespace: 'trace', name: p.name, node: node.name, takes, cpuMilli: p.cpuMilli, cpuOnly: !demand.managed, state: 'bound', expiresAt: Infinity });
      charge(chosen, p);
      clusterFrag -= chosen.frag;
      chosen.frag = nodeTraceFrag(node, chosen.cpuFree, chosen.model, shapes);
      clusterFrag += chosen.frag;
    }
    rows.push({ arrived, allocated, frag: clusterFrag, idle: totalGpuMilli - allocated });

    function scoreFor(s: Site): { score: number; gpu: number } {
      const node = nodeOf[s.index];
      if (s.scoreGen !== node.generation) {
        s.scores.clear();
        s.scoreGen = node.generation;
      }
      // Per pod shape (CPU included: best-fit, dotprod and fgd read it).
      const key = `${p.cpuMilli}|${p.numGpu}|${p.gpuMilli}`;
      let r = s.scores.get(key);
      if (r === undefined) {
        r = computeScore(s, node);
        s.scores.set(key, r);
      }
      return r;
    }

    function computeScore(s: Site, node: NodeLedger): { score: number; gpu: number } {
      let takes: readonly GpuTake[] = [];
      if (demand.managed) {
        const r = fitCached(demand, node, feasibility);
        if (!r.fits) return { score: -Infinity, gpu: -1 };
        takes = r.takes;
      }
      switch (policy) {
        case 'best-fit':
          return { score: bestFitScore(node, takes, s, res), gpu: -1 };
        case 'dotprod':
          return { score: dotProdScore(node, takes, s, res), gpu: -1 };
        case 'gpu-packing':
          return { score: gpuPackingScore(node, takes, s, res), gpu: -1 };
        case 'fgd':
          return fgdScore(s, node);
        default:
          return { score: 0, gpu: -1 };
      }
    }

    /** FGD: the GPU (for share pods) that grows the node's fragmentation least; int(100·sigmoid(ΔF/1000)). */
    function fgdScore(s: Site, node: NodeLedger): { score: number; gpu: number } {
      const cpuAfter = s.cpuFree - p.cpuMilli;
      let bestAfter = Infinity;
      let bestGpu = -1;
      if (!demand.managed) bestAfter = nodeTraceFrag(node, cpuAfter, s.model, shapes);
      else if (p.numGpu === 1 && p.gpuMilli < 1000) {
        for (let g = 0; g < node.inventory.gpus.length; g++) {
          const r = fit(demand, node, { chooser: bestFitChooser, pinned: [g] });
          if (!r.fits) continue;
          const after = nodeTraceFrag(node, cpuAfter, s.model, shapes, r.takes);
          if (after < bestAfter) {
            bestAfter = after;
            bestGpu = g;
          }
        }
      } else {
        const r = fit(demand, node, { chooser: lowestGpu });
        if (r.fits) bestAfter = nodeTraceFrag(node, cpuAfter, s.model, shapes, r.takes);
      }
      if (bestAfter === Infinity) return { score: -Infinity, gpu: -1 };
      return { score: Math.floor(100 * sigmoid((s.frag - bestAfter) / 1000)), gpu: bestGpu };
    }
  });

  function placementOptions(gpu: number): { chooser: GpuChooser; pinned?: number[] } {
    switch (policy) {
      case 'fgd':
        return gpu >= 0 ? { chooser: bestFitChooser, pinned: [gpu] } : { chooser: lowestGpu };
      case 'best-fit':
      case 'gpu-packing':
        return { chooser: tightestGpu };
      case 'random':
        // The simulator's random GPU selection: any GPU that fits, uniformly.
        return { chooser: (_n, candidates) => candidates[Math.floor(rand() * candidates.length)] };
      default:
        return { chooser: lowestGpu };
    }
  }

  return { policy, seed, totalGpuMilli, pods: pods.length, failedPods: failed, rows };
}
