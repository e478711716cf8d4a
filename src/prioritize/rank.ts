// Rank a candidate list: the same fit as the filter gives the takes, the policy rates them, and
// the ratings are normalised across the candidates into kube-scheduler's 0..10.

import type { ScoringWeights } from '../model/config-types.js';
import type { Tier } from '../model/types.js';
import type { Resolve } from '../filter/filter-nodes.js';
import { fitCached, type Placement } from '../filter/fit-cache.js';
import type { FitResult } from '../gpu/place.js';
import { fitKey, intern } from '../gpu/shape.js';
import { SlotMemo } from '../state/slot-memo.js';
import type { Shape } from '../state/workload.js';
import { normalize, scoreCpuPod, scoreNode, type ScoreBreakdown } from './policy.js';
import { scoreKey, type ScoreShape } from './score-shape.js';

export interface Ranked {
  host: string;
  /** The fit on this node (the reason when the node is unknown or has no GPU). */
  fit: FitResult;
  /** null when the node does not fit: it scores 0. */
  breakdown: ScoreBreakdown | null;
  /** 0..10 as sent to kube-scheduler, normalised across this request's candidates. */
  score: number;
}

export interface RankContext {
  weights: ScoringWeights;
  tiers: readonly Tier[];
  /** The workload's typical shapes (the fragmentation scorer's input; also the placement epoch). */
  shapes: readonly Shape[];
  placement: Placement;
}


/** The ratings: by score key (scoreKey: every field the scorers read; the CPU-only rating on its own prefix) and the workload's shapes, per node slot. */
const ratings = new SlotMemo<ScoreBreakdown>();

/** Fills in the normalised scores (the rows are this request's own objects). */
function finish(rows: Ranked[]): Ranked[] {
  normalize(
    rows.length,
    (i) => rows[i].breakdown?.raw ?? null,
    (i, score) => (rows[i].score = score),
  );
  return rows;
}

/** Ranks GPU pods: fit, rating, normalised score per candidate. */
export function rankNodes(shape: ScoreShape, names: readonly string[], resolve: Resolve, ctx: RankContext): Ranked[] {
  const fk = fitKey(shape);
  const sk = scoreKey(shape);
  const sctx = { tiers: ctx.tiers, shapes: ctx.shapes };
  const rows: Ranked[] = new Array(names.length);
  for (let i = 0; i < names.length; i++) {
    const host = names[i];
    const node = resolve(host, i);
    if (!('inventory' in node)) {
      rows[i] = { host, fit: { fits: false, reasons: [node] }, breakdown: null, score: 0 };
      continue;
    }
    const fit = fitCached(shape, node, ctx.placement, fk);
    let breakdown: ScoreBreakdown | null = null;
    if (fit.fits) {
      breakdown = ratings.get(node, sk, ctx.shapes) ?? ratings.set(node, sk, ctx.shapes, scoreNode(shape, node, fit.takes, ctx.weights, sctx));
    }
    rows[i] = { host, fit, breakdown, score: 0 };
  }
  return finish(rows);
}

/** Ranks pods without GPUs (`prioritize-cpu`): how little their CPU strands GPUs on each candidate. */
export function rankCpuPod(shape: ScoreShape, names: readonly string[], resolve: Resolve, ctx: RankContext): Ranked[] {
  const sctx = { tiers: ctx.tiers, shapes: ctx.shapes };
  const key = intern(`cpu|${scoreKey(shape)}`);
  const none: FitResult = { fits: true, takes: [], sequence: [], notes: [] };
  return finish(
    names.map((host, i) => {
      const node = resolve(host, i);
      let breakdown: ScoreBreakdown;
      if ('inventory' in node) breakdown = ratings.get(node, key, ctx.shapes) ?? ratings.set(node, key, ctx.shapes, scoreCpuPod(shape, node, sctx));
      else breakdown = scoreCpuPod(shape, undefined, sctx);
      return { host, fit: none, breakdown, score: 0 };
    }),
  );
}
