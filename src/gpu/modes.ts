// The sharing-mode table: the one place that maps a node's mode to its rules.

import type { NodeInventory, SharingMode } from '../model/types.js';
import type { ModeRules } from './mode.js';
import { migRules } from './mig.js';
import { mpsRules } from './mps.js';
import { timeSlicingRules } from './time-slicing.js';
import { wholeRules } from './whole.js';

const TABLE: Record<SharingMode, ModeRules> = { mps: mpsRules, 'time-slicing': timeSlicingRules, mig: migRules, none: wholeRules };

/** Every sharing mode gpu-ledger knows (filters and their validation read this, never a literal list). */
export const SHARING_MODES: readonly SharingMode[] = Object.keys(TABLE) as SharingMode[];

export function rulesFor(inv: NodeInventory): ModeRules {
  return TABLE[inv.mode];
}
