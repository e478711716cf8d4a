// Memoised fit for the filter/prioritize hot path. kube-scheduler asks about one pod at a time,
// pods come in few shapes (replicas of a Deployment, tiers), and a node's answer only changes
// when the node changes. So each node keeps the last answers per demand shape, valid for its
// current generation: a repeat costs two Map lookups instead of a placement.

import type { PodDemand } from '../model/types.js';
import { memoOf, type NodeLedger } from '../state/ledger.js';
import { fitPod, type FitOptions, type FitResult } from './fit.js';

const keys = new WeakMap<PodDemand, string>();

/** Everything in a demand that can change a fit decision (not the pod's identity). */
export function demandShapeKey(d: PodDemand): string {
  let k = keys.get(d);
  if (k !== undefined) return k;
  const parts: unknown[] = [
    [...d.requests],
    d.clients.map((c) => [c.replicas, [...c.gpuTokens], [...c.mig], [...c.memLimitByOrdinal], [...c.memLimitByUuid], c.threadMilli]),
    d.declaredMemoryBytes,
    d.declaredThreadMilli,
    d.isolation,
    d.errors.length > 0 ? d.errors[0].message : '',
  ];
  k = JSON.stringify(parts);
  keys.set(d, k);
  return k;
}

/** Bound per node: a few distinct shapes are typical; a flood of unique ones must not grow memory. */
const MAX_SHAPES_PER_NODE = 64;

/**
 * fitPod, answered from the node's memo when the node has not changed since. `key` is the
 * demand's shape key (computed once per request by the caller, not once per node).
 */
export function fitPodCached(demand: PodDemand, node: NodeLedger, options: FitOptions = {}, key: string = demandShapeKey(demand)): FitResult {
  if (options.chooser || options.pinned || options.force || node.generation < 0) return fitPod(demand, node, options);
  const memo = memoOf(node);
  // Same key string as last time (one pod asked about across all nodes): no Map lookup at all.
  if (memo.lastKey === key) return memo.lastFit as FitResult;
  let r = memo.fits.get(key) as FitResult | undefined;
  if (r === undefined) {
    r = fitPod(demand, node, options);
    if (memo.fits.size >= MAX_SHAPES_PER_NODE) memo.fits.clear();
    memo.fits.set(key, r);
  }
  memo.lastKey = key;
  memo.lastFit = r;
  return r;
}
