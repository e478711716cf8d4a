// The scoring policy: a weighted mean of the scorers, mapped to kube-scheduler's 0..10.

import type { ScoringWeights } from '../model/config-types.js';
import type { GpuTake, PodDemand } from '../model/types.js';
import type { NodeLedger } from '../state/ledger.js';
import { binpack, fragmentation, tierFit, type ScoreContext } from './scorers.js';

export const MAX_SCORE = 10;

export interface ScoreBreakdown {
  /** 0..10, what kube-scheduler gets. */
  score: number;
  /** Unrounded weighted mean 0..1 (ties on the wire are broken by the scheduler; the replay uses this). */
  raw: number;
  components: { tierFit: number | null; fragmentation: number | null; binpack: number | null };
}

export function scoreNode(
  demand: PodDemand,
  node: NodeLedger,
  takes: readonly GpuTake[],
  weights: ScoringWeights,
  ctx: ScoreContext,
): ScoreBreakdown {
  const components = {
    tierFit: weights.tierFit > 0 ? tierFit(demand, node, takes, ctx) : null,
    fragmentation: weights.fragmentation > 0 ? fragmentation(demand, node, takes, ctx) : null,
    binpack: weights.binpack > 0 ? binpack(demand, node, takes) : null,
  };
  let sum = 0;
  let w = 0;
  for (const key of ['tierFit', 'fragmentation', 'binpack'] as const) {
    const v = components[key];
    if (v === null) continue;
    sum += weights[key] * v;
    w += weights[key];
  }
  const raw = w > 0 ? sum / w : 0;
  return { score: Math.round(raw * MAX_SCORE), raw, components };
}
