// Memoised fit for the filter/prioritize hot path. kube-scheduler asks about one pod at a time,
// pods come in few shapes (replicas of a Deployment, tiers), and a node's answer only changes
// when the node changes. So the answers are kept per shape — its fit key and the placement epoch
// (the state of everything the GPU chooser reads besides the node) — in arrays indexed by node
// slot (NodeLedger.slot), each with the node generation it was computed for: a repeat is two
// array reads next to other nodes' instead of a walk through per-node objects, and a new shape
// fills one young array instead of inserting into thousands of per-node maps.
// A shape asked about for the first time gets the one probation table, which the next
// first-seen shape reuses: the answers of a one-off pod die young instead of being kept (and
// copied by every minor GC) behind 64 other shapes. A shape asked about again gets a table of its
// own — taking over the probation table when it still holds that shape's answers.

import { fit, type FitResult, type GpuChooser } from '../gpu/place.js';
import { fitKey, type FitShape } from '../gpu/shape.js';
import { slotCount, type NodeLedger } from '../state/ledger.js';

/** How GPUs are chosen on `extender`-placement nodes, and the identity of what that choice reads. */
export interface Placement {
  chooser: GpuChooser;
  /** Changes whenever the chooser's answers may change for an unchanged node (the workload's shapes). */
  epoch: unknown;
}

/** One shape's answers: by slot, the generation each was computed for (0: none; generations start at 1) and the answer. */
interface ShapeAnswers {
  key: string;
  epoch: unknown;
  generations: Float64Array;
  answers: (FitResult | undefined)[];
}

/** Shapes remembered at once: a few are typical; a flood of unique ones must not grow memory. */
const MAX_SHAPES = 64;
const tables = new Map<string, ShapeAnswers>();
/** The answers of the shape most recently asked about for the first time (reused by the next one). */
let probation: ShapeAnswers | null = null;
/** Keys asked about before (bounded): a key seen again is a shape that repeats. */
const SEEN_KEYS = 4096;
const seen = new Set<string>();
/** The table asked for last (one pod is asked about across all nodes): no Map lookup per node. */
let last: ShapeAnswers | null = null;

function newTable(key: string, epoch: unknown): ShapeAnswers {
  const n = Math.max(16, slotCount());
  return { key, epoch, generations: new Float64Array(n), answers: new Array<FitResult | undefined>(n) };
}

/** Empties a table for another shape or epoch: no answer computed for the old one is served again. */
function reuse(t: ShapeAnswers, key: string, epoch: unknown): ShapeAnswers {
  t.generations.fill(0);
  // The old answers are overwritten as the new ones come in; until then they are never read.
  t.key = key;
  t.epoch = epoch;
  return t;
}

function tableFor(key: string, epoch: unknown): ShapeAnswers {
  let t = tables.get(key);
  if (t === undefined && !seen.has(key)) {
    // First sighting: the probation table.
    if (seen.size >= SEEN_KEYS) seen.clear();
    seen.add(key);
    probation = probation === null ? newTable(key, epoch) : reuse(probation, key, epoch);
    return (last = probation);
  }
  // Least recently asked first in the Map (at most once per request: `last` answers repeats).
  if (t !== undefined) tables.delete(key);
  else if (probation !== null && probation.key === key) {
    // The shape repeats while its first answers are at hand: they become its own table.
    t = probation;
    probation = null;
  }
  if (t === undefined || t.epoch !== epoch) {
    if (t === undefined && tables.size >= MAX_SHAPES) tables.delete(tables.keys().next().value!);
    t = t === undefined ? newTable(key, epoch) : reuse(t, key, epoch);
  }
  tables.set(key, t);
  return (last = t);
}

/** Room for `slot` (slots handed out after the table was made). */
function grow(t: ShapeAnswers, slot: number): void {
  const n = Math.max(slot + 1, 2 * t.generations.length);
  const g = new Float64Array(n);
  g.set(t.generations);
  t.generations = g;
  t.answers.length = n;
}

/** fit(), answered from the shape's table when neither the node nor the placement epoch changed since. */
export function fitCached(shape: FitShape, node: NodeLedger, placement: Placement, key: string = fitKey(shape)): FitResult {
  const slot = node.slot;
  if (node.generation < 0 || slot < 0) return fit(shape, node, { chooser: placement.chooser });
  let t = last;
  if (t === null || t.key !== key || t.epoch !== placement.epoch) t = tableFor(key, placement.epoch);
  if (slot < t.generations.length && t.generations[slot] === node.generation) return t.answers[slot]!;
  const r = fit(shape, node, { chooser: placement.chooser });
  if (slot >= t.generations.length) grow(t, slot);
  t.generations[slot] = node.generation;
  t.answers[slot] = r;
  return r;
}
