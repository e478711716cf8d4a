// Prioritize over a candidate list: the same fit as the filter gives the takes, the policy scores them.

import type { LedgerConfig } from '../model/config-types.js';
import type { GpuTake, PodDemand } from '../model/types.js';
import type { FitOptions } from '../filter/fit.js';
import { demandShapeKey, fitPodCached } from '../filter/fit-cache.js';
import { memoOf, type Ledger, type NodeLedger } from '../state/ledger.js';
import type { Shape } from '../state/workload.js';
import { scoreNode, type ScoreBreakdown } from './policy.js';
import type { ScoreContext } from './scorers.js';

export interface Ranked {
  host: string;
  /** null when the node does not fit (or is unknown): it scores 0. */
  breakdown: ScoreBreakdown | null;
  takes: readonly GpuTake[] | null;
}

/** scoreNode, memoised per node generation, demand shape and workload distribution. */
function scoreCached(demand: PodDemand, node: NodeLedger, takes: readonly GpuTake[], config: LedgerConfig, ctx: ScoreContext, key: string, options: FitOptions): ScoreBreakdown {
  if (options.chooser || node.generation < 0) return scoreNode(demand, node, takes, config.scoring.weights, ctx);
  const memo = memoOf(node);
  if (!memo.scores || memo.scores.shapes !== ctx.shapes) memo.scores = { shapes: ctx.shapes, byShape: new Map() };
  let s = memo.scores.byShape.get(key) as ScoreBreakdown | undefined;
  if (s === undefined) {
    s = scoreNode(demand, node, takes, config.scoring.weights, ctx);
    if (memo.scores.byShape.size >= 64) memo.scores.byShape.clear();
    memo.scores.byShape.set(key, s);
  }
  return s;
}

export function rankNodes(
  demand: PodDemand,
  ledger: Ledger,
  names: readonly string[],
  config: LedgerConfig,
  shapes: readonly Shape[],
  options: FitOptions = {},
): Ranked[] {
  const ctx = { tiers: config.tiers, shapes };
  const key = demandShapeKey(demand);
  return names.map((host) => {
    const node = ledger.nodes.get(host);
    if (!node) return { host, breakdown: null, takes: null };
    const fit = fitPodCached(demand, node, options, key);
    if (!fit.fits) return { host, breakdown: null, takes: null };
    // The score also depends on the pod's CPU (the fragmentation scorer sees CPU-stranded GPUs).
    return { host, breakdown: scoreCached(demand, node, fit.takes, config, ctx, `${key}|${demand.cpuMilli}`, options), takes: fit.takes };
  });
}
