// One run of the FGD paper's experiment (trace × policy × seed), as the trace README describes it:
// shuffle, top up to 130 % of GPU capacity, random node order for ties, place pods one at a time
// (filter → score every feasible node → pick → choose GPUs → allocate), skip failures, record
// arrived / allocated / fragmentation after every pod. Placement goes through the extender's own
// fit (fitPod), ledger and — for the gpu-ledger policy — its production scoring.

import { fitPod, type FitOptions, type GpuChooser } from '../../filter/fit.js';
import { demandShapeKey, fitPodCached } from '../../filter/fit-cache.js';
import { defaultConfig, type ScoringWeights } from '../../model/config-types.js';
import { traceNodeInventory, tracePodDemand, type TraceNode, type TracePod, MILLI_BYTES } from '../../model/trace.js';
import type { GpuTake, PodDemand } from '../../model/types.js';
import { bestFitScore, dotProdScore, gpuPackingScore, lowestGpu, tightestGpu, type NodeResources, type PodResources } from '../../prioritize/baselines.js';
import { fragmentationChooser } from '../../prioritize/chooser.js';
import { scoreCpuPod, scoreNode } from '../../prioritize/policy.js';
import { Ledger, type NodeLedger } from '../../state/ledger.js';
import { WorkloadModel } from '../../state/workload.js';
import { nodeTraceFrag, traceShapes, type TraceShape } from './frag.js';

export const POLICIES = ['random', 'dotprod', 'best-fit', 'gpu-packing', 'fgd', 'gpu-ledger'] as const;
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

