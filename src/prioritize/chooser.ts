// The production GPU choice inside a node (nodes whose placement is `extender`): the GPU that
// leaves the node least fragmented for the typical pods (FGD's rule, with the shapes the workload
// model learned from pods already seen); ties go to the tightest GPU (best fit).

import { chargeClient, gpuFreeFraction, type GpuChooser } from '../filter/fit.js';
import type { GpuTake } from '../model/types.js';
import type { Shape } from '../state/workload.js';
import { gpuFree, type GpuFree } from './gpu-state.js';
import { nodeCpuFree, nodeFragmentation } from './scorers.js';

export function fragmentationChooser(shapes: () => readonly Shape[]): GpuChooser {
  return (node, candidates, demand, client) => {
    if (candidates.length === 1) return candidates[0];
    const s = shapes();
    const cpuFree = nodeCpuFree(node) - demand.cpuMilli;
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
      const c = chargeClient(node.inventory, demand, client, g, 1, 0, 1);
      const take: GpuTake = { gpu: g, replicas: 1, memoryBytes: c.memoryBytes, threadMilli: c.threadMilli, clients: 1, mig: null, exclusive: demand.isolation === 'exclusive' };
      const f = nodeFragmentation(node, gpuFree(node, [take]), s, cpuFree);
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
