// Explain: for one pod, per node, fits or not and why, which GPUs it would take, and the score.
// Built from fitPod and scoreNode — the same code the extender verbs run — never a second copy.

import { chargeClient, fitPod, memoryPerReplica } from '../filter/fit.js';
import { formatBytes, formatMilli } from '../model/quantity.js';
import type { DemandError, GpuTake, NodeInventory, PodDemand } from '../model/types.js';
import { scoreNode, type ScoreBreakdown } from '../prioritize/policy.js';
import type { ClusterState } from '../state/cluster-state.js';
import type { NodeLedger } from '../state/ledger.js';
import { detailText, eventText } from './render.js';

export interface ExplainedReason {
  code: string;
  /** The short text kube-scheduler shows in the FailedScheduling event. */
  event: string;
  /** Every number. */
  detail: string;
  gpu: number | null;
  requested: number;
  used: number;
  capacity: number;
  unit: string;
  /** Could evicting pods help? */
  preemptionCouldHelp: boolean;
}

export interface ExplainedTake {
  gpu: number;
  replicas: number;
  memory: string;
  memoryBytes: number;
  threads: string;
  threadMilli: number;
  clients: number;
  mig: Record<string, number>;
  exclusive: boolean;
}

export interface NodeExplanation {
  node: string;
  mode: string;
  model: string;
  gpus: number;
  fits: boolean;
  /** Where the pod would be bound right now: the node and its GPUs (when it fits). */
  takes: ExplainedTake[];
  score: ScoreBreakdown | null;
  reasons: ExplainedReason[];
  warnings: string[];
}

export interface PodExplanation {
  pod: { namespace: string; name: string; uid: string };
  managed: boolean;
  /** Bound or reserved where, per the ledger. */
  placedOn: string | null;
  demand: {
    requests: Record<string, number>;
    containers: { name: string; replicas: number; gpuTokens: Record<string, number>; mig: Record<string, number>; memLimit: Record<string, string>; threads: string | null }[];
    declaredMemory: string | null;
    isolation: string;
    tier: string | null;
  };
  errors: DemandError[];
  summary: string;
  nodes: NodeExplanation[];
}

function takeView(t: GpuTake): ExplainedTake {
  return {
    gpu: t.gpu,
    replicas: t.replicas,
    memory: formatBytes(t.memoryBytes),
    memoryBytes: t.memoryBytes,
    threads: formatMilli(t.threadMilli),
    threadMilli: t.threadMilli,
    clients: t.clients,
    mig: t.mig ? Object.fromEntries(t.mig) : {},
    exclusive: t.exclusive,
  };
}

/** Advice that does not change the decision but that users need (see gpu-sharing notes). */
export function nodeWarnings(demand: PodDemand, inv: NodeInventory, takes: readonly GpuTake[]): string[] {
  const out: string[] = [];
  const usesMpsEnv = demand.clients.some((c) => c.memLimitByOrdinal.size > 0 || c.memLimitByUuid.size > 0 || c.threadMilli !== null);
  if (usesMpsEnv && inv.mode !== 'mps') {
    out.push(`CUDA_MPS_* env has no effect on a ${inv.mode} node: only MPS enforces it`);
  }
  if (inv.mode === 'mps' && inv.mpsDaemonLimits) {
    for (const c of demand.clients) {
      for (const [ordinal, limit] of c.memLimitByOrdinal) {
        const t = takes[ordinal];
        if (!t) continue;
        const share = t.replicas * memoryPerReplica(inv, t.gpu);
        if (limit > share) {
          out.push(
            `container "${c.container}": CUDA_MPS_PINNED_DEVICE_MEM_LIMIT ${ordinal}=${formatBytes(limit)} cannot take effect: ` +
              `its ${t.replicas} replica(s) get ${formatBytes(share)} from the MPS daemon, and a client's env can only lower that limit`,
          );
        }
      }
      if (c.threadMilli !== null && takes.length > 0) {
        const t = takes[0];
        const share = chargeClient(inv, { ...demand, declaredThreadMilli: null }, { ...c, threadMilli: null }, t.gpu, t.replicas, 0, 1).threadMilli;
        if (c.threadMilli > share) {
          out.push(`container "${c.container}": CUDA_MPS_ACTIVE_THREAD_PERCENTAGE ${formatMilli(c.threadMilli)} cannot take effect: the MPS daemon gives ${formatMilli(share)}`);
        }
      }
      if (c.memLimitByUuid.size > 0) {
        out.push(`container "${c.container}": GPU UUIDs in CUDA_MPS_PINNED_DEVICE_MEM_LIMIT are matched only when the container sees one GPU`);
      }
    }
  }
  if (inv.mode === 'time-slicing' && demand.clients.some((c) => c.replicas > 1)) {
    out.push('several time-slicing replicas do not buy proportional compute or memory isolation; they only count against the replicas');
  }
  if (inv.mode === 'mps' && demand.declaredMemoryBytes === null && !usesMpsEnv) {
    out.push('pod declares no GPU memory: it is accounted at its replicas\' share; set CUDA_MPS_PINNED_DEVICE_MEM_LIMIT or gpu-ledger.io/gpu-memory');
  }
  return out;
}

