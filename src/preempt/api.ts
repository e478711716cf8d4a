// What preemption needs from the API server, as an interface: live mode implements it with
// @kubernetes/client-node (src/kube/evictor.ts); tests pass their own.

import type { PodRef } from '../model/types.js';
import type { BudgetView } from './budgets.js';

export type EvictionOutcome =
  /** 201: the API server accepted the eviction (the pod is now terminating). */
  | { outcome: 'evicted' }
  /** 404, or the UID precondition failed: that pod is already gone. */
  | { outcome: 'gone' }
  /** 429: a PodDisruptionBudget forbids it (or the API server throttles): try the next candidate. */
  | { outcome: 'blocked'; message: string }
  /** Anything else; `maybe`: the eviction may have been applied (timeout, reset, 5xx). */
  | { outcome: 'error'; message: string; applied: 'no' | 'maybe' };

export interface PreemptionEvent {
  pod: PodRef;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface PreemptionApi {
  /** Evicts one pod through the Eviction API (policy/v1: PodDisruptionBudgets are honoured), UID as precondition. */
  evict(pod: PodRef): Promise<EvictionOutcome>;
  /** Records an Event on a pod (best effort: errors are the caller's to log). */
  event(e: PreemptionEvent): Promise<void>;
  /** The PodDisruptionBudgets of these namespaces and the pods each one selects. */
  budgets(namespaces: readonly string[]): Promise<BudgetView>;
}
