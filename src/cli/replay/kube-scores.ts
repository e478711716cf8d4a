// kube-scheduler 1.30's own scoring of a node, for the replay "as the shipped configuration
// schedules" — the in-tree plugins that differ between nodes for the trace's pods, computed the
// way kube-scheduler computes them (integer arithmetic where it uses integers), plus how it adds
// extender scores and picks the host. The trace pods have no tolerations, preferred affinities,
// topology spread constraints, inter-pod affinity or known images, so TaintToleration,
// NodeAffinity, PodTopologySpread, InterPodAffinity and ImageLocality rate every node the same
// and drop out of the comparison.

/** NodeResourcesFit counts a pod without a request as this much (schedutil.DefaultMilliCPURequest / DefaultMemoryRequest). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;
export const MAX_NODE_SCORE = 100;
/** Extender scores are 0..10 and count score × weight × (MaxNodeScore / MaxExtenderPriority). */
export const MAX_EXTENDER_PRIORITY = 10;

export interface NodeRequests {
  cpuAllocatable: number;
  memAllocatable: number;
  /** Σ requests of the pods on the node (what BalancedAllocation uses). */
  cpu: number;
  mem: number;
  /** Σ non-zero requests (what NodeResourcesFit's LeastAllocated uses). */
  cpuNonZero: number;
  memNonZero: number;
}

export interface PodRequests {
  cpu: number;
  mem: number;
}

/** pkg/scheduler/framework/plugins/noderesources/least_allocated.go: leastRequestedScore. */
function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/** pkg/scheduler/framework/plugins/noderesources/most_allocated.go: mostRequestedScore. */
function mostRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  return Math.trunc((Math.min(requested, capacity) * MAX_NODE_SCORE) / capacity);
}

/** NodeResourcesFit's resource scorer: one score per resource (cpu:1, memory:1), their weighted mean, on non-zero requests. */
function resourceScore(n: NodeRequests, pod: PodRequests, score: (requested: number, capacity: number) => number): number {
  const cpu = n.cpuNonZero + (pod.cpu || DEFAULT_MILLI_CPU_REQUEST);
  const mem = n.memNonZero + (pod.mem || DEFAULT_MEMORY_REQUEST);
  let total = 0;
  let weights = 0;
  for (const [requested, capacity] of [[cpu, n.cpuAllocatable], [mem, n.memAllocatable]]) {
    if (capacity <= 0) continue;
    total += score(requested, capacity);
    weights++;
  }
  return weights === 0 ? 0 : Math.trunc(total / weights);
}

/** NodeResourcesFit, LeastAllocated strategy (the default). */
export function leastAllocatedScore(n: NodeRequests, pod: PodRequests): number {
  return resourceScore(n, pod, leastRequestedScore);
}

/** NodeResourcesFit, MostAllocated strategy. */
export function mostAllocatedScore(n: NodeRequests, pod: PodRequests): number {
  return resourceScore(n, pod, mostRequestedScore);
}

/** pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go (1.30): 1 − std of the fractions. */
export function balancedAllocationScore(n: NodeRequests, pod: PodRequests): number {
  const fractions: number[] = [];
  if (n.cpuAllocatable > 0) fractions.push(Math.min(1, (n.cpu + pod.cpu) / n.cpuAllocatable));
  if (n.memAllocatable > 0) fractions.push(Math.min(1, (n.mem + pod.mem) / n.memAllocatable));
  let std = 0;
  if (fractions.length === 2) std = Math.abs((fractions[0] - fractions[1]) / 2);
  return Math.trunc((1 - std) * MAX_NODE_SCORE);
}

/** How the profile scores with the in-tree resource plugins (from the shipped KubeSchedulerConfiguration). */
export interface InTreeModel {
  /** NodeResourcesFit's scoringStrategy.type. */
  fitStrategy: 'LeastAllocated' | 'MostAllocated';
  /** Score weights of NodeResourcesFit and NodeResourcesBalancedAllocation (0 = disabled). */
  fitWeight: number;
  balancedWeight: number;
}

/** The in-tree part of a node's total score that differs between nodes for the trace's pods. */
export function inTreeScore(n: NodeRequests, pod: PodRequests, m: InTreeModel): number {
  const fit = m.fitWeight > 0 ? (m.fitStrategy === 'MostAllocated' ? mostAllocatedScore(n, pod) : leastAllocatedScore(n, pod)) * m.fitWeight : 0;
  return fit + (m.balancedWeight > 0 ? balancedAllocationScore(n, pod) * m.balancedWeight : 0);
}

/** What an extender's 0..10 score adds to a node's total. */
export function extenderContribution(score: number, weight: number): number {
  return score * weight * (MAX_NODE_SCORE / MAX_EXTENDER_PRIORITY);
}

/**
 * schedule_one.go selectHost: the highest total wins; among equal totals each is picked with equal
 * probability (reservoir sampling, as kube-scheduler does with rand.Intn).
 */
export function selectHost<T>(candidates: readonly T[], total: (c: T) => number, rand: () => number): T | null {
  let best: T | null = null;
  let bestScore = -Infinity;
  let ties = 0;
  for (const c of candidates) {
    const s = total(c);
    if (s > bestScore) {
      best = c;
      bestScore = s;
      ties = 1;
    } else if (s === bestScore) {
      ties++;
      if (Math.floor(rand() * ties) === 0) best = c;
    }
  }
  return best;
}
