// The workload model: which pod shapes typically arrive. The fragmentation scorer measures free
// capacity that those shapes could not use. It learns only from pods already seen (bound or
// asked about), never from the future; before it has seen anything it assumes the tiers.

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
  /** Keep the most frequent shapes until they cover this share of pods (FGD uses 0.95). */
  coverage: number;
  /** Refresh the distribution at least every this many observed pods (always while fewer were seen). */
  refreshEvery: number;
}

export class WorkloadModel {
  private readonly counts = new Map<string, { shape: Omit<Shape, 'p'>; n: number }>();
  private total = 0;
  private cached: Shape[] | null = null;
  /** Observations since the distribution was last computed. */
  private sinceRefresh = 0;
  private readonly prior: Shape[];

  constructor(
    tiers: readonly Tier[],
    private readonly options: WorkloadOptions = { maxShapes: 256, coverage: 0.95, refreshEvery: 32 },
  ) {
    this.prior = tiers.map((t) => ({ memoryBytes: t.memoryBytes, threadMilli: t.threadMilli, gpus: 1, p: 1 / Math.max(1, tiers.length) }));
  }

  /** Records one pod's shape from the takes it got (or would get). */
  observe(takes: readonly GpuTake[], cpuMilli = 0, weight = 1): void {
    if (takes.length === 0) return;
    let mem = 0;
    let thr = 0;
    for (const t of takes) {
      mem = Math.max(mem, t.memoryBytes);
      thr = Math.max(thr, t.threadMilli);
    }
    this.observeShape({ memoryBytes: mem, threadMilli: thr, gpus: takes.length, cpuMilli }, weight);
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
    this.cached = keep.map((e) => ({ ...e.shape, p: e.n / covered }));
    return this.cached;
  }
}
