// Scorers: small pure functions (demand, node, the takes the pod would get) → 0..1, or null when
// the scorer has nothing to say about this pod/node (its weight then drops out of the mean).

import type { GpuTake, Tier } from '../model/types.js';
import { gpuFree, shareable, type GpuFree } from '../gpu/free.js';
import { declaredMemory } from '../gpu/shape.js';
import type { GpuNode } from '../gpu/usage.js';
import { memoOf, type NodeLedger } from '../state/ledger.js';
import type { Shape } from '../state/workload.js';
import type { ScoreShape } from './score-shape.js';

export interface ScoreContext {
  tiers: readonly Tier[];
  shapes: readonly Shape[];
}

/** Memory per GPU the pod uses: its declaration, else the largest take, else its MIG instance size. */
export function podMemoryPerGpu(demand: ScoreShape, node: NodeLedger, takes: readonly GpuTake[]): number {
  const declared = declaredMemory(demand);
  if (declared !== null) return declared;
  let mem = 0;
  for (const t of takes) {
    mem = Math.max(mem, t.memoryBytes);
    if (t.mig) for (const p of t.mig.keys()) mem = Math.max(mem, node.inventory.migProfiles.get(p)?.memoryBytes ?? 0);
  }
  return mem;
}

/** The tiers by memory, smallest first (ties in configuration order): indices in that order, and each tier's rank in it. */
interface TierOrder {
  tiers: readonly Tier[];
  byMemory: readonly number[];
  rank: readonly number[];
}
/** The order of the tiers asked about last: the configuration's tiers are one array, read for every candidate node. */
let lastOrder: TierOrder | null = null;
function tierOrder(tiers: readonly Tier[]): TierOrder {
  if (lastOrder?.tiers === tiers) return lastOrder;
  const byMemory = tiers.map((_, i) => i).sort((a, b) => tiers[a].memoryBytes - tiers[b].memoryBytes);
  const sorted = byMemory.map((i) => tiers[i]);
  return (lastOrder = { tiers, byMemory, rank: tiers.map((t) => sorted.indexOf(t)) });
}

/** The pod's tier: its annotation, else the smallest tier whose memory covers its memory per GPU. */
export function podTier(demand: ScoreShape, memoryPerGpu: number, tiers: readonly Tier[]): number {
  if (demand.tier !== null) {
    const i = tiers.findIndex((t) => t.name === demand.tier);
    if (i >= 0) return i;
  }
  if (memoryPerGpu <= 0 || tiers.length === 0) return -1;
  const { byMemory } = tierOrder(tiers);
  for (const i of byMemory) if (memoryPerGpu <= tiers[i].memoryBytes) return i;
  return byMemory[byMemory.length - 1];
}

/**
 * Tier fit: 1 when the node's tier is the pod's tier and the slice the pod takes (MIG instance,
 * or GPU for shared modes) is no bigger than it needs; lower the further apart. Keeps small
 * models off large-tier nodes and off the last big MIG instance while a small one fits.
 */
export function tierFit(demand: ScoreShape, node: NodeLedger, takes: readonly GpuTake[], ctx: ScoreContext): number | null {
  const inv = node.inventory;
  const mem = podMemoryPerGpu(demand, node, takes);
  const signals: number[] = [];
  const pt = podTier(demand, mem, ctx.tiers);
  if (inv.tier !== null && pt >= 0) {
    const nt = ctx.tiers.findIndex((t) => t.name === inv.tier);
    if (nt >= 0) {
      const { rank } = tierOrder(ctx.tiers);
      const diff = rank[nt] - rank[pt];
      // A node below the pod's tier still fits (the filter said so) but is a worse home than a
      // larger one: it will run short first.
      signals.push(diff >= 0 ? 1 - diff / ctx.tiers.length : Math.max(0, 0.5 + diff / ctx.tiers.length));
    }
  }
  let slice = 0;
  for (const t of takes) {
    if (t.mig) {
      for (const p of t.mig.keys()) slice = Math.max(slice, inv.migProfiles.get(p)?.memoryBytes ?? 0);
    } else {
      slice = Math.max(slice, inv.gpus[t.gpu]?.memoryBytes ?? 0);
    }
  }
  // A slice smaller than the pod's memory cannot happen for a pod that fits (the rules refuse it);
  // should it, it is the worst fit, not a perfect one.
  if (mem > 0 && slice > 0) signals.push(mem <= slice ? mem / slice : 0);
  if (signals.length === 0) return null;
  return signals.reduce((a, b) => a + b, 0) / signals.length;
}

/** GPU-level best fit: how full the GPUs the pod lands on are afterwards (fuller = better). */
export function binpack(_demand: ScoreShape, node: NodeLedger, takes: readonly GpuTake[], after: readonly GpuFree[] = gpuFree(node, takes)): number | null {
  if (takes.length === 0) return null;
  let sum = 0;
  for (const t of takes) sum += 1 - (after[t.gpu]?.fraction ?? 0);
  return sum / takes.length;
}

/** CPU the node has left for new pods (milli); Infinity when its allocatable CPU is unknown. */
export function nodeCpuFree(node: GpuNode): number {
  return node.inventory.cpuMilli > 0 ? node.inventory.cpuMilli - (node.cpuMilli ?? 0) : Infinity;
}

/** Does the shape take whole GPUs (several, or all of one GPU's threads)? Then it needs idle GPUs. */
function wholeGpus(m: Shape): boolean {
  return m.gpus > 1 || m.threadMilli >= 1000;
}

