// Prometheus metrics. Latency buckets start at 50 µs: the filter answers in well under a
// millisecond, and a histogram whose first bucket is 5 ms (prom-client's default) would say nothing.
// Ledger gauges are computed at scrape time from the ledger, never maintained on the hot path.
// Node.js process metrics keep their standard names (process_*, nodejs_*): stock dashboards expect
// them. Thread shares are 0..1 ratios (Prometheus base units; they were *_percent before).

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { gpuCapacity, overcommits } from '../gpu/free.js';
import type { ClusterState } from '../state/cluster-state.js';
import { nodeWithout, type NodeLedger } from '../state/ledger.js';

export interface Metrics {
  registry: Registry;
  duration: Histogram<'verb'>;
  nodesEvaluated: Counter<'verb'>;
  rejections: Counter<'reason'>;
  filterResults: Counter<'result'>;
  binds: Counter<'outcome'>;
  expired: Counter;
  badRequests: Counter<'verb'>;
  /** Verb calls refused because the ledger was not in sync with the API server. */
  notInSync: Counter<'verb'>;
  /** Connections closed on arrival because a listener had --max-connections open. */
  connectionsDropped: Counter<'listener'>;
  /** gpu-ledger's own preemption attempts (--preemption), by outcome. */
  preemptions: Counter<'outcome'>;
  /** Evictions of preemption victims, by outcome. */
  preemptionVictims: Counter<'outcome'>;
}

export const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface MetricsOptions {
  /**
   * Per-pod allocation gauges (`gpu_ledger_pod_*`: pod, namespace, node, GPU): one series per pod
   * and GPU, so opt-in (`--pod-metrics`). They attribute MPS memory and thread shares to pods, which
   * DCGM cannot do for MPS clients.
   */
  podMetrics?: boolean;
}

