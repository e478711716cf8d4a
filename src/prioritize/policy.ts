// The scoring policy: a weighted mean of the scorers, mapped to kube-scheduler's 0..10.

import type { ScoringWeights } from '../model/config-types.js';
import type { GpuTake, PodDemand } from '../model/types.js';
import type { NodeLedger } from '../state/ledger.js';
import { binpack, fragmentation, tierFit, type ScoreContext } from './scorers.js';

/** Score of a node the pod has no GPU opinion about (unknown, or without GPUs): neutral. */
export const NEUTRAL_RAW = 0.5;

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

/**
 * A pod without GPUs (the `prioritize-cpu` verb): how little its CPU request strands GPU capacity
 * on the node — the fragmentation scorer with no GPU takes. A node where the pod's CPU leaves
 * every typical GPU shape placeable scores 5 (neutral, like a node without GPUs); one where it
 * shuts typical shapes out scores less.
 */
export function scoreCpuPod(demand: PodDemand, node: NodeLedger | undefined, ctx: ScoreContext): ScoreBreakdown {
  const f = node && demand.cpuMilli > 0 ? fragmentation(demand, node, [], ctx) : null;
  const raw = f ?? NEUTRAL_RAW;
  return { score: Math.round(raw * MAX_SCORE), raw, components: { tierFit: null, fragmentation: f, binpack: null } };
}
