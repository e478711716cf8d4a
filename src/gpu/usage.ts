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
  /** Each GPU's usage: views over the node's range of `store` and over `migs` (newUsages). */
  readonly gpus: readonly GpuUsage[];
  /**
   * Where the numbers of the node's GPU usages are: GPU i's at `base` + i × USAGE_FIELDS of the
   * store's array. What the filter's hot path reads (gpuPods, gpuReplicas, gpuExclusive, usageOf).
   */
  readonly store: CounterStore;
  readonly base: number;
  /** Each GPU's MIG instances in use (its usage's `mig`). */
  readonly migs: readonly ReadonlyMap<string, number>[];
  readonly pods: ReadonlyMap<string, PodOnNode>;
  /** CPU requested by the pods on the node (milli), when the ledger keeps it. */
  readonly cpuMilli?: number;
}

// Where each number of a GPU's usage sits in its range.
const REPLICAS = 0;
const MEMORY = 1;
const THREADS = 2;
const CLIENTS = 3;
const PODS = 4;
const EXCLUSIVE = 5;
export const USAGE_FIELDS = 6;

/**
 * The numbers of many GPUs' usages in one Float64Array (struct of arrays): the ledger keeps every
 * node's in one store, a range per node in the order the nodes came, GPU after GPU. A filter
 * reads a few numbers of every candidate node's GPUs: here they are a few neighbouring words, next
 * to the previous node's, where one object per GPU (and a box per memory number past 2^30) put
 * them on as many cache lines as the node has GPUs, wherever the heap had put each object, and
 * one array per node added that array's object and its own storage. The numbers are exact:
 * integers far below 2^53 (limits.ts).
 *
 * A range given back is reused only by a node of the same GPU count (free lists by size), so the
 * store never holds more than the most GPUs its nodes had at once, times two for growth.
 */
export class CounterStore {
  /** The numbers (replaced by a larger copy when the store grows: read it through the store). */
  numbers: Float64Array;
  private used = 0;
  private readonly spare: number[][] = [];

  constructor(gpus = 64) {
    this.numbers = new Float64Array(Math.max(1, gpus) * USAGE_FIELDS);
  }

  /** A zeroed range for `gpus` GPUs: its offset. */
  take(gpus: number): number {
    const size = gpus * USAGE_FIELDS;
    const at = this.spare[gpus]?.pop();
    if (at !== undefined) {
      this.numbers.fill(0, at, at + size);
      return at;
    }
    if (this.used + size > this.numbers.length) {
      const grown = new Float64Array(Math.max(this.numbers.length * 2, this.used + size));
      grown.set(this.numbers.subarray(0, this.used));
      this.numbers = grown;
    }
    const start = this.used;
    this.used += size;
    return start;
  }

  /** Gives back the range at `at` of `gpus` GPUs (nothing may read it after). */
  give(at: number, gpus: number): void {
    (this.spare[gpus] ??= []).push(at);
  }
}

/**
 * A GPU's usage: a view over its range of a counter store and its node's MIG maps. A view holds
 * none of the numbers, so any number of views of one GPU are the same usage (usageOf).
 */
class TableUsage implements GpuUsage {
  constructor(
    private store: CounterStore,
    private readonly migs: ReadonlyMap<string, number>[],
    private readonly gpu: number,
    private at: number,
  ) {}
  /** Points the view at another store's range (releaseUsages: the numbers were copied there). */
  moveTo(store: CounterStore, at: number): void {
    this.store = store;
    this.at = at;
  }
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
    return this.store.numbers[this.at + REPLICAS];
  }
  set replicas(v: number) {
    this.store.numbers[this.at + REPLICAS] = v;
  }
  get memoryBytes(): number {
    return this.store.numbers[this.at + MEMORY];
  }
  set memoryBytes(v: number) {
    this.store.numbers[this.at + MEMORY] = v;
  }
  get threadMilli(): number {
    return this.store.numbers[this.at + THREADS];
  }
  set threadMilli(v: number) {
    this.store.numbers[this.at + THREADS] = v;
  }
  get clients(): number {
    return this.store.numbers[this.at + CLIENTS];
  }
  set clients(v: number) {
    this.store.numbers[this.at + CLIENTS] = v;
  }
  get pods(): number {
    return this.store.numbers[this.at + PODS];
  }
  set pods(v: number) {
    this.store.numbers[this.at + PODS] = v;
  }
  get exclusive(): number {
    return this.store.numbers[this.at + EXCLUSIVE];
  }
  set exclusive(v: number) {
    this.store.numbers[this.at + EXCLUSIVE] = v;
  }
}

/** A node's usages as GpuNode holds them. */
export interface Usages {
  gpus: GpuUsage[];
  store: CounterStore;
  base: number;
  migs: ReadonlyMap<string, number>[];
}

