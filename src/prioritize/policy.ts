// The scoring policy: a weighted mean of the scorers (0..1) with tie-breaks (CPU headroom, packing, node order), then mapped
// onto kube-scheduler's 0..10 across the candidates of one request by rank (the best gets 10, each
// lower rating at least a point less), so the order of the ratings always reaches the scheduler
// instead of being rounded away.

import type { ScoringWeights } from '../model/config-types.js';
import type { GpuTake } from '../model/types.js';
import { gpuFree, type GpuFree } from '../gpu/free.js';
import type { NodeLedger } from '../state/ledger.js';
import type { ScoreShape } from './score-shape.js';
import { binpack, cpuHeadroom, fragmentation, freeNow, tierFit, type ScoreContext } from './scorers.js';

/** Raw score of a node the pod has no GPU opinion about (without GPUs, for a CPU-only pod): neutral. */
export const NEUTRAL_RAW = 0.5;

export const MAX_SCORE = 10;

/** Resolution of the weighted mean: smaller differences are noise, and the tie-break decides. */
const RESOLUTION = 0.1;
/** Weight of the packing tie-break (quantised to 1/100): below RESOLUTION, so it only orders nodes the scorers rate equal. */
const TIE_WEIGHT = RESOLUTION / 2;
/** Weight of the node order: below one step of the packing tie-break. */
const HASH_WEIGHT = TIE_WEIGHT / 200;
/**
 * A GPU pod's first tie-break: the CPU headroom its placement leaves (cpuHeadroom), in steps of
 * 1/HEADROOM_STEPS and floored at HEADROOM_FLOOR — every node left with at least about the
 * expected CPU need of its free GPUs, less ~3 CPUs (0.45 = 0.5 + 0.5·tanh(−3.2 / 32)), rates the
 * same, and one left shorter rates lower by how much shorter. Without a floor (the most headroom
 * first) pods spread over the CPU-rich nodes and fragment them; with it at 0.5 (no shortfall
 * tolerated) the trace placed worse too (README, Placement quality).
 */
export const HEADROOM_FLOOR = 0.45;
const HEADROOM_STEPS = 20;

