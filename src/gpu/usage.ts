// What a GPU has handed out, and the one signed update that adds or removes a pod's take
// (kube-scheduler's NodeInfo.update(pod, sign) idea): the ledger, scratch copies for preemption
// and the scorers' "after this placement" views all go through applyTake, so add and remove are
// exact inverses and no counter can drift.

import { NO_MIG, type GpuTake, type NodeInventory } from '../model/types.js';

export interface GpuUsage {
  replicas: number;
  memoryBytes: number;
  threadMilli: number;
  clients: number;
  /** Pods with anything on this GPU. */
  pods: number;
  /** Pods holding this GPU exclusively. */
  exclusive: number;
  /**
   * MIG instances in use per profile name. A GPU without any shares the empty NO_MIG (applyTake
   * gives it a map of its own first): most GPUs are not MIG, and a Map per GPU would double the
   * usage's size and spread the ledger's per-GPU numbers over more memory than the filter reads.
   */
  mig: ReadonlyMap<string, number>;
}

/** A pod as the GPU rules see it on a node: who it is and what it holds. */
export interface PodOnNode {
  namespace: string;
  name: string;
  takes: readonly GpuTake[];
}

/** A node as the GPU rules read it: inventory, per-GPU usage, and the pods behind the usage. */
export interface GpuNode {
  readonly name: string;
  readonly inventory: NodeInventory;
  /** Each GPU's usage: views over `counters` (newUsages). */
  readonly gpus: readonly GpuUsage[];
  /** The numbers of every GPU's usage in one array, GPU i's at i × USAGE_FIELDS: what the filter's hot path reads (gpuPods, gpuReplicas, gpuExclusive, usageOf). */
  readonly counters: Float64Array;
  /** Each GPU's MIG instances in use (its usage's `mig`). */
  readonly migs: readonly ReadonlyMap<string, number>[];
  readonly pods: ReadonlyMap<string, PodOnNode>;
  /** CPU requested by the pods on the node (milli), when the ledger keeps it. */
  readonly cpuMilli?: number;
}

// Where each number of a GPU's usage sits among its node's counters.
const REPLICAS = 0;
const MEMORY = 1;
const THREADS = 2;
const CLIENTS = 3;
const PODS = 4;
const EXCLUSIVE = 5;
export const USAGE_FIELDS = 6;

/**
 * A GPU's usage: a view over its node's counters (one Float64Array per node, GPU after GPU) and
 * MIG maps. A filter reads a few numbers of every candidate node's GPUs: from one array per node
 * they are a few neighbouring words, where one object per GPU (and a box per memory number past
 * 2^30) put them on as many cache lines as the node has GPUs, wherever the heap had put each
 * object. The numbers are exact: integers far below 2^53 (limits.ts). A view holds nothing of its
 * own, so any number of views of one GPU are the same usage (usageOf).
 */
class TableUsage implements GpuUsage {
  constructor(
    private readonly counters: Float64Array,
    private readonly migs: ReadonlyMap<string, number>[],
    private readonly gpu: number,
    private readonly at = gpu * USAGE_FIELDS,
  ) {}
  /**
   * MIG instances in use per profile name. A GPU without any shares the empty NO_MIG (applyTake
   * gives it a map of its own first): most GPUs are not MIG.
   */
  get mig(): ReadonlyMap<string, number> {
    return this.migs[this.gpu];
  }
  set mig(m: ReadonlyMap<string, number>) {
    this.migs[this.gpu] = m;
  }
  get replicas(): number {
    return this.counters[this.at + REPLICAS];
  }
  set replicas(v: number) {
    this.counters[this.at + REPLICAS] = v;
  }
  get memoryBytes(): number {
    return this.counters[this.at + MEMORY];
  }
  set memoryBytes(v: number) {
    this.counters[this.at + MEMORY] = v;
  }
  get threadMilli(): number {
    return this.counters[this.at + THREADS];
  }
  set threadMilli(v: number) {
    this.counters[this.at + THREADS] = v;
  }
  get clients(): number {
    return this.counters[this.at + CLIENTS];
  }
  set clients(v: number) {
    this.counters[this.at + CLIENTS] = v;
  }
  get pods(): number {
    return this.counters[this.at + PODS];
  }
  set pods(v: number) {
    this.counters[this.at + PODS] = v;
  }
  get exclusive(): number {
    return this.counters[this.at + EXCLUSIVE];
  }
  set exclusive(v: number) {
    this.counters[this.at + EXCLUSIVE] = v;
  }
}

