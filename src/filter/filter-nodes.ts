// Filter over a candidate list: the fit check per named node, unknown names reported as such.
// The happy path allocates nothing per fitting node beyond what fit needs.

import type { Reason } from '../model/types.js';
import { NO_GPU, NODE_UNKNOWN } from '../gpu/reason.js';
import { fitKey, type FitShape } from '../gpu/shape.js';
import type { Ledger } from '../state/ledger.js';
import { fitCached, type Placement } from './fit-cache.js';

export interface FilterOutcome {
  passed: string[];
  failed: Map<string, Reason[]>;
}

export function filterNodes(shape: FitShape, ledger: Ledger, names: readonly string[], placement: Placement): FilterOutcome {
  const passed: string[] = [];
  const failed = new Map<string, Reason[]>();
  const key = fitKey(shape);
  for (const name of names) {
    const node = ledger.nodes.get(name);
    if (!node) {
      failed.set(name, [ledger.knownWithoutGpu(name) ? NO_GPU : NODE_UNKNOWN]);
      continue;
    }
    const r = fitCached(shape, node, placement, key);
    if (r.fits) passed.push(name);
    else failed.set(name, r.reasons);
  }
  return { passed, failed };
}