/** `ready`: the ledger is loaded and in sync (live mode: every informer); default: the state's own flag. */
export function createMetrics(state: ClusterState, ready: () => boolean = () => state.ready(), options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m: Metrics = {
    registry,
    duration: new Histogram({ name: 'gpu_ledger_request_duration_seconds', help: 'Extender request duration by verb', labelNames: ['verb'], buckets: LATENCY_BUCKETS, registers: [registry] }),
    nodesEvaluated: new Counter({ name: 'gpu_ledger_nodes_evaluated_total', help: 'Candidate nodes evaluated by verb', labelNames: ['verb'], registers: [registry] }),
    rejections: new Counter({ name: 'gpu_ledger_rejections_total', help: 'Nodes rejected by filter, by reason code', labelNames: ['reason'], registers: [registry] }),
    filterResults: new Counter({ name: 'gpu_ledger_filter_nodes_total', help: 'Filter outcomes per candidate node', labelNames: ['result'], registers: [registry] }),
    binds: new Counter({ name: 'gpu_ledger_binds_total', help: 'Bind outcomes', labelNames: ['outcome'], registers: [registry] }),
    expired: new Counter({ name: 'gpu_ledger_reservations_expired_total', help: 'Reservations dropped because the pod never showed up bound', registers: [registry] }),
    badRequests: new Counter({ name: 'gpu_ledger_bad_requests_total', help: 'Requests rejected as malformed (4xx)', labelNames: ['verb'], registers: [registry] }),
    notInSync: new Counter({ name: 'gpu_ledger_not_in_sync_refusals_total', help: 'Verb calls refused because the ledger was not in sync with the API server', labelNames: ['verb'], registers: [registry] }),
    connectionsDropped: new Counter({ name: 'gpu_ledger_connections_dropped_total', help: 'Connections closed on arrival: the listener already had --max-connections open', labelNames: ['listener'], registers: [registry] }),
    preemptions: new Counter({
      name: 'gpu_ledger_preemptions_total',
      help: 'Preemption attempts for GPU shares (--preemption): preempted (victims evicted, share nominated), nominated (only pods already going), deferred (cap or cool-down), blocked (every eviction refused by a PodDisruptionBudget), failed',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    preemptionVictims: new Counter({ name: 'gpu_ledger_preemption_victims_total', help: 'Evictions of preemption victims: evicted, gone (already deleted), blocked (429, PodDisruptionBudget), error', labelNames: ['outcome'], registers: [registry] }),
  };

  const g = (name: string, help: string, labelNames: string[], collect?: () => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
  // One collect() fills every ledger gauge at scrape time; it hangs on the first-registered gauge
  // because the registry collects in registration order.
  const memAlloc = g('gpu_ledger_gpu_memory_allocated_bytes', 'Memory accounted on a GPU (MPS pinned or declared)', ['node', 'gpu'], () => fillLedgerGauges());
  const memCap = g('gpu_ledger_gpu_memory_capacity_bytes', 'Usable memory of a GPU (minus reserved headroom)', ['node', 'gpu']);
  const thrAlloc = g('gpu_ledger_gpu_threads_allocated_ratio', 'MPS thread share accounted on a GPU (1 = 100 % of its SMs)', ['node', 'gpu']);
  const thrCap = g('gpu_ledger_gpu_threads_capacity_ratio', 'MPS thread share allowed on a GPU (the compute overcommit: 1 = 100 %)', ['node', 'gpu']);
  const repAlloc = g('gpu_ledger_gpu_replicas_allocated', 'Shared replicas or tokens in use on a GPU', ['node', 'gpu']);
  const repCap = g('gpu_ledger_gpu_replicas_capacity', 'Shared replicas a GPU advertises', ['node', 'gpu']);
  const migAlloc = g('gpu_ledger_mig_instances_allocated', 'MIG instances in use', ['node', 'gpu', 'profile']);
  const migCap = g('gpu_ledger_mig_instances_capacity', 'MIG instances on a GPU', ['node', 'gpu', 'profile']);
  const pods = g('gpu_ledger_pods', 'Pods in the ledger by state (bound, reserved, nominated: a preemptor\'s share held while its victims go; cpu-only: pods without GPUs kept for their CPU requests)', ['state']);
  const nodes = g('gpu_ledger_nodes', 'GPU nodes in the ledger, and nodes with inventory problems', ['kind']);
  const over = g('gpu_ledger_node_overcommitted', '1 when pods bound outside the scheduler use more of a node than it has (or more pods than gpu-ledger accounts)', ['node']);
  const readyGauge = g('gpu_ledger_ready', '1 when the ledger is loaded and in sync with the API server', []);
  const podLabels = ['namespace', 'pod', 'node', 'gpu'];
  const podGauges = options.podMetrics
    ? {
        memory: g('gpu_ledger_pod_gpu_memory_bytes', 'GPU memory accounted to a pod on a GPU (MPS pinned memory, or declared memory where the mode accounts it)', podLabels),
        threads: g('gpu_ledger_pod_gpu_threads_ratio', 'MPS thread share of a GPU accounted to a pod (0..1)', podLabels),
        replicas: g('gpu_ledger_pod_gpu_replicas', 'Shared replicas or tokens of a GPU a pod holds', podLabels),
        mig: g('gpu_ledger_pod_mig_instances', 'MIG instances of a GPU a pod holds, per profile', [...podLabels, 'profile']),
      }
    : null;

  function fillPodGauges(n: NodeLedger, p: NonNullable<typeof podGauges>): void {
    // Which dimensions this node's mode accounts: the same on each of its GPUs.
    const { limits } = gpuCapacity(n, 0);
    for (const a of n.pods.values()) {
      if (a.cpuOnly || a.unaccounted) continue;
      for (const t of a.takes) {
        const labels = { namespace: a.namespace, pod: a.name, node: n.name, gpu: String(t.gpu) };
        if (t.replicas > 0) p.replicas.set(labels, t.replicas);
        if (limits.memory) p.memory.set(labels, t.memoryBytes);
        if (limits.threads) p.threads.set(labels, t.threadMilli / 1000);
        if (t.mig) for (const [profile, count] of t.mig) p.mig.set({ ...labels, profile }, count);
      }
    }
  }

  function fillLedgerGauges(): void {
    for (const x of [memAlloc, memCap, thrAlloc, thrCap, repAlloc, repCap, migAlloc, migCap, pods, nodes, over]) x.reset();
    if (podGauges) for (const x of Object.values(podGauges)) x.reset();
    let bound = 0;
    let reserved = 0;
    let nominated = 0;
    let cpuOnly = 0;
    /** A nomination sits on top of its victims until they are gone: not an overcommit. */
    const nominatedOn = new Map<string, Set<string>>();
    for (const a of state.ledger.pods.values()) {
      if (a.cpuOnly) cpuOnly++;
      else if (a.state === 'bound') bound++;
      else if (a.state === 'nominated') {
        nominated++;
        let set = nominatedOn.get(a.node);
        if (!set) nominatedOn.set(a.node, (set = new Set()));
        set.add(a.uid);
      }
      else reserved++;
    }
    pods.set({ state: 'cpu-only' }, cpuOnly);
    pods.set({ state: 'bound' }, bound);
    pods.set({ state: 'reserved' }, reserved);
    pods.set({ state: 'nominated' }, nominated);
    let problems = 0;
    for (const n of state.ledger.nodes.values()) {
      const inv = n.inventory;
      if (inv.problems.length > 0) problems++;
      const held = nominatedOn.get(n.name);
      if (n.unaccounted > 0 || overcommits(held ? nodeWithout(n, held) : n).length > 0) over.set({ node: n.name }, 1);
      n.gpus.forEach((u, i) => {
        const labels = { node: n.name, gpu: String(i) };
        const { capacity, limits } = gpuCapacity(n, i);
        if (capacity.replicas > 0) {
          repAlloc.set(labels, u.replicas);
          repCap.set(labels, capacity.replicas);
        }
        if (limits.memory) {
          memAlloc.set(labels, u.memoryBytes);
          memCap.set(labels, capacity.memoryBytes);
        }
        if (limits.threads) {
          thrAlloc.set(labels, u.threadMilli / 1000);
          thrCap.set(labels, capacity.threadMilli / 1000);
        }
        for (const [profile, cap] of capacity.mig) {
          migCap.set({ ...labels, profile }, cap);
          migAlloc.set({ ...labels, profile }, u.mig.get(profile) ?? 0);
        }
      });
      if (podGauges && n.gpus.length > 0) fillPodGauges(n, podGauges);
    }
    nodes.set({ kind: 'gpu' }, state.ledger.nodes.size);
    nodes.set({ kind: 'problem' }, problems);
    nodes.set({ kind: 'cpu' }, state.ledger.cpuNodes.size);
    readyGauge.set(ready() ? 1 : 0);
  }
  return m;
}
