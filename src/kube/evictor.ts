// Preemption's API calls in live mode (only with --preemption): evictions through the Eviction API
// (policy/v1 `pods/eviction`, so the API server enforces PodDisruptionBudgets: a 429 means a budget
// forbids it), Events on the preemptor and its victims (core/v1), and the PodDisruptionBudgets with
// the pods each one selects, read when a preemption starts (no watch: budgets are few and preemption
// is rare; gpu-ledger keeps no pod labels). Every call runs under a deadline.

import { hostname } from 'node:os';
import { CoreV1Api, PolicyV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { PodRef } from '../model/types.js';
import type { EvictionOutcome, PreemptionApi, PreemptionEvent } from '../preempt/api.js';
import { budgetView, selectorQuery, type BudgetView, type DisruptionBudget } from '../preempt/budgets.js';
import { mayHaveApplied, messageOf, statusOf } from './binder.js';
import { withTimeout } from './timeouts.js';

export interface LiveEvictorOptions {
  /** Deadline of one eviction or Event write, ms (the bind deadline). */
  writeTimeoutMs: number;
  /** Deadline of each LIST (budgets, the pods a budget selects), ms. */
  listTimeoutMs: number;
}

/** Events are cut where kube-scheduler cuts its own (1 KiB). */
const MAX_MESSAGE = 1024;

export class LiveEvictor implements PreemptionApi {
  private readonly core: CoreV1Api;
  private readonly policy: PolicyV1Api;
  private readonly instance = hostname();

  constructor(
    kc: KubeConfig,
    private readonly o: LiveEvictorOptions,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.policy = kc.makeApiClient(PolicyV1Api);
  }

  async evict(pod: PodRef): Promise<EvictionOutcome> {
    try {
      await this.core.createNamespacedPodEviction(
        {
          name: pod.name,
          namespace: pod.namespace,
          // The UID precondition: a pod re-created under the same name is not the victim.
          body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace }, deleteOptions: { preconditions: { uid: pod.uid } } },
        },
        withTimeout(this.o.writeTimeoutMs),
      );
      return { outcome: 'evicted' };
    } catch (err) {
      const status = statusOf(err);
      const message = messageOf(err, this.o.writeTimeoutMs);
      if (status === 404 || status === 409) return { outcome: 'gone' };
      if (status === 429) return { outcome: 'blocked', message };
      return { outcome: 'error', message, applied: mayHaveApplied(err) ? 'maybe' : 'no' };
    }
  }

  async event(e: PreemptionEvent): Promise<void> {
    const now = new Date();
    const suffix = `${now.getTime().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
    await this.core.createNamespacedEvent(
      {
        namespace: e.pod.namespace,
        body: {
          metadata: { name: `${e.pod.name.slice(0, 200)}.${suffix}`, namespace: e.pod.namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name: e.pod.name, namespace: e.pod.namespace, uid: e.pod.uid },
          type: e.type,
          reason: e.reason,
          message: e.message.slice(0, MAX_MESSAGE),
          source: { component: 'gpu-ledger' },
          reportingComponent: 'gpu-ledger',
          reportingInstance: this.instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      },
      withTimeout(this.o.writeTimeoutMs),
    );
  }

  async budgets(namespaces: readonly string[]): Promise<BudgetView> {
    const wanted = new Set(namespaces);
    if (wanted.size === 0) return budgetView([], []);
    const list = await this.policy.listPodDisruptionBudgetForAllNamespaces({}, withTimeout(this.o.listTimeoutMs));
    const budgets: DisruptionBudget[] = [];
    const covers: string[][] = [];
    for (const pdb of list.items) {
      const namespace = pdb.metadata?.namespace ?? '';
      const query = selectorQuery(pdb.spec?.selector);
      if (!wanted.has(namespace) || query === null) continue;
      // The API server evaluates the budget's own selector: no label matching of our own.
      const pods = await this.core.listNamespacedPod({ namespace, labelSelector: query }, withTimeout(this.o.listTimeoutMs));
      budgets.push({
        namespace,
        name: pdb.metadata?.name ?? '',
        allowed: pdb.status?.disruptionsAllowed ?? 0,
        disrupted: new Set(Object.keys(pdb.status?.disruptedPods ?? {})),
      });
      covers.push(pods.items.map((p) => p.metadata?.uid ?? '').filter((u) => u !== ''));
    }
    return budgetView(budgets, covers);
  }
}
