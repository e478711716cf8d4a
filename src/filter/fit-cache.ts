// Memoised fit for the filter/prioritize hot path. kube-scheduler asks about one pod at a time,
// pods come in few shapes (replicas of a Deployment, tiers), and a node's answer only changes
// when the node changes. So each node keeps the last answers per demand shape, valid for its
// current generation: a repeat costs two Map lookups instead of a placement.

import type { PodDemand } from '../model/types.js';
import type { NodeLedger } from '../state/ledger.js';
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

interface NodeFitCache {
  generation: number;
  byShape: Map<string, FitResult>;
}

const caches = new WeakMap<NodeLedger, NodeFitCache>();
/** Bound per node: a few distinct shapes are typical; a flood of unique ones must not grow memory. */
const MAX_SHAPES_PER_NODE = 64;

/** fitPod, answered from the node's cache when the node has not changed since. */
export function fitPodCached(demand: PodDemand, node: NodeLedger, options: FitOptions = {}): FitResult {
  if (options.chooser || options.pinned || options.force) return fitPod(demand, node, options);
  let c = caches.get(node);
  if (!c || c.generation !== node.generation) {
    c = { generation: node.generation, byShape: new Map() };
    caches.set(node, c);
  }
  const key = demandShapeKey(demand);
  let r = c.byShape.get(key);
  if (r === undefined) {
    r = fitPod(demand, node, options);
    if (c.byShape.size >= MAX_SHAPES_PER_NODE) c.byShape.clear();
    c.byShape.set(key, r);
  }
  return r;
}
