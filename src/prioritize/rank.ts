// Prioritize over a candidate list: the same fit as the filter gives the takes, the policy scores them.

import type { LedgerConfig } from '../model/config-types.js';
import type { GpuTake, PodDemand } from '../model/types.js';
import type { FitOptions } from '../filter/fit.js';
import { fitPodCached } from '../filter/fit-cache.js';
import type { Ledger } from '../state/ledger.js';
import type { Shape } from '../state/workload.js';
import { scoreNode, type ScoreBreakdown } from './policy.js';

export interface Ranked {
  host: string;
  /** null when the node does not fit (or is unknown): it scores 0. */
  breakdown: ScoreBreakdown | null;
  takes: readonly GpuTake[] | null;
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
  return names.map((host) => {
    const node = ledger.nodes.get(host);
    if (!node) return { host, breakdown: null, takes: null };
    const fit = fitPodCached(demand, node, options);
    if (!fit.fits) return { host, breakdown: null, takes: null };
    return { host, breakdown: scoreNode(demand, node, fit.takes, config.scoring.weights, ctx), takes: fit.takes };
  });
}