interface NodeState extends NodeResources {
  index: number;
  ledger: NodeLedger;
  memCap: number;
  frag: number;
  /** Memo of this node's score per pod shape, valid for one ledger generation (and shape set). */
  scoreGen: number;
  scoreShapes: unknown;
  scores: Map<string, { score: number; gpu: number }>;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export interface RunOptions {
  weights?: ScoringWeights;
  /** The whole-trace shape distribution (FGD may use it; the frag measure does). */
  shapes?: readonly TraceShape[];
}

export function runExperiment(nodes: readonly TraceNode[], tracePods: readonly TracePod[], policy: Policy, seed: number, options: RunOptions = {}): RunResult {
  const rand = prng(seed);
  const totalGpuMilli = nodes.reduce((a, n) => a + n.gpus * 1000, 0);
  const pods = workloadFor(tracePods, totalGpuMilli, rand);
  const order = shuffle(nodes.map((_, i) => i), rand); // tie order
  const priority = new Int32Array(nodes.length);
  order.forEach((nodeIndex, rank) => (priority[nodeIndex] = rank));
  const shapes = options.shapes ?? traceShapes(tracePods);
  const weights = options.weights ?? defaultConfig().scoring.weights;
  const tiers = defaultConfig().tiers;
  const workload = new WorkloadModel(tiers);
  const productionChooser = fragmentationChooser(() => workload.shapes());

  const ledger = new Ledger();
  const states: NodeState[] = nodes.map((n, index) => {
    const l = ledger.setNode(traceNodeInventory(n));
    return { index, ledger: l, cpuFree: n.cpuMilli, cpuCap: n.cpuMilli, memFree: n.memoryMiB, memCap: n.memoryMiB, model: n.model, frag: 0, scoreGen: -1, scoreShapes: null, scores: new Map() };
  });
  for (const s of states) s.frag = nodeTraceFrag(s.ledger, s.cpuFree, s.model, shapes);
  let clusterFrag = states.reduce((a, s) => a + s.frag, 0);

  let arrived = 0;
  let allocated = 0;
  let failed = 0;
  const rows: RunRow[] = [];
  const feasible: NodeState[] = [];
  const noChooser: FitOptions = {};

  pods.forEach((p, podIndex) => {
    const demand = tracePodDemand(p, `p${podIndex}`);
    const res: PodResources = { cpuMilli: p.cpuMilli, memoryMiB: p.memoryMiB, gpuMilliTotal: podGpuMilli(p), numGpu: p.numGpu, gpuMilli: p.gpuMilli };
    arrived += res.gpuMilliTotal;
    const key = demandShapeKey(demand);
    const shareKey = `${key}|${p.cpuMilli}`;
    // The production policy learns only from pods it has been asked about so far.
    if (demand.managed) workload.observeShape({ memoryBytes: p.gpuMilli * MILLI_BYTES, threadMilli: p.gpuMilli, gpus: p.numGpu, cpuMilli: p.cpuMilli });
    const prodShapes = workload.shapes();

    feasible.length = 0;
    for (const s of states) {
      if (s.cpuFree < p.cpuMilli || s.memFree < p.memoryMiB) continue;
      if (p.gpuSpec.length > 0 && !p.gpuSpec.includes(s.model)) continue;
      if (demand.managed && !fitPodCached(demand, s.ledger, noChooser, key).fits) continue;
      feasible.push(s);
    }
    let chosen: NodeState | null = null;
    let chosenGpu = -1;
    if (feasible.length > 0) {
      if (policy === 'random') chosen = feasible[Math.floor(rand() * feasible.length)];
      else {
        let bestScore = -Infinity;
        for (const s of feasible) {
          const { score, gpu } = scoreFor(s);
          if (score > bestScore || (score === bestScore && chosen !== null && priority[s.index] < priority[chosen.index])) {
            bestScore = score;
            chosen = s;
            chosenGpu = gpu;
          }
        }
      }
    }
    if (!chosen) {
      failed++;
    } else {
      let takes: readonly GpuTake[] = [];
      if (demand.managed) {
        const fit = fitPod(demand, chosen.ledger, placementOptions(chosenGpu));
        if (!fit.fits) throw new Error(`internal: ${p.name} was feasible on ${chosen.ledger.name} but does not fit`);
        takes = fit.takes;
        allocated += res.gpuMilliTotal;
      }
      // Every pod's CPU is in the ledger too (the live extender sees all pods on GPU nodes).
      ledger.put({ uid: demand.uid, namespace: 'trace', name: p.name, node: chosen.ledger.name, takes, cpuMilli: p.cpuMilli, cpuOnly: !demand.managed, state: 'bound', expiresAt: Infinity });
      chosen.cpuFree -= p.cpuMilli;
      chosen.memFree -= p.memoryMiB;
      chosen.scoreGen = -1;
      clusterFrag -= chosen.frag;
      chosen.frag = nodeTraceFrag(chosen.ledger, chosen.cpuFree, chosen.model, shapes);
      clusterFrag += chosen.frag;
    }
    rows.push({ arrived, allocated, frag: clusterFrag, idle: totalGpuMilli - allocated });

    function scoreFor(s: NodeState): { score: number; gpu: number } {
      const shapeSet = policy === 'gpu-ledger' ? prodShapes : shapes;
      if (s.scoreGen !== s.ledger.generation || s.scoreShapes !== shapeSet) {
        s.scores.clear();
        s.scoreGen = s.ledger.generation;
        s.scoreShapes = shapeSet;
      }
      // CPU-dependent scores (best-fit, dotprod, fgd) key on the CPU request too.
      let memo = s.scores.get(shareKey);
      if (memo === undefined) {
        memo = computeScore(s, shapeSet);
        s.scores.set(shareKey, memo);
      }
      return memo;
    }

    function computeScore(s: NodeState, shapeSet: unknown): { score: number; gpu: number } {
      let takes: readonly GpuTake[] = [];
      if (demand.managed) {
        const fit = fitPodCached(demand, s.ledger, noChooser, key);
        if (!fit.fits) return { score: -Infinity, gpu: -1 };
        takes = fit.takes;
      } else if (policy === 'gpu-ledger') {
        // CPU-only pods: the extender's prioritize-cpu verb (how little their CPU strands GPUs).
        return { score: scoreCpuPod(demand, s.ledger, { tiers, shapes: shapeSet as ReturnType<WorkloadModel['shapes']> }).score, gpu: -1 };
      }
      const fit = { takes };
      switch (policy) {
        case 'best-fit':
          return { score: bestFitScore(s.ledger, fit.takes, s, res), gpu: -1 };
        case 'dotprod':
          return { score: dotProdScore(s.ledger, fit.takes, s, res), gpu: -1 };
        case 'gpu-packing':
          return { score: gpuPackingScore(s.ledger, fit.takes, s, res), gpu: -1 };
        case 'fgd':
          return fgdScore(s);
        case 'gpu-ledger': {
          // Score the placement the production chooser would make on this node.
          const own = fitPod(demand, s.ledger, { chooser: productionChooser });
          if (!own.fits) return { score: -Infinity, gpu: -1 };
          // Ranked by the score kube-scheduler receives (0..10); equal scores go by the tie order.
          return { score: scoreNode(demand, s.ledger, own.takes, weights, { tiers, shapes: shapeSet as ReturnType<WorkloadModel['shapes']> }).score, gpu: -1 };
        }
        default:
          return { score: 0, gpu: -1 };
      }
    }

    /** FGD: the GPU (for share pods) that grows the node's fragmentation least; int(100·sigmoid(ΔF/1000)). */
    function fgdScore(s: NodeState): { score: number; gpu: number } {
      const before = s.frag;
      const cpuAfter = s.cpuFree - p.cpuMilli;
      let bestAfter = Infinity;
      let bestGpu = -1;
      if (!demand.managed) {
        bestAfter = nodeTraceFrag(s.ledger, cpuAfter, s.model, shapes);
      } else if (p.numGpu === 1 && p.gpuMilli < 1000) {
        const inv = s.ledger.inventory;
        for (let g = 0; g < inv.gpus.length; g++) {
          const fit = fitPod(demand, s.ledger, { pinned: [g] });
          if (!fit.fits) continue;
          const after = nodeTraceFrag(s.ledger, cpuAfter, s.model, shapes, fit.takes);
          if (after < bestAfter) {
            bestAfter = after;
            bestGpu = g;
          }
        }
      } else {
        const fit = fitPod(demand, s.ledger, { chooser: lowestGpu });
        if (fit.fits) bestAfter = nodeTraceFrag(s.ledger, cpuAfter, s.model, shapes, fit.takes);
      }
      if (bestAfter === Infinity) return { score: -Infinity, gpu: -1 };
      return { score: Math.floor(100 * sigmoid((before - bestAfter) / 1000)), gpu: bestGpu };
    }
  });

  function placementOptions(gpu: number): FitOptions {
    switch (policy) {
      case 'fgd':
        return gpu >= 0 ? { pinned: [gpu] } : { chooser: lowestGpu };
      case 'best-fit':
      case 'gpu-packing':
        return { chooser: tightestGpu as GpuChooser };
      case 'random':
        // The simulator's random GPU selection: any GPU that fits, uniformly.
        return { chooser: ((_n, candidates) => candidates[Math.floor(rand() * candidates.length)]) as GpuChooser };
      case 'dotprod':
        return { chooser: lowestGpu as GpuChooser };
      case 'gpu-ledger':
        return { chooser: productionChooser };
    }
  }

  return { policy, seed, totalGpuMilli, pods: pods.length, failedPods: failed, rows };
}

export type { PodDemand };
