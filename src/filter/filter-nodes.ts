// Filter over a candidate list: the fit check per named node, unknown names reported as such.
// The happy path allocates nothing per fitting node beyond what fitPod needs.

import type { PodDemand, Reason } from '../model/types.js';
import type { Ledger } from '../state/ledger.js';
import type { FitOptions } from './fit.js';
import { demandShapeKey, fitPodCached } from './fit-cache.js';

export const UNKNOWN_NODE: Reason = {
  code: 'node-unknown',
  resource: 'node',
  gpu: null,
  requested: 0,
  used: 0,
  capacity: 0,
  unit: 'none',
  resolvable: false,
};

export const NO_GPU: Reason = { ...UNKNOWN_NODE, code: 'no-gpu', resource: 'nvidia.com/gpu' };

export interface FilterOutcome {
  passed: string[];
  failed: Map<string, Reason[]>;
}

export function filterNodes(demand: PodDemand, ledger: Ledger, names: readonly string[], options: FitOptions = {}): FilterOutcome {
  const passed: string[] = [];
  const failed = new Map<string, Reason[]>();
  const key = demandShapeKey(demand);
  for (const name of names) {
    const node = ledger.nodes.get(name);
    if (!node) {
      failed.set(name, [ledger.knownWithoutGpu(name) ? NO_GPU : UNKNOWN_NODE]);
      continue;
    }
    const fit = fitPodCached(demand, node, options, key);
    if (fit.fits) passed.push(name);
    else failed.set(name, fit.reasons);
  }
  return { passed, failed };
}
