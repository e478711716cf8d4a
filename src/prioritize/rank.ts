// Rank a candidate list: the same fit as the filter gives the takes, the policy rates them, and
// the ratings are normalised across the candidates into kube-scheduler's 0..10.

import type { ScoringWeights } from '../model/config-types.js';
import type { Tier } from '../model/types.js';
import type { Resolve } from '../filter/filter-nodes.js';
import { fitCached, type Placement } from '../filter/fit-cache.js';
import type { FitResult } from '../gpu/place.js';
import { fitKey, intern } from '../gpu/shape.js';
import { memoOf, type NodeLedger } from '../state/ledger.js';
import type { Shape } from '../state/workload.js';
import { normalizeScores, scoreCpuPod, scoreNode, type ScoreBreakdown } from './policy.js';
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


/** Bound per node, like the fit memo. */
const MAX_SCORES_PER_NODE = 64;

/**
 * A node's rating, memoised per node generation, workload shapes and score key. `key` is built by
 * scoreKey (every field the scorers read); the CPU-only rating keys on its own prefix.
 */
function rated(node: NodeLedger, key: string, ctx: RankContext, compute: () => ScoreBreakdown): ScoreBreakdown {
  if (node.generation < 0) return compute();
  const memo = memoOf(node);
  if (!memo.scores || memo.scores.epoch !== ctx.shapes) memo.scores = { epoch: ctx.shapes, byShape: new Map() };
  let s = memo.scores.byShape.get(key) as ScoreBreakdown | undefined;
  if (s === undefined) {
    s = compute();
    if (memo.scores.byShape.size >= MAX_SCORES_PER_NODE) memo.scores.byShape.clear();
    memo.scores.byShape.set(key, s);
  }
  return s;
}

/** Fills in the normalised scores (the rows are this request's own objects). */
function finish(rows: Ranked[]): Ranked[] {
  const scores = normalizeScores(rows.map((r) => r.breakdown?.raw ?? null));
  for (let i = 0; i < rows.length; i++) rows[i].score = scores[i];
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
    const breakdown = fit.fits ? rated(node, sk, ctx, () => scoreNode(shape, node, fit.takes, ctx.weights, sctx)) : null;
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
      const breakdown = 'inventory' in node ? rated(node, key, ctx, () => scoreCpuPod(shape, node, sctx)) : scoreCpuPod(shape, undefined, sctx);
      return { host, fit: none, breakdown, score: 0 };
    }),
  );
}
