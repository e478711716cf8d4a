// Fail closed: while the ledger does not follow the API server — before every informer has applied
// its initial list, or after a LIST failed, a watch broke or went silent, until the next LIST is
// applied — gpu-ledger places nothing. A ledger missing running pods would pass overcommitted nodes
// (and bind onto them), so filter answers with an Error carrying one stable reason, prioritize
// scores every candidate 0 (the empty list: kube-scheduler reads a host a reply leaves out as 0),
// bind and preempt refuse. The rule code never runs on such a ledger; this file is the
// whole gate. An Error rather than every node in FailedAndUnresolvableNodes: kube-scheduler retries a
// pod whose filter call failed with its short backoff (1 s, 2 s, …), while an "unresolvable" verdict
// parks it in the unschedulable pool until a cluster event or the pool's timeout (5 min by default)
// — so a gpu-ledger restart behind a running kube-scheduler would strand the pods it was asked about.

import type { ExtenderArgs, ExtenderFilterResult, HostPriority, MetaVictims } from './wire.js';

/** One resource's sync state (src/kube/reflector.ts SyncState, or the snapshot's). */
export interface ResourceSync {
  phase: string;
  since?: number;
  lastError?: string;
}

export interface SyncReport {
  inSync: boolean;
  resources: Record<string, ResourceSync>;
}

export type SyncSource = () => SyncReport;

/** Snapshot mode: the files were loaded before the server listened. */
export const SNAPSHOT_SYNC: SyncSource = () => ({ inSync: true, resources: { snapshot: { phase: 'synced' } } });

const PHASE_TEXT: Record<string, string> = {
  'initial-list': 'initial list not applied yet',
  'list-failing': 'list failing',
  'watch-failing': 'watch failing',
  relisting: 'relisting',
};

/**
 * The reason kube-scheduler shows in FailedScheduling: stable per cause (no counts, times or error
 * texts, which /readyz and the logs carry) so identical reasons are counted together.
 */
export function notInSyncReason(report: SyncReport): string {
  const parts = Object.entries(report.resources)
    .filter(([, s]) => s.phase !== 'synced')
    .map(([name, s]) => `${name}: ${PHASE_TEXT[s.phase] ?? s.phase}`);
  return `gpu-ledger: ledger not in sync with the API server (${parts.join(', ') || 'not ready'}); retrying`;
}

export function refuseFilter(args: ExtenderArgs, reason: string): ExtenderFilterResult {
  return {
    Nodes: args.NodeNames ? null : { metadata: {}, items: [] },
    NodeNames: args.NodeNames ? [] : null,
    FailedNodes: {},
    FailedAndUnresolvableNodes: {},
    Error: reason,
  };
}

export function refusePrioritize(): HostPriority[] {
  return [];
}

export function refuseBind(reason: string): { Error: string } {
  return { Error: `${reason}; not binding` };
}

export function refusePreempt(): { NodeNameToMetaVictims: Record<string, MetaVictims> } {
  return { NodeNameToMetaVictims: {} };
}
