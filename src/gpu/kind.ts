// A node's GPU kind: the part of its inventory the per-mode take and podNotes rules read (what a pod
// takes on a GPU: ModeRules.take), and nothing else — not what makes the node itself (name, labels,
// tier, CPU, problems), nor the inventory facts no take reads (the model, the node-level memory and
// its source, the MIG strategy, the replica placement): each field here is compared per node.
// What a pod takes on GPU i of one node is what it takes on GPU i of every node of the same kind —
// whatever the nodes already hold, which only decides admit. fit (place.ts) keeps the last take per
// GPU list and GPU: a filter over thousands of nodes of a few kinds computes a never-seen shape's
// takes a few times instead of once per node.
//
// The take rules are typed to receive a GpuKind, so a rule that read a field outside KIND_FIELDS
// would not compile, and sameKind compares exactly those fields (its test changes each in turn): the
// memo's key covers everything its computation reads.

import type { NodeInventory } from '../model/types.js';

/** The inventory fields a kind is made of (and the only ones ModeRules.take and podNotes may read). */
export const KIND_FIELDS = ['mode', 'gpus', 'resource', 'perGpuResources', 'migProfiles', 'mpsDaemonLimits', 'reservedMemoryBytes', 'computeOvercommit', 'mpsMaxClients'] as const satisfies readonly (keyof NodeInventory)[];

export type GpuKind = Readonly<Pick<NodeInventory, (typeof KIND_FIELDS)[number]>>;

/**
 * Do two nodes have the same kind: every KIND_FIELDS value the same (by identity: GPU lists and MIG
 * profiles are shared by nodes built alike)? Field by field: a loop over KIND_FIELDS would be a
 * generic keyed load each, slower than the take it saves. test/gpu/take-memo.test.ts changes each
 * of KIND_FIELDS in turn and expects a different kind, so a field left out here fails there.
 */
export function sameKind(a: GpuKind, b: GpuKind): boolean {
  return (
    a === b ||
    (a.gpus === b.gpus &&
      a.mode === b.mode &&
      a.resource === b.resource &&
      a.perGpuResources === b.perGpuResources &&
      a.migProfiles === b.migProfiles &&
      a.mpsDaemonLimits === b.mpsDaemonLimits &&
      a.reservedMemoryBytes === b.reservedMemoryBytes &&
      a.computeOvercommit === b.computeOvercommit &&
      a.mpsMaxClients === b.mpsMaxClients)
  );
}
