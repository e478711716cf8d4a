// FGD's fragmentation measure on the trace (the paper's definition, as the trace README gives
// it), in GPU milli: for a node and a typical pod shape m, the free GPU capacity m cannot use.

import type { TracePod } from '../../model/trace.js';
import type { GpuTake } from '../../model/types.js';
import { gpuFree } from '../../gpu/free.js';
import type { NodeLedger } from '../../state/ledger.js';

export interface TraceShape {
  cpuMilli: number;
  gpuMilli: number;
  numGpu: number;
  spec: readonly string[];
  p: number;
}

/** The target workload: shapes by frequency until they cover ≥ 95 % of pods, renormalised. */
export function traceShapes(pods: readonly TracePod[], coverage = 0.95): TraceShape[] {
  const counts = new Map<string, { shape: Omit<TraceShape, 'p'>; n: number }>();
  for (const p of pods) {
    const key = `${p.cpuMilli}/${p.gpuMilli}/${p.numGpu}/${p.gpuSpec.join('|')}`;
    const e = counts.get(key);
    if (e) e.n++;
    else counts.set(key, { shape: { cpuMilli: p.cpuMilli, gpuMilli: p.gpuMilli, numGpu: p.numGpu, spec: p.gpuSpec }, n: 1 });
  }
  const sorted = [...counts.values()].sort((a, b) => b.n - a.n);
  const keep: { shape: Omit<TraceShape, 'p'>; n: number }[] = [];
  let covered = 0;
  for (const e of sorted) {
    keep.push(e);
    covered += e.n;
    if (covered >= coverage * pods.length) break;
  }
  return keep.map((e) => ({ ...e.shape, p: e.n / covered }));
}

/**
 * F_n = Σ_m p_m · F_n(m): F_n(m) = idle(n) when m is CPU-only, excluded by its gpu_spec, or does
 * not fit (GPUs or CPU); otherwise the free milli on GPUs too small for m. Optionally after `takes`.
 */
export function nodeTraceFrag(node: NodeLedger, cpuFree: number, model: string, shapes: readonly TraceShape[], takes: readonly GpuTake[] | null = null): number {
  const free = gpuFree(node, takes);
  let idle = 0;
  for (const g of free) idle += g.threadMilli;
  if (idle <= 0) return 0;
  let total = 0;
  for (const m of shapes) {
    let f = idle;
    if (m.numGpu > 0 && (m.spec.length === 0 || m.spec.includes(model)) && cpuFree >= m.cpuMilli) {
      let enough = 0;
      let small = 0;
      for (const g of free) {
        if (g.threadMilli >= m.gpuMilli) enough++;
        else small += g.threadMilli;
      }
      if (enough >= m.numGpu) f = small;
    }
    total += m.p * f;
  }
  return total;
}
