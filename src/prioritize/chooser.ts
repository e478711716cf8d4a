// The production GPU choice inside a node (nodes whose placement is `extender`, and MIG instances):
// the GPU that leaves the node least fragmented for the typical pods (FGD's rule, with the shapes
// the workload model learned from pods already seen); ties go to the tightest GPU (best fit).
// The server's bind, prioritize, explain and the trace replay all choose through this one chooser.
// It reads the node and the shapes only — not the pod's CPU (node-level, the same for every GPU
// of the node) — so the fit cache's key stays the fit shape and its epoch the shape set.

import { gpuFree, gpuFreeFraction, type GpuFree } from '../gpu/free.js';
import { replicaTake, type GpuChooser } from '../gpu/place.js';
import type { Shape } from '../state/workload.js';
import { nodeCpuFree, nodeFragmentation } from './scorers.js';

export function fragmentationChooser(shapes: readonly Shape[]): GpuChooser {
  return (node, candidates, shape, client) => {
    if (candidates.length === 1) return candidates[0];
    const cpuFree = nodeCpuFree(node);
    let best = candidates[0];
    let bestF = Infinity;
    let bestFree = Infinity;
    // GPUs in the same state (typically the idle ones) leave the same fragmentation: try one each.
    const now = gpuFree(node);
    const tried: GpuFree[] = [];
    for (const g of candidates) {
      const f0 = now[g];
      if (tried.some((t) => sameState(t, f0))) continue;
      tried.push(f0);
      const f = nodeFragmentation(node, gpuFree(node, [replicaTake(shape, client, node, g)], now), shapes, cpuFree);
      const free = gpuFreeFraction(node, g);
      if (f < bestF - 1e-12 || (Math.abs(f - bestF) <= 1e-12 && free < bestFree)) {
        best = g;
        bestF = f;
        bestFree = free;
      }
    }
    return best;
  };
}

function sameState(a: GpuFree, b: GpuFree): boolean {
  return a.idle === b.idle && a.threadMilli === b.threadMilli && a.memoryBytes === b.memoryBytes && a.replicas === b.replicas && a.clients === b.clients && a.blocked === b.blocked && a.fraction === b.fraction;
}
