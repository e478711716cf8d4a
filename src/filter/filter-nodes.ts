// Filter over a candidate list: the fit check per named node, unknown names reported as such.
// The happy path allocates nothing per fitting node beyond what fit needs, and nothing per node
// at all when the answers come from the nodes' memos.

import type { Reason } from '../model/types.js';
import { NO_GPU, NODE_UNKNOWN } from '../gpu/reason.js';
import { fitKey, type FitShape } from '../gpu/shape.js';
import type { Ledger, NodeLedger } from '../state/ledger.js';
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
  readonly failedNames: string[] = [];
  readonly failedJson: (string | null)[] = [];
  readonly failedReasons: Reason[][] = [];
  private byName: Map<string, Reason[]> | null = null;

  pass(name: string, node: NodeLedger): void {
    this.passed.push(name);
    this.passedJson.push(node.jsonName);
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

/** The reason a name has no node in the ledger (shared arrays: they are never changed). */
export function missingReasons(ledger: Ledger, name: string): Reason[] {
  return ledger.knownWithoutGpu(name) ? WITHOUT_GPU : UNKNOWN;
}

export function filterNodes(shape: FitShape, ledger: Ledger, names: readonly string[], placement: Placement): FilterOutcome {
  const out = new FilterOutcome();
  const key = fitKey(shape);
  const nodes = ledger.lookup(names);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const node = nodes[i];
    if (!node) {
      out.fail(name, missingReasons(ledger, name));
      continue;
    }
    const r = fitCached(shape, node, placement, key);
    if (r.fits) out.pass(name, node);
    else out.fail(name, r.reasons, node);
  }
  return out;
}
