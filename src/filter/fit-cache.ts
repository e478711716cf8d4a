// Memoised fit for the filter/prioritize hot path: the answers per fit key and placement epoch
// (the state of everything the GPU chooser reads besides the node), per node slot and generation
// (state/slot-memo.ts: why arrays by slot, and the probation table for one-off shapes).

import { fit, type FitResult, type GpuChooser } from '../gpu/place.js';
import { fitKey, type FitShape } from '../gpu/shape.js';
import type { NodeLedger } from '../state/ledger.js';
import { SlotMemo } from '../state/slot-memo.js';

/** How GPUs are chosen on `extender`-placement nodes, and the identity of what that choice reads. */
export interface Placement {
  chooser: GpuChooser;
  /** Changes whenever the chooser's answers may change for an unchanged node (the workload's shapes). */
  epoch: unknown;
}

/** The fit answers: by fit key and placement epoch, per node slot. */
const answers = new SlotMemo<FitResult>();

/** fit(), answered from the memo when neither the node nor the placement epoch changed since. */
export function fitCached(shape: FitShape, node: NodeLedger, placement: Placement, key: string = fitKey(shape)): FitResult {
  return answers.get(node, key, placement.epoch) ?? answers.set(node, key, placement.epoch, fit(shape, node, { chooser: placement.chooser }));
}
