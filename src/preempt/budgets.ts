// PodDisruptionBudgets as the victim search reads them: per budget the disruptions it still allows
// and the pods its selector covers (by UID). gpu-ledger keeps no pod labels (the ledger stays lean at
// 150,000 pods); live mode reads the budgets and asks the API server which pods each one selects
// (a LIST with the budget's own selector) when it preempts — see src/kube/evictor.ts.

/** One PodDisruptionBudget (policy/v1), reduced to what preemption's order needs. */
export interface DisruptionBudget {
  namespace: string;
  name: string;
  /** `status.disruptionsAllowed` */
  allowed: number;
  /** `status.disruptedPods`: pod names the API server already counts as disrupted. */
  disrupted: ReadonlySet<string>;
}

export interface BudgetView {
  readonly budgets: readonly DisruptionBudget[];
  /** Indexes into `budgets` of the budgets covering a pod. */
  of(uid: string): readonly number[];
}

export const NO_BUDGETS: BudgetView = { budgets: [], of: () => [] };

/** A view from budgets and, per budget (same index), the UIDs its selector matches. */
export function budgetView(budgets: readonly DisruptionBudget[], covers: readonly (readonly string[])[]): BudgetView {
  const byPod = new Map<string, number[]>();
  covers.forEach((uids, i) => {
    for (const uid of uids) {
      let list = byPod.get(uid);
      if (!list) byPod.set(uid, (list = []));
      list.push(i);
    }
  });
  return { budgets, of: (uid) => byPod.get(uid) ?? [] };
}

export interface SelectorLike {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: { key?: string; operator?: string; values?: string[] | null }[] | null;
}

/**
 * A label selector as the `labelSelector` query parameter, or null when it selects nothing for
 * preemption: kube-scheduler counts a budget with a nil or empty selector as matching no pod, and
 * skips a selector it cannot parse.
 */
export function selectorQuery(sel: SelectorLike | null | undefined): string | null {
  if (!sel) return null;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    if (!e.key) return null;
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (values.length === 0) return null;
        parts.push(`${e.key} in (${values.join(',')})`);
        break;
      case 'NotIn':
        if (values.length === 0) return null;
        parts.push(`${e.key} notin (${values.join(',')})`);
        break;
      case 'Exists':
        parts.push(e.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${e.key}`);
        break;
      default:
        return null;
    }
  }
  return parts.length > 0 ? parts.join(',') : null;
}
