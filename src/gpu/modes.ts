// The sharing-mode table: the one place that maps a node's mode to its rules.

import type { NodeInventory, SharingMode } from '../model/types.js';
import type { ModeRules } from './mode.js';
import { migRules } from './mig.js';
import { mpsRules } from './mps.js';
import { timeSlicingRules } from './time-slicing.js';
import { wholeRules } from './whole.js';

/** Every sharing mode gpu-ledger knows (filters and their validation read this, never a literal list); the record's type makes a new mode fail to compile until it is listed. */
const KNOWN: Record<SharingMode, true> = { mps: true, 'time-slicing': true, mig: true, none: true };
export const SHARING_MODES: readonly SharingMode[] = Object.keys(KNOWN) as SharingMode[];

// A switch rather than a lookup table: the modes are interned strings, so each case is one pointer
// comparison, where a keyed load by a variable name is a generic lookup (rulesFor runs several
// times per candidate node).
export function rulesFor(inv: Pick<NodeInventory, 'mode'>): ModeRules {
  switch (inv.mode) {
    case 'mps':
      return mpsRules;
    case 'time-slicing':
      return timeSlicingRules;
    case 'mig':
      return migRules;
    case 'none':
      return wholeRules;
  }
}
