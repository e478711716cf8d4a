// Filter over a candidate list: the fit check per named node; names without a GPU node behind them
// are reported as such — except that a pod whose GPU spec is invalid gets that reason on every
// node, so `kubectl describe pod` shows what to fix wherever it looked.
// The happy path allocates nothing per fitting node beyond what fit needs.

import type { Reason } from '../model/types.js';
import { reasons } from '../gpu/reason.js';
import { fitKey, type FitShape } from '../gpu/shape.js';
import type { NodeLedger } from '../state/ledger.js';
import { fitCached, type Placement } from './fit-cache.js';

export interface FilterOutcome {
  passed: string[];
  failed: Map<string, Reason[]>;
}

/** A candidate name → its node, or the reason it has none (unknown, no GPU). */
export type Resolve = (name: string) => NodeLedger | Reason;

export function filterNodes(shape: FitShape, names: readonly string[], resolve: Resolve, placement: Placement): FilterOutcome {
  const passed: string[] = [];
  const failed = new Map<string, Reason[]>();
  const key = fitKey(shape);
  const invalid = shape.errors.length > 0 ? [reasons.invalidPod(shape.errors[0])] : null;
  for (const name of names) {
    const node = resolve(name);
    if (!('inventory' in node)) {
      failed.set(name, invalid ?? [node]);
      continue;
    }
    const r = fitCached(shape, node, placement, key);
    if (r.fits) passed.push(name);
    else failed.set(name, r.reasons);
  }
  return { passed, failed };
}
