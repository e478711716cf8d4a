// Filter over a candidate list: the fit check per named node; names without a GPU node behind them
// are reported as such — except that a pod whose GPU spec is invalid gets that reason on every
// node, so `kubectl describe pod` shows what to fix wherever it looked.
// The happy path allocates nothing per fitting node beyond what fit needs, and nothing per node
// at all when the answers come from the nodes' memos.

import type { Reason } from '../model/types.js';
import { NO_GPU, NODE_UNKNOWN, reasons } from '../gpu/reason.js';
import { fitKey, type FitShape } from '../gpu/shape.js';
import type { NodeLedger } from '../state/ledger.js';
import { fitCached, type Placement } from './fit-cache.js';

const UNKNOWN: Reason[] = [NODE_UNKNOWN];
const WITHOUT_GPU: Reason[] = [NO_GPU];

/** An array of `n` slots allocated once (a list built by push is copied as it grows: for thousands of names, several times its size in garbage per request). */
export function slots<T>(n: number): T[] {
  // V8 makes a sparse (dictionary) array of `new Array(n)` for very large n; filled in order, [] grows as fast.
  return n <= 50_000 ? new Array<T>(n) : [];
}

/**
 * What a filter decided, by position in the request: per name, null when the node fits or the
 * reasons it does not, and the node's name as JSON literal bytes (null for a name the ledger does
 * not know). Every array is sized once for the request; the passing names, the failed ones and the
 * failed Map are derived from them when first asked for.
 */
export class FilterOutcome {
  private readonly verdicts: (Reason[] | null)[];
  private readonly literals: (Uint8Array | null)[];
  private readonly picked: Int32Array;
  private passing = 0;
  private failing = 0;
  private passedNames: string[] | null = null;
  private byName: Map<string, Reason[]> | null = null;

  constructor(readonly names: readonly string[]) {
    this.verdicts = slots(names.length);
    this.literals = slots(names.length);
    this.picked = new Int32Array(names.length);
  }

  /** The `index`-th name fits on `node`. Each index is decided once. */
  pass(node: NodeLedger, index: number): void {
    this.verdicts[index] = null;
    this.literals[index] = node.jsonBytes;
    this.picked[this.passing++] = index;
  }

  /** The `index`-th name does not fit (`node`: its node, when the ledger has one). */
  fail(index: number, reasons: Reason[], node?: NodeLedger): void {
    this.verdicts[index] = reasons;
    this.literals[index] = node ? node.jsonBytes : null;
    this.failing++;
  }

  get passedCount(): number {
    return this.passing;
  }

  get failedCount(): number {
    return this.failing;
  }

  /** The passing names' positions in the request, in order. */
  get passedIndex(): Int32Array {
    return this.picked.subarray(0, this.passing);
  }

  /** The JSON literal (UTF-8) of the k-th passing name. */
  passedLiteral(k: number): Uint8Array {
    return this.literals[this.picked[k]]!;
  }

  /** The passing names, in request order. */
  get passed(): readonly string[] {
    if (this.passedNames === null) {
      const out = new Array<string>(this.passing);
      for (let k = 0; k < this.passing; k++) out[k] = this.names[this.picked[k]];
      this.passedNames = out;
    }
    return this.passedNames;
  }

  /** Calls `visit` for every failed name in request order (a name listed twice is visited twice). */
  forEachFailed(visit: (name: string, reasons: Reason[], literal: Uint8Array | null) => void): void {
    if (this.failing === 0) return;
    for (let i = 0; i < this.names.length; i++) {
      const r = this.verdicts[i];
      if (r) visit(this.names[i], r, this.literals[i]);
    }
  }

  /** The failed nodes by name (a name listed twice in the request appears once). */
  get failed(): ReadonlyMap<string, Reason[]> {
    if (this.byName === null) {
      const m = new Map<string, Reason[]>();
      this.forEachFailed((name, reasons) => m.set(name, reasons));
      this.byName = m;
    }
    return this.byName;
  }
}

/** A candidate name (the `index`-th of the request) → its node, or the reason it has none (unknown, no GPU). */
export type Resolve = (name: string, index: number) => NodeLedger | Reason;

/** The reasons of a name without a node (shared arrays for the common two: they are never changed). */
function missing(r: Reason): Reason[] {
  return r === NO_GPU ? WITHOUT_GPU : r === NODE_UNKNOWN ? UNKNOWN : [r];
}

export function filterNodes(shape: FitShape, names: readonly string[], resolve: Resolve, placement: Placement): FilterOutcome {
  const out = new FilterOutcome(names);
  const key = fitKey(shape);
  const invalid = shape.errors.length > 0 ? [reasons.invalidPod(shape.errors[0])] : null;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const node = resolve(name, i);
    if (!('inventory' in node)) {
      out.fail(i, invalid ?? missing(node));
      continue;
    }
    const r = fitCached(shape, node, placement, key);
    if (r.fits) out.pass(node, i);
    else out.fail(i, r.reasons, node);
  }
  return out;
}