/** Idle usages of `gpuCount` GPUs, their numbers in a range of `store` (a store of their own by default). */
export function newUsages(gpuCount: number, store: CounterStore = new CounterStore(gpuCount)): Usages {
  const base = store.take(gpuCount);
  const migs = new Array<ReadonlyMap<string, number>>(gpuCount).fill(NO_MIG);
  const gpus = new Array<GpuUsage>(gpuCount);
  for (let i = 0; i < gpuCount; i++) gpus[i] = new TableUsage(store, migs, i, base + i * USAGE_FIELDS);
  return { gpus, store, base, migs };
}

/** Every usage of the node idle again, in place (its views stay its views). */
export function clearUsages(u: Usages): void {
  u.store.numbers.fill(0, u.base, u.base + u.gpus.length * USAGE_FIELDS);
  u.migs.fill(NO_MIG);
}

/**
 * Moves the node's numbers to a store of their own and gives its range back to the shared store:
 * the node (removed from the ledger, or about to get usages for another GPU count) and its views
 * keep reading their own numbers, never the next node's that takes the range.
 */
export function releaseUsages(u: Usages): void {
  const n = u.gpus.length;
  const own = new CounterStore(n);
  own.numbers.set(u.store.numbers.subarray(u.base, u.base + n * USAGE_FIELDS));
  u.store.give(u.base, n);
  for (let i = 0; i < n; i++) (u.gpus[i] as TableUsage).moveTo(own, i * USAGE_FIELDS);
  u.store = own;
  u.base = 0;
}

/**
 * A GPU's usage on its own, as plain fields: the scratch copies (the scorers' "after this
 * placement" views, preemption's what-ifs) are made a few at a time and read once, where a view
 * would cost a store of its own, its array and its MIG list per copy. Its small-integer fields
 * stay small integers in place as long as only integers are stored (applyTake's `| 0`); only
 * memoryBytes, past 2^30, is a boxed number.
 */
class Usage implements GpuUsage {
  replicas = 0;
  memoryBytes = 0;
  threadMilli = 0;
  clients = 0;
  pods = 0;
  exclusive = 0;
  mig: ReadonlyMap<string, number> = NO_MIG;
}

/** One idle GPU's usage, on its own. */
export function emptyUsage(): GpuUsage {
  return new Usage();
}

/**
 * GPU `gpu`'s usage as a new view over the node's numbers: the same usage as node.gpus[gpu],
 * without loading that object (the filter's hot path: one GPU per candidate node is admitted).
 */
export function usageOf(node: GpuNode, gpu: number): GpuUsage {
  // The node's own MIG maps: a view may write them (applyTake), as node.gpus[gpu] would.
  return new TableUsage(node.store, node.migs as ReadonlyMap<string, number>[], gpu, node.base + gpu * USAGE_FIELDS);
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

/** Pods with anything on GPU `gpu` of the node (its usage's `pods`, read from the node's numbers). */
export function gpuPods(node: GpuNode, gpu: number): number {
  return node.store.numbers[node.base + gpu * USAGE_FIELDS + PODS];
}

/** Replicas in use on GPU `gpu` of the node (its usage's `replicas`). */
export function gpuReplicas(node: GpuNode, gpu: number): number {
  return node.store.numbers[node.base + gpu * USAGE_FIELDS + REPLICAS];
}

/** Pods holding GPU `gpu` of the node exclusively (its usage's `exclusive`). */
export function gpuExclusive(node: GpuNode, gpu: number): number {
  return node.store.numbers[node.base + gpu * USAGE_FIELDS + EXCLUSIVE];
}

/** Adds (sign +1) or removes (sign −1) one take from a GPU's usage. */
export function applyTake(u: GpuUsage, t: GpuTake, sign: 1 | -1): void {
  // The counts are integers far below 2^30 (limits.ts: at most MAX_PODS_PER_GPU takes of at most
  // MAX_REPLICAS_PER_GPU replicas, MAX_COMPUTE_OVERCOMMIT × 1000 threads, MAX_MPS_CLIENTS clients
  // each), so `| 0` changes no value. A take's numbers may be boxed (they come from arithmetic on
  // parsed quantities), and a sum with a boxed number is a boxed number: stored as is into a plain
  // Usage, it would box that field in every Usage (the class above).
  u.replicas = (u.replicas + sign * t.replicas) | 0;
  u.memoryBytes += sign * t.memoryBytes;
  u.threadMilli = (u.threadMilli + sign * t.threadMilli) | 0;
  u.clients = (u.clients + sign * t.clients) | 0;
  u.pods = (u.pods + sign) | 0;
  if (t.exclusive) u.exclusive = (u.exclusive + sign) | 0;
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
