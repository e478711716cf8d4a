// The workload model: which pod shapes typically arrive. The fragmentation scorer measures free
// capacity that those shapes could not use. It learns only from pods already seen (bound or
// asked about), never from the future; before it has seen anything it assumes the tiers.

import { LRUCache } from 'lru-cache';
import type { FitShape } from '../gpu/shape.js';
import type { GpuTake, Tier } from '../model/types.js';

export interface Shape {
  /** Memory per GPU (bytes); 0 when the pod's memory is not accounted (MIG, unknown). */
  memoryBytes: number;
  /** Compute per GPU (milli). */
  threadMilli: number;
  /** GPUs the pod spans (>1: whole GPUs). */
  gpus: number;
  /** CPU request (milli); 0 when unknown. A node with less CPU left cannot take the shape. */
  cpuMilli?: number;
  /** Probability among the typical shapes (Σ = 1). */
  p: number;
}

const MiB = 2 ** 20;

export interface WorkloadOptions {
  /** Most distinct shapes remembered (least frequent forgotten first). */
  maxShapes: number;
  /**
   * Keep the most frequent shapes until they cover this share of pods (FGD uses 0.95). 0.99 placed
   * the trace as well in sum but kept ~1.7× the shapes, and prioritize's cost grows with them
   * (README, Placement quality).
   */
  coverage: number;
  /** Refresh the distribution at least every this many observed pods (always while fewer were seen). */
  refreshEvery: number;
}

export class WorkloadModel {
  private readonly counts = new Map<string, { shape: Omit<Shape, 'p'>; n: number }>();
  private total = 0;
  private cached: Shape[] | null = null;
  /** The last distribution handed out (shapes() returns it again while nothing changed). */
  private last: Shape[] | null = null;
  /** Observations since the distribution was last computed. */
  private sinceRefresh = 0;
  private readonly prior: Shape[];

  constructor(
    tiers: readonly Tier[],
    private readonly options: WorkloadOptions = { maxShapes: 256, coverage: 0.95, refreshEvery: 32 },
  ) {
    this.prior = tiers.map((t) => ({ memoryBytes: t.memoryBytes, threadMilli: t.threadMilli, gpus: 1, p: 1 / Math.max(1, tiers.length) }));
  }

  /** Pods already counted: a pod is one observation however often it is asked about. */
  private readonly seenPods = new LRUCache<string, true>({ max: 65_536 });

  /** Records a pod's shape once per UID (`shape` null: nothing to learn, e.g. MIG). */
  observePod(uid: string, shape: Omit<Shape, 'p'> | null): void {
    if (!shape || !uid || this.seenPods.has(uid)) return;
    this.seenPods.set(uid, true);
    this.observeShape(shape);
  }

  /** A running pod's shape from its takes (what it holds per GPU). */
  static shapeOfTakes(takes: readonly GpuTake[], cpuMilli: number): Omit<Shape, 'p'> | null {
    if (takes.length === 0 || takes.every((t) => t.mig !== null)) return null;
    let mem = 0;
    let thr = 0;
    for (const t of takes) {
      mem = Math.max(mem, t.memoryBytes);
      thr = Math.max(thr, t.threadMilli);
    }
    return { memoryBytes: mem, threadMilli: thr, gpus: takes.length, cpuMilli };
  }

  observeShape(shape: Omit<Shape, 'p'>, weight = 1): void {
    // Round memory to MiB so near-identical shapes pool together.
    // CPU pools to 100 m (rounded up: a shape must not look smaller than the pods it stands for).
    const s = { memoryBytes: Math.round(shape.memoryBytes / MiB) * MiB, threadMilli: Math.round(shape.threadMilli), gpus: shape.gpus, cpuMilli: Math.ceil((shape.cpuMilli ?? 0) / 100) * 100 };
    const key = `${s.memoryBytes}/${s.threadMilli}/${s.gpus}/${s.cpuMilli}`;
    const e = this.counts.get(key);
    if (e) e.n += weight;
    else {
      if (this.counts.size >= this.options.maxShapes) this.evictRarest();
      this.counts.set(key, { shape: s, n: weight });
    }
    this.total += weight;
    // Recompute the distribution at most every `refreshEvery` pods once it is established: a new
    // distribution invalidates every node's memoised scores, and one pod barely moves it.
    // The interval grows with what was seen (1/4 of it): an established distribution moves slowly.
    if (++this.sinceRefresh >= Math.max(this.options.refreshEvery, this.total / 4) || this.total <= this.options.refreshEvery) this.cached = null;
  }

  private evictRarest(): void {
    let rareKey: string | null = null;
    let rare = Infinity;
    for (const [k, e] of this.counts) {
      if (e.n < rare) {
        rare = e.n;
        rareKey = k;
      }
    }
    if (rareKey !== null) {
      this.total -= rare;
      this.counts.delete(rareKey);
    }
  }

  get seen(): number {
    return this.total;
  }

  /** The typical shapes with probabilities (most frequent first, covering `coverage`). */
  shapes(): readonly Shape[] {
    if (this.cached) return this.cached;
    if (this.total <= 0) return this.prior;
    this.sinceRefresh = 0;
    const sorted = [...this.counts.values()].sort((a, b) => b.n - a.n);
    const keep: { shape: Omit<Shape, 'p'>; n: number }[] = [];
    let covered = 0;
    for (const e of sorted) {
      keep.push(e);
      covered += e.n;
      if (covered >= this.options.coverage * this.total) break;
    }
    const next = keep.map((e) => ({ ...e.shape, p: e.n / covered }));
    // The array's identity is the placement epoch every fit and score memo keys on: a refresh that
    // yields the same distribution keeps the previous array, so nothing is recomputed for nothing.
    this.cached = this.last !== null && sameShapes(this.last, next) ? this.last : (this.last = next);
    return this.cached;
  }
}

function sameShapes(a: readonly Shape[], b: readonly Shape[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.memoryBytes !== y.memoryBytes || x.threadMilli !== y.threadMilli || x.gpus !== y.gpus || x.cpuMilli !== y.cpuMilli || x.p !== y.p) return false;
  }
  return true;
}

/**
 * The shape a pending pod asks for, from its demand alone (no node yet): memory and threads per
 * GPU it states, GPUs it spans (shared replicas spread over as many GPUs as its env names). Pods
 * that state nothing count as 0 in that dimension (they fit any GPU with room); MIG pods are not
 * shapes of shareable GPUs (null).
 */
export function demandShape(d: FitShape & { cpuMilli: number }): Omit<Shape, 'p'> | null {
  if (d.errors.length > 0 || d.clients.length === 0) return null;
  let mem = d.declaredMemoryBytes ?? 0;
  let thr = d.declaredThreadMilli ?? 0;
  let gpus = 1;
  for (const c of d.clients) {
    if (c.mig.size > 0) return null;
    for (const v of c.memLimitByOrdinal.values()) mem = Math.max(mem, v);
    for (const v of c.memLimitByUuid.values()) mem = Math.max(mem, v);
    if (c.threadMilli !== null) thr = Math.max(thr, c.threadMilli);
    gpus = Math.max(gpus, c.gpuTokens.size, c.memLimitByOrdinal.size > 0 ? Math.max(...c.memLimitByOrdinal.keys()) + 1 : 1);
  }
  return { memoryBytes: mem, threadMilli: thr, gpus, cpuMilli: d.cpuMilli };
}
