// Answers per node, memoised by a key and an epoch, in arrays indexed by node slot
// (NodeLedger.slot), each with the node generation it was computed for. kube-scheduler asks about
// one pod at a time, pods come in few shapes (replicas of a Deployment, tiers), and a node's
// answer only changes when the node changes: a repeat is two array reads next to other nodes'
// instead of a walk through per-node objects, and a new shape fills one young array instead of
// inserting into thousands of per-node maps. The fit memo (filter/fit-cache.ts) and the rating
// memo (prioritize/rank.ts) are two of these.
// A key asked about for the first time gets the one probation table, which the next first-seen
// key reuses: the answers of a one-off pod die young instead of being kept (and copied by every
// minor GC) behind 64 other keys. A key asked about again gets a table of its own — taking over
// the probation table when it still holds that key's answers.

import { slotCount, type NodeLedger } from './ledger.js';

/** One key's answers: by slot, the generation each was computed for (0: none; generations start at 1) and the answer. */
interface Table<T> {
  key: string;
  epoch: unknown;
  generations: Float64Array;
  answers: (T | undefined)[];
}

/** Keys remembered at once: a few are typical; a flood of unique ones must not grow memory. */
const MAX_KEYS = 64;
/** Keys asked about before (bounded): a key seen again is a shape that repeats. */
const SEEN_KEYS = 4096;

export class SlotMemo<T> {
  private readonly tables = new Map<string, Table<T>>();
  /** The answers of the key most recently asked about for the first time (reused by the next one). */
  private probation: Table<T> | null = null;
  private readonly seen = new Set<string>();
  /** The table asked for last (one pod is asked about across all nodes): no Map lookup per node. */
  private last: Table<T> | null = null;

  /** The answer remembered for the node's current generation under (key, epoch), if any. */
  get(node: NodeLedger, key: string, epoch: unknown): T | undefined {
    const t = this.table(node, key, epoch);
    if (t === null) return undefined;
    const slot = node.slot;
    return slot < t.generations.length && t.generations[slot] === node.generation ? t.answers[slot] : undefined;
  }

  /** Remembers `value` for the node's current generation under (key, epoch); returns it. */
  set(node: NodeLedger, key: string, epoch: unknown, value: T): T {
    const t = this.table(node, key, epoch);
    if (t === null) return value;
    const slot = node.slot;
    if (slot >= t.generations.length) grow(t, slot);
    t.generations[slot] = node.generation;
    t.answers[slot] = value;
    return value;
  }

  /** null for a node outside every ledger (scratch views): never memoised. */
  private table(node: NodeLedger, key: string, epoch: unknown): Table<T> | null {
    if (node.generation < 0 || node.slot < 0) return null;
    const t = this.last;
    if (t !== null && t.key === key && t.epoch === epoch) return t;
    return this.tableFor(key, epoch);
  }

  private tableFor(key: string, epoch: unknown): Table<T> {
    let t = this.tables.get(key);
    if (t === undefined && !this.seen.has(key)) {
      // First sighting: the probation table.
      if (this.seen.size >= SEEN_KEYS) this.seen.clear();
      this.seen.add(key);
      this.probation = this.probation === null ? newTable<T>(key, epoch) : reuse(this.probation, key, epoch);
      return (this.last = this.probation);
    }
    // Least recently asked first in the Map (at most once per request: `last` answers repeats).
    if (t !== undefined) this.tables.delete(key);
    else if (this.probation !== null && this.probation.key === key) {
      // The key repeats while its first answers are at hand: they become its own table.
      t = this.probation;
      this.probation = null;
    }
    if (t === undefined || t.epoch !== epoch) {
      if (t === undefined && this.tables.size >= MAX_KEYS) this.tables.delete(this.tables.keys().next().value!);
      t = t === undefined ? newTable<T>(key, epoch) : reuse(t, key, epoch);
    }
    this.tables.set(key, t);
    return (this.last = t);
  }
}

function newTable<T>(key: string, epoch: unknown): Table<T> {
  const n = Math.max(16, slotCount());
  return { key, epoch, generations: new Float64Array(n), answers: new Array<T | undefined>(n) };
}

/** Empties a table for another key or epoch: no answer computed for the old one is served again. */
function reuse<T>(t: Table<T>, key: string, epoch: unknown): Table<T> {
  t.generations.fill(0);
  // Dropped at once, not as the new ones come in: the old key's answers would stay reachable (and
  // be copied by every minor GC, then promoted) for as long as the new key takes to fill the table.
  t.answers.fill(undefined);
  t.key = key;
  t.epoch = epoch;
  return t;
}

/** Room for `slot` (slots handed out after the table was made). */
function grow<T>(t: Table<T>, slot: number): void {
  const n = Math.max(slot + 1, 2 * t.generations.length);
  const g = new Float64Array(n);
  g.set(t.generations);
  t.generations = g;
  t.answers.length = n;
}
