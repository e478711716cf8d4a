// Memoised fit for the filter/prioritize hot path. kube-scheduler asks about one pod at a time,
// pods come in few shapes (replicas of a Deployment, tiers), and a node's answer only changes
// when the node changes. So each node keeps its answers per fit key, valid for its generation and
// for the placement epoch (the state of everything the GPU chooser reads besides the node): a
// repeat costs one comparison or one Map lookup instead of a placement.

import { fit, type FitResult, type GpuChooser } from '../gpu/place.js';
import { fitKey, type FitShape } from '../gpu/shape.js';
import { memoOf, type NodeLedger } from '../state/ledger.js';

/** How GPUs are chosen on `extender`-placement nodes, and the identity of what that choice reads. */
export interface Placement {
  chooser: GpuChooser;
  /** Changes whenever the chooser's answers may change for an unchanged node (the workload's shapes). */
  epoch: unknown;
}

/** Bound per node: a few distinct shapes are typical; a flood of unique ones must not grow memory. */
const MAX_SHAPES_PER_NODE = 64;

/** fit(), answered from the node's memo when neither the node nor the placement epoch changed since. */
export function fitCached(shape: FitShape, node: NodeLedger, placement: Placement, key: string = fitKey(shape)): FitResult {
  if (node.generation < 0) return fit(shape, node, { chooser: placement.chooser });
  const memo = memoOf(node);
  if (memo.fitEpoch !== placement.epoch) {
    memo.fits.clear();
    memo.lastKey = undefined;
    memo.fitEpoch = placement.epoch;
  }
  // Same key as last time (one pod asked about across all nodes): no Map lookup at all.
  if (memo.lastKey === key) return memo.lastFit as FitResult;
  let r = memo.fits.get(key) as FitResult | undefined;
  if (r === undefined) {
    r = fit(shape, node, { chooser: placement.chooser });
    if (memo.fits.size >= MAX_SHAPES_PER_NODE) memo.fits.clear();
    memo.fits.set(key, r);
  }
  memo.lastKey = key;
  memo.lastFit = r;
  return r;
}
