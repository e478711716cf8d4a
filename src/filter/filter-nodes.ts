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

/**
 * What a filter decided, in request order. The failed nodes are kept as parallel arrays (the
 * reply writer walks them once), with the nodes' names as JSON literals (null for a name the
 * ledger does not know); `failed` is the same as a Map, built when first asked for.
 */
export class FilterOutcome {
  readonly passed: string[] = [];
  readonly passedJson: string[] = [];
  /** The passing names' positions in the request. */
  readonly passedIndex: number[] = [];
  readonly failedNames: string[] = [];
  readonly failedJson: (string | null)[] = [];
  readonly failedReasons: Reason[][] = [];
  private byName: Map<string, Reason[]> | null = null;

  pass(name: string, node: NodeLedger, index: number): void {
    this.passed.push(name);
    this.passedJson.push(node.jsonName);
    this.passedIndex.push(index);
  }

  fail(name: string, reasons: Reason[], node?: NodeLedger): void {
    this.failedNames.push(name);
    this.failedJson.push(node ? node.jsonName : null);
    this.failedReasons.push(reasons);
    this.byName = null;
  }

  /** The failed nodes by name (a name listed twice in the request appears once). */
  get failed(): ReadonlyMap<string, Reason[]> {
    if (this.byName === null) {
      this.byName = new Map();
      for (let i = 0; i < this.failedNames.length; i++) this.byName.set(this.failedNames[i], this.failedReasons[i]);
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
  const out = new FilterOutcome();
  const key = fitKey(shape);
  const invalid = shape.errors.length > 0 ? [reasons.invalidPod(shape.errors[0])] : null;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const node = resolve(name, i);
    if (!('inventory' in node)) {
      out.fail(name, invalid ?? missing(node));
      continue;
    }
    const r = fitCached(shape, node, placement, key);
    if (r.fits) out.pass(name, node, i);
    else out.fail(name, r.reasons, node);
  }
  return out;
}