/** Idle usages of `gpuCount` GPUs: the views, and the counters and MIG maps they are views over (a GpuNode's `gpus`, `counters` and `migs`). */
export function newUsages(gpuCount: number): { gpus: GpuUsage[]; counters: Float64Array; migs: ReadonlyMap<string, number>[] } {
  const counters = new Float64Array(gpuCount * USAGE_FIELDS);
  const migs = new Array<ReadonlyMap<string, number>>(gpuCount).fill(NO_MIG);
  const gpus = new Array<GpuUsage>(gpuCount);
  for (let i = 0; i < gpuCount; i++) gpus[i] = new TableUsage(counters, migs, i);
  return { gpus, counters, migs };
}

/** One idle GPU's usage, on counters of its own. */
export function emptyUsage(): GpuUsage {
  return newUsages(1).gpus[0];
}

/**
 * GPU `gpu`'s usage as a new view over the node's counters: the same usage as node.gpus[gpu],
 * without loading that object (the filter's hot path: one GPU per candidate node is admitted).
 */
export function usageOf(node: GpuNode, gpu: number): GpuUsage {
  // The node's own MIG maps: a view may write them (applyTake), as node.gpus[gpu] would.
  return new TableUsage(node.counters, node.migs as ReadonlyMap<string, number>[], gpu);
}

export function copyUsage(u: GpuUsage): GpuUsage {
  const c = emptyUsage();
  c.replicas = u.replicas;
  c.memoryBytes = u.memoryBytes;
  c.threadMilli = u.threadMilli;
  c.clients = u.clients;
  c.pods = u.pods;
  c.exclusive = u.exclusive;
  c.mig = u.mig.size === 0 ? NO_MIG : new Map(u.mig);
  return c;
}

/** Pods with anything on GPU `gpu` of the node (its usage's `pods`, read from the node's counters). */
export function gpuPods(node: GpuNode, gpu: number): number {
  return node.counters[gpu * USAGE_FIELDS + PODS];
}

/** Replicas in use on GPU `gpu` of the node (its usage's `replicas`). */
export function gpuReplicas(node: GpuNode, gpu: number): number {
  return node.counters[gpu * USAGE_FIELDS + REPLICAS];
}

/** Pods holding GPU `gpu` of the node exclusively (its usage's `exclusive`). */
export function gpuExclusive(node: GpuNode, gpu: number): number {
  return node.counters[gpu * USAGE_FIELDS + EXCLUSIVE];
}

/** Adds (sign +1) or removes (sign −1) one take from a GPU's usage. */
export function applyTake(u: GpuUsage, t: GpuTake, sign: 1 | -1): void {
  u.replicas += sign * t.replicas;
  u.memoryBytes += sign * t.memoryBytes;
  u.threadMilli += sign * t.threadMilli;
  u.clients += sign * t.clients;
  u.pods += sign;
  if (t.exclusive) u.exclusive += sign;
  if (t.mig && t.mig.size > 0) {
    // The GPU's own map from its first instance on (the shared empty one is never written).
    const mig = u.mig === NO_MIG ? new Map<string, number>() : (u.mig as Map<string, number>);
    for (const [profile, n] of t.mig) {
      const v = (mig.get(profile) ?? 0) + sign * n;
      if (v === 0) mig.delete(profile);
      else mig.set(profile, v);
    }
    u.mig = mig.size === 0 ? NO_MIG : mig;
  }
}

/** Usage of each GPU after adding `takes` (a copy; the node is not touched). */
export function usageAfter(node: GpuNode, takes: readonly GpuTake[]): GpuUsage[] {
  const out = node.gpus.map((u) => u);
  for (const t of takes) {
    if (t.gpu < 0 || t.gpu >= out.length) continue;
    if (out[t.gpu] === node.gpus[t.gpu]) out[t.gpu] = copyUsage(node.gpus[t.gpu]);
    applyTake(out[t.gpu], t, +1);
  }
  return out;
}

/** `namespace/name` of the pods with a take on GPU `gpu` (exclusive ones only, if asked). */
export function podsOnGpu(node: GpuNode, gpu: number, exclusiveOnly = false, limit = 5): string[] {
  const out: string[] = [];
  for (const p of node.pods.values()) {
    for (const t of p.takes) {
      if (t.gpu === gpu && (!exclusiveOnly || t.exclusive)) {
        out.push(`${p.namespace}/${p.name}`);
        break;
      }
    }
    if (out.length >= limit) break;
  }
  return out;
}