function explainNode(demand: PodDemand, node: NodeLedger, state: ClusterState): NodeExplanation {
  const inv = node.inventory;
  const placed = state.ledger.pods.get(demand.uid);
  const base = { node: node.name, mode: inv.mode, model: inv.model, gpus: inv.gpus.length };
  if (placed && placed.node === node.name) {
    return {
      ...base,
      fits: true,
      takes: placed.takes.map(takeView),
      score: null,
      reasons: [],
      warnings: [`pod is ${placed.state} here`, ...nodeWarnings(demand, inv, placed.takes)],
    };
  }
  const fit = fitPod(demand, node, state.fitOptions);
  if (!fit.fits) {
    return {
      ...base,
      fits: false,
      takes: [],
      score: null,
      reasons: fit.reasons.map((r) => ({
        code: r.code,
        event: eventText(r),
        detail: detailText(r),
        gpu: r.gpu,
        requested: r.requested,
        used: r.used,
        capacity: r.capacity,
        unit: r.unit,
        preemptionCouldHelp: r.resolvable,
      })),
      warnings: nodeWarnings(demand, inv, []),
    };
  }
  const score = scoreNode(demand, node, fit.takes, state.config.scoring.weights, { tiers: state.config.tiers, shapes: state.workload.shapes() });
  return { ...base, fits: true, takes: fit.takes.map(takeView), score, reasons: [], warnings: nodeWarnings(demand, inv, fit.takes) };
}

export function explainPod(demand: PodDemand, state: ClusterState, nodeNames?: readonly string[]): PodExplanation {
  const names = nodeNames ?? [...state.ledger.nodes.keys()].sort();
  const nodes: NodeExplanation[] = [];
  for (const name of names) {
    const node = state.ledger.nodes.get(name);
    if (node) nodes.push(explainNode(demand, node, state));
  }
  nodes.sort((a, b) => Number(b.fits) - Number(a.fits) || (b.score?.raw ?? 0) - (a.score?.raw ?? 0) || a.node.localeCompare(b.node));
  const placed = state.ledger.pods.get(demand.uid);
  const fitting = nodes.filter((n) => n.fits);
  let summary: string;
  if (!demand.managed) summary = 'pod requests no NVIDIA GPU resource: gpu-ledger passes it on every node';
  else if (demand.errors.length > 0) summary = `pod GPU spec is invalid: ${demand.errors.map((e) => e.message).join('; ')}`;
  else if (fitting.length === 0) summary = `0/${nodes.length} GPU nodes fit`;
  else summary = `${fitting.length}/${nodes.length} GPU nodes fit; best: ${fitting[0].node}${fitting[0].score ? ` (score ${fitting[0].score.score})` : ''}`;
  return {
    pod: { namespace: demand.namespace, name: demand.name, uid: demand.uid },
    managed: demand.managed,
    placedOn: placed ? placed.node : null,
    demand: {
      requests: Object.fromEntries(demand.requests),
      containers: demand.clients.map((c) => ({
        name: c.container,
        replicas: c.replicas,
        gpuTokens: Object.fromEntries([...c.gpuTokens].map(([k, v]) => [`nvidia.com/gpu${k}`, v])),
        mig: Object.fromEntries(c.mig),
        memLimit: Object.fromEntries([...c.memLimitByOrdinal, ...c.memLimitByUuid].map(([k, v]) => [String(k), formatBytes(v)])),
        threads: c.threadMilli === null ? null : formatMilli(c.threadMilli),
      })),
      declaredMemory: demand.declaredMemoryBytes === null ? null : formatBytes(demand.declaredMemoryBytes),
      isolation: demand.isolation,
      tier: demand.tier,
    },
    errors: [...demand.errors],
    summary,
    nodes,
  };
}

/** A readable table for terminals. */
export function renderExplanation(e: PodExplanation): string {
  const lines: string[] = [];
  lines.push(`pod ${e.pod.namespace}/${e.pod.name}${e.placedOn ? ` (on ${e.placedOn})` : ''}`);
  const req = Object.entries(e.demand.requests).map(([k, v]) => `${k}=${v}`).join(', ');
  lines.push(`  requests: ${req || 'none'}; isolation: ${e.demand.isolation}${e.demand.tier ? `; tier: ${e.demand.tier}` : ''}${e.demand.declaredMemory ? `; declared memory: ${e.demand.declaredMemory}/GPU` : ''}`);
  for (const c of e.demand.containers) {
    const mem = Object.entries(c.memLimit).map(([k, v]) => `${k}=${v}`).join(',');
    lines.push(`  container ${c.name}: replicas ${c.replicas}${mem ? `, MPS memory ${mem}` : ''}${c.threads ? `, MPS threads ${c.threads}` : ''}`);
  }
  for (const err of e.errors) lines.push(`  ERROR ${err.field}: ${err.message}`);
  lines.push(`  ${e.summary}`);
  lines.push('');
  const rows: string[][] = [['NODE', 'MODE', 'FIT', 'SCORE', 'GPUS TAKEN / REASONS']];
  for (const n of e.nodes) {
    const what = n.fits
      ? n.takes.map((t) => `gpu${t.gpu}: ${Object.keys(t.mig).length ? Object.entries(t.mig).map(([p, c]) => `${c}×${p}`).join('+') : `${t.replicas} rep, ${t.memory}, ${t.threads}`}`).join('; ')
      : n.reasons.map((r) => r.detail).join('; ');
    const score = n.score ? `${n.score.score} (tier ${fmt(n.score.components.tierFit)}, frag ${fmt(n.score.components.fragmentation)}, pack ${fmt(n.score.components.binpack)})` : '-';
    rows.push([n.node, `${n.mode} ${n.gpus}×${n.model}`, n.fits ? 'yes' : 'no', score, what]);
    for (const w of n.warnings) rows.push(['', '', '', '', `note: ${w}`]);
  }
  const widths = rows[0].map((_, i) => Math.min(48, Math.max(...rows.map((r) => (i < 4 ? r[i].length : 0)))));
  for (const r of rows) lines.push(r.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c)).join('  ').trimEnd());
  return lines.join('\n');
}

function fmt(v: number | null): string {
  return v === null ? '-' : v.toFixed(2);
}