function shapeFitsGpu(shape: Shape, g: GpuFree, memoryKnown: boolean): boolean {
  if (g.blocked || g.replicas < 1) return false;
  if (memoryKnown && shape.memoryBytes > g.memoryBytes) return false;
  return shape.threadMilli <= g.threadMilli;
}

/**
 * FGD's fragmentation of one node for a workload (Weng et al., ATC '23): for each typical shape,
 * the free GPU capacity (in GPUs) that shape cannot use — all of it when the shape does not fit on
 * the node at all, otherwise the free share of GPUs too small for it. Weighted by the shapes'
 * probabilities. MIG nodes are not fragmented in this sense (their slices are fixed): 0.
 */
export function nodeFragmentation(node: GpuNode, free: readonly GpuFree[], shapes: readonly Shape[], cpuFree = Infinity): number {
  const inv = node.inventory;
  if (!shareable(node) || free.length === 0) return 0;
  const memoryKnown = inv.gpus.some((g) => g.memoryBytes > 0);
  let idle = 0;
  let idleGpus = 0;
  for (const g of free) {
    if (g.blocked) continue;
    idle += g.fraction;
    if (g.idle) idleGpus++;
  }
  if (idle <= 0) return 0;
  let total = 0;
  for (const m of shapes) {
    let f: number;
    if ((m.cpuMilli ?? 0) > cpuFree) f = idle;
    else if (wholeGpus(m)) {
      f = idleGpus >= m.gpus ? idle - idleGpus : idle;
    } else {
      let fits = false;
      let unusable = 0;
      for (const g of free) {
        if (shapeFitsGpu(m, g, memoryKnown)) fits = true;
        else if (!g.blocked) unusable += g.fraction;
      }
      f = fits ? unusable : idle;
    }
    total += m.p * f;
  }
  return total;
}

/** CPU per GPU the typical shapes bring (milli CPU per GPU they take: a share pod counts its thread share), by probability; 0 when none say. */
let perGpuOf: { shapes: readonly Shape[]; value: number } | null = null;
export function cpuPerGpu(shapes: readonly Shape[]): number {
  if (perGpuOf?.shapes === shapes) return perGpuOf.value;
  let cpu = 0;
  let gpus = 0;
  for (const m of shapes) {
    cpu += m.p * (m.cpuMilli ?? 0);
    gpus += m.p * (wholeGpus(m) ? m.gpus : Math.max(m.threadMilli, 1) / 1000);
  }
  const value = gpus > 0 ? cpu / gpus : 0;
  perGpuOf = { shapes, value };
  return value;
}

/** How fast CPU headroom saturates (milli): 32 CPUs beyond the expected need rate ~0.88. */
const HEADROOM_SCALE = 32_000;

/**
 * CPU headroom after `cpuMilli` more is taken on the node: its CPU left beyond what its free GPU
 * capacity is expected to need (free GPUs × cpuPerGpu), squashed into 0..1 (0.5: exactly the
 * expected need left; lower: GPUs that will lack CPU). FGD's measure sees CPU only where a typical
 * shape stops fitting; this one sees it coming, so pods without GPUs go where CPU is plentiful for
 * the GPUs it serves (a 2-GPU node with 104 CPUs before an 8-GPU node with 96), and GPU pods avoid
 * nodes they would leave short of CPU for their remaining GPUs. `free`: the node's free GPU
 * capacity to count (after a GPU pod's placement; by default as the node is). null when the node's
 * CPU or the shapes' CPU is unknown.
 */
export function cpuHeadroom(node: NodeLedger, cpuMilli: number, ctx: ScoreContext, free: readonly GpuFree[] = freeNow(node)): number | null {
  const perGpu = cpuPerGpu(ctx.shapes);
  const cpuFree = nodeCpuFree(node);
  if (perGpu <= 0 || !Number.isFinite(cpuFree) || !shareable(node)) return null;
  let freeGpus = 0;
  for (const g of free) if (!g.blocked) freeGpus += g.fraction;
  return 0.5 + 0.5 * Math.tanh((cpuFree - cpuMilli - freeGpus * perGpu) / HEADROOM_SCALE);
}

/** gpuFree(node) for the node as it is, memoised per node generation (every rating of the node starts from it). */
export function freeNow(node: NodeLedger): readonly GpuFree[] {
  if (node.generation < 0) return gpuFree(node);
  const memo = memoOf(node);
  return (memo.free ??= gpuFree(node));
}

/**
 * Fragmentation score: 1 when the placement reduces the node's fragmentation by a whole GPU,
 * 0.5 when it leaves it unchanged, 0 when it adds a whole GPU of unusable capacity.
 */
export function fragmentation(demand: ScoreShape, node: NodeLedger, takes: readonly GpuTake[], ctx: ScoreContext, after: readonly GpuFree[] | null = null): number | null {
  if (!shareable(node) || ctx.shapes.length === 0) return null;
  let before: number;
  const memo = node.generation >= 0 ? memoOf(node) : null;
  if (memo?.fragBefore && memo.fragBefore.epoch === ctx.shapes) before = memo.fragBefore.value;
  else {
    before = nodeFragmentation(node, freeNow(node), ctx.shapes, nodeCpuFree(node));
    if (memo) memo.fragBefore = { epoch: ctx.shapes, value: before };
  }
  const fragAfter = nodeFragmentation(node, after ?? gpuFree(node, takes, freeNow(node)), ctx.shapes, nodeCpuFree(node) - demand.cpuMilli);
  const delta = fragAfter - before;
  return Math.min(1, Math.max(0, 0.5 - delta / 2));
}
