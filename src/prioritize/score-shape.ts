// The part of a pod's demand the scorers read (the fit shape, its tier, its CPU request), and the
// one key the score cache uses. As with FitShape, the compiler checks that the key names every
// field, so a scorer that starts reading a new field cannot be served a stale cached score.

import { intern, keyOf, type FitShape } from '../gpu/shape.js';

export interface ScoreShape extends FitShape {
  readonly tier: string | null;
  /** Effective CPU request (milli): the fragmentation scorer sees GPUs that CPU exhaustion strands. */
  readonly cpuMilli: number;
}

const SCORE_FIELDS = ['requests', 'clients', 'declaredMemoryBytes', 'declaredThreadMilli', 'isolation', 'errors', 'tier', 'cpuMilli'] as const;
type Missing = Exclude<keyof ScoreShape, (typeof SCORE_FIELDS)[number]>;
const exhaustive: Missing extends never ? true : never = true;
void exhaustive;

const keys = new WeakMap<object, string>();

/** The score cache's key: every field the scorers read (fit's fields, tier, CPU). */
export function scoreKey(shape: ScoreShape): string {
  let k = keys.get(shape);
  if (k === undefined) {
    k = intern(keyOf(shape, SCORE_FIELDS));
    keys.set(shape, k);
  }
  return k;
}