/** FNV-1a of the node name, in [0, 1): a fixed order among nodes the scorers rate equal. */
export function nameRank(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // murmur3's finaliser: FNV alone keeps names that differ in the last character close together.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/** A node's rating for a pod; immutable (cached per node generation). The 0..10 wire score is normalizeScores'. */
export interface ScoreBreakdown {
  /** Weighted mean of the scorers, 0..1, at RESOLUTION, plus the tie-break: what is normalised. */
  raw: number;
  /** cpuHeadroom: the CPU headroom the pod leaves (the first tie-break; see scoreNode and scoreCpuPod). */
  components: { tierFit: number | null; fragmentation: number | null; binpack: number | null; pack: number | null; cpuHeadroom: number | null };
}

/**
 * Tie-break: how full the GPUs the pod lands on are afterwards (a partly used GPU before an idle
 * identical one: an idle GPU stays whole for a pod that needs it).
 */
function pack(shape: ScoreShape, node: NodeLedger, takes: readonly GpuTake[], after: readonly GpuFree[]): number | null {
  return binpack(shape, node, takes, after);
}

export function scoreNode(shape: ScoreShape, node: NodeLedger, takes: readonly GpuTake[], weights: ScoringWeights, ctx: ScoreContext): ScoreBreakdown {
  // Free capacity after the placement, computed once for every scorer that reads it.
  const after = gpuFree(node, takes, freeNow(node));
  const p = pack(shape, node, takes, after);
  const components = {
    tierFit: weights.tierFit > 0 ? tierFit(shape, node, takes, ctx) : null,
    fragmentation: weights.fragmentation > 0 ? fragmentation(shape, node, takes, ctx, after) : null,
    binpack: weights.binpack > 0 ? p : null,
    pack: p,
    cpuHeadroom: cpuHeadroom(node, shape.cpuMilli, ctx, after),
  };
  let sum = 0;
  let w = 0;
  for (const key of ['tierFit', 'fragmentation', 'binpack'] as const) {
    const v = components[key];
    if (v === null) continue;
    sum += weights[key] * v;
    w += weights[key];
  }
  const mean = w > 0 ? sum / w : NEUTRAL_RAW;
  // Among equal means, lexicographically: the CPU headroom (floored), the packing, the node order —
  // three digits of one tie-break below TIE_WEIGHT. No headroom to say (CPU unknown, MIG): the top level.
  const headroomLevel = Math.round(Math.min(components.cpuHeadroom ?? HEADROOM_FLOOR, HEADROOM_FLOOR) * HEADROOM_STEPS);
  const packLevel = Math.round((components.pack ?? 0) * 100);
  const tie = (headroomLevel + (packLevel + nameRank(node.name)) / 101) / (HEADROOM_STEPS + 1);
  const raw = Math.round(mean / RESOLUTION) * RESOLUTION + tie * TIE_WEIGHT;
  return { raw, components };
}

/**
 * A pod without GPUs (the `prioritize-cpu` verb): how little its CPU request strands GPU capacity
 * on the node — the fragmentation scorer with no GPU takes. A node where the pod's CPU leaves
 * every typical GPU shape placeable rates neutral; one where it shuts typical shapes out rates
 * less; a node without GPUs rates neutral too and wins the tie (its CPU strands nothing, ever).
 * Among equal ratings the CPU headroom the pod leaves breaks the tie (in the pack tie-break's
 * place: a CPU-only pod takes no GPU), then the node order.
 */
export function scoreCpuPod(shape: ScoreShape, node: NodeLedger | undefined, ctx: ScoreContext): ScoreBreakdown {
  const f = node && shape.cpuMilli > 0 ? fragmentation(shape, node, [], ctx) : null;
  const headroom = node && shape.cpuMilli > 0 ? cpuHeadroom(node, shape.cpuMilli, ctx) : null;
  const mean = f ?? NEUTRAL_RAW;
  // No headroom to say (CPU unknown, MIG): neutral. A node without GPUs above any GPU node (it strands nothing).
  const tie = node ? Math.round((headroom ?? 0.5) * 100) / 100 * TIE_WEIGHT + nameRank(node.name) * HASH_WEIGHT : TIE_WEIGHT + HASH_WEIGHT;
  return { raw: Math.round(mean / RESOLUTION) * RESOLUTION + tie, components: { tierFit: null, fragmentation: f, binpack: null, pack: null, cpuHeadroom: headroom } };
}

/**
 * The 0..10 scores of the candidates of one request, by rank: the best rating gets 10, and each
 * lower distinct rating one point less per quantum (RESOLUTION) below the one above it — at least
 * one point, so the order of the ratings, tie-breaks included, always reaches the scheduler, and a
 * large difference stays large against kube-scheduler's own scores — down to 0. When every
 * candidate rates the same, each gets its absolute score (10 × raw, rounded): nothing to prefer,
 * and explain of a single node still shows a meaningful number. Nodes that do not fit (null) score 0.
 */
export function normalizeScores(raws: readonly (number | null)[]): number[] {
  const out = new Array<number>(raws.length);
  normalize(raws.length, (i) => raws[i], (i, score) => (out[i] = score));
  return out;
}

/** The highest distinct ratings of one request, best first: at most MAX_SCORE + 1 can score above 0. */
const top: number[] = [];
const topScore: number[] = [];

/**
 * normalizeScores over `n` items read and written through callbacks (the ranker's rows: no array
 * of boxed raws and none of scores per request). The one normalisation rule. Linear in `n`: only
 * the best MAX_SCORE + 1 distinct ratings are kept and ranked.
 */
export function normalize(n: number, rawAt: (i: number) => number | null, put: (i: number, score: number) => void): void {
  top.length = 0;
  for (let i = 0; i < n; i++) {
    const r = rawAt(i);
    if (r === null) continue;
    if (top.length > MAX_SCORE && r <= top[MAX_SCORE]) continue;
    let k = top.length;
    while (k > 0 && top[k - 1] < r) k--;
    if (k > 0 && top[k - 1] === r) continue;
    top.splice(k, 0, r);
    if (top.length > MAX_SCORE + 1) top.length = MAX_SCORE + 1;
  }
  if (top.length === 1) {
    const absolute = Math.min(MAX_SCORE, Math.max(0, Math.round(top[0] * MAX_SCORE)));
    for (let i = 0; i < n; i++) put(i, rawAt(i) === null ? 0 : absolute);
    return;
  }
  topScore.length = top.length;
  for (let k = 0; k < top.length; k++) topScore[k] = k === 0 ? MAX_SCORE : Math.max(0, topScore[k - 1] - Math.max(1, Math.round((top[k - 1] - top[k]) / RESOLUTION)));
  for (let i = 0; i < n; i++) {
    const r = rawAt(i);
    let score = 0;
    if (r !== null) {
      for (let k = 0; k < top.length; k++) {
        if (top[k] === r) {
          score = topScore[k];
          break;
        }
        if (top[k] < r) break;
      }
    }
    put(i, score);
  }
}
