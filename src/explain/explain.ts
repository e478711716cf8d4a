// Explain: for one pod, per node, fits or not and why, which GPUs it would take, the score
// kube-scheduler would get, what is free there and what change would make the pod fit. Built on
// Pipeline.rank — the same fit, score and normalisation the extender verbs run — never a second
// copy of a rule; warnings are the GPU rules' own notes.

import { nodeRoom, suggestion, type NodeRoom } from '../gpu/advice.js';
import { overcommits } from '../gpu/free.js';
import { formatBytes, formatMilli } from '../model/quantity.js';
import type { DemandError, GpuTake, PodDemand } from '../model/types.js';
import type { Pipeline } from '../prioritize/pipeline.js';
import { HEADROOM_FLOOR, type ScoreBreakdown } from '../prioritize/policy.js';
import { nodeWithout, type NodeLedger, type PodAllocation } from '../state/ledger.js';
import { mayPreempt } from '../preempt/victims.js';
import { freesText, podList } from '../preempt/text.js';
import { detailText, eventText } from './render.js';

export interface ExplainedReason {
  code: string;
  /** The short text kube-scheduler shows in the FailedScheduling event. */
  event: string;
  /** Every number. */
  detail: string;
  /** The smallest change that would make the pod fit here, when there is one. */
  suggestion: string | null;
  gpu: number | null;
  requested: number;
  used: number;
  capacity: number;
  unit: string;
  pods?: readonly string[];
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
  /** The pod is bound or reserved on this node (per the ledger). */
  placed: 'bound' | 'reserved' | null;
  /** Where the pod would be (or is) on this node: its GPUs and what it holds there. */
  takes: ExplainedTake[];
  /** `score`: 0..10 as prioritize would send it for these candidates; the rest: the ratings behind it. */
  score: ({ score: number } & ScoreBreakdown) | null;
  reasons: ExplainedReason[];
  warnings: string[];
  /** What is free on the node right now, and the largest pod that fits. */
  room: NodeRoom;
  /** Node inventory problems and capacity in use beyond what the node has (pods bound outside the scheduler). */
  problems: string[];
}

/** What priority preemption would do for a pod that fits nowhere (the same victim search the server runs, as a dry run). */
export interface PreemptionExplanation {
  /** The server preempts (`serve --preemption`); explain says what it would do either way. */
  enabled: boolean;
  /** nominated: a share is held for the pod while its victims go; would-preempt: a candidate node exists; never: preemptionPolicy Never; no-candidate: evicting lower-priority pods would not help. */
  state: 'nominated' | 'would-preempt' | 'never' | 'no-candidate';
  node: string | null;
  /** Pods that would be evicted, in eviction order (`namespace/name`). */
  victims: string[];
  /** Pods already on their way out there that the pod waits for too. */
  waitsFor: string[];
  /** What the victims hold where the pod would go. */
  frees: string | null;
  text: string;
}

export interface ExplainOptions {
  /** The server runs with --preemption. */
  preemption?: boolean;
  /** Pods already being evicted (the server's preemption bookkeeping); default: those with a deletionTimestamp. */
  going?: (a: PodAllocation) => boolean;
}

export interface PodExplanation {
  pod: { namespace: string; name: string; uid: string };
  managed: boolean;
  /** Bound or reserved where, per the ledger. */
  placedOn: string | null;
  state: 'bound' | 'reserved' | null;
  demand: {
    requests: Record<string, number>;
    containers: { name: string; replicas: number; gpuTokens: Record<string, number>; mig: Record<string, number>; memLimit: Record<string, string>; threads: string | null }[];
    declaredMemory: string | null;
    isolation: string;
    tier: string | null;
    cpu: string;
  };
  errors: DemandError[];
  /** True when the pod fits at least one node now (or is placed): `gpu-ledger explain` exits 0. */
  fitsSomewhere: boolean;
  summary: string;
  legend: string;
  nodes: NodeExplanation[];
  /** For a pod that fits nowhere: what preemption would do (null otherwise). */
  preemption: PreemptionExplanation | null;
}

export const SCORE_LEGEND =
  'SCORE: what prioritize sends kube-scheduler for these nodes, 0..10, ranked across them (best 10, a point less per 0.1 of rating below the one above, at least one); ' +
  'in brackets the ratings it is made of, 0..1: tier = tier fit, frag = fragmentation (0.5 = unchanged, higher = leaves more usable room), ' +
  'cpu = the CPU headroom the placement leaves (0.5 = exactly what the node\'s free GPUs are expected to need; breaks ties first: below ' + HEADROOM_FLOOR + ' the node goes after the others), ' +
  'pack = how full the pod\'s GPUs are afterwards (breaks ties next: a partly used GPU before an idle one)';

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

/** Inventory problems, capacity in use beyond what the node has, pods beyond what is accounted (explain, the ledger view). */
export function nodeProblems(node: NodeLedger): string[] {
  const out = node.inventory.problems.map((p) => p.message);
  // A nomination sits on top of its victims until they are gone: not an overcommit.
  const held = new Set([...node.pods.values()].filter((a) => a.state === 'nominated').map((a) => a.uid));
  for (const o of overcommits(held.size > 0 ? nodeWithout(node, held) : node)) {
    const amt = (v: number) => (o.dimension === 'memory' ? formatBytes(v) : o.dimension === 'threads' ? formatMilli(v) : String(v));
    out.push(`overcommitted: GPU ${o.gpu} ${o.dimension} ${amt(o.used)} in use of ${amt(o.capacity)} (pods bound outside the scheduler?)`);
  }
  if (node.unaccounted > 0) out.push(`${node.unaccounted} pod(s) beyond what gpu-ledger accounts per GPU: the node takes no new pods`);
  return out;
}

export function explainPod(demand: PodDemand, pipeline: Pipeline, nodeNames?: readonly string[], options: ExplainOptions = {}): PodExplanation {
  const state = pipeline.state;
  const names = (nodeNames ?? [...state.ledger.nodes.keys()].sort()).filter((n) => state.ledger.nodes.has(n));
  const found = demand.uid ? state.ledger.pods.get(demand.uid) : undefined;
  // A nomination is not a placement: the pod is still pending, its share held while victims go.
  const placed = found?.state === 'nominated' ? undefined : (found as (PodAllocation & { state: 'bound' | 'reserved' }) | undefined);
  const placedNode = placed && !placed.cpuOnly ? placed.node : null;
  const ranked = pipeline.rank(demand, names.filter((n) => n !== placedNode), undefined, demand.uid || undefined);
  const nodes: NodeExplanation[] = [];
  const base = (node: NodeLedger) => ({ node: node.name, mode: node.inventory.mode, model: node.inventory.model, gpus: node.inventory.gpus.length, room: nodeRoom(node), problems: nodeProblems(node) });
  if (placed && placedNode && state.ledger.nodes.has(placedNode)) {
    const node = state.ledger.nodes.get(placedNode)!;
    nodes.push({ ...base(node), fits: true, placed: placed.state, takes: placed.takes.map(takeView), score: null, reasons: [], warnings: [`pod is ${placed.state} here`] });
  }
  for (const r of ranked) {
    const node = state.ledger.nodes.get(r.host)!;
    if (r.fit.fits) {
      nodes.push({ ...base(node), fits: true, placed: null, takes: r.fit.takes.map(takeView), score: r.breakdown ? { score: r.score, ...r.breakdown } : null, reasons: [], warnings: r.fit.notes.map((n) => n.message) });
    } else {
      nodes.push({
        ...base(node),
        fits: false,
        placed: null,
        takes: [],
        score: null,
        reasons: r.fit.reasons.map((x) => ({
          code: x.code,
          event: eventText(x),
          detail: detailText(x),
          suggestion: suggestion(x, node),
          gpu: x.gpu,
          requested: x.requested,
          used: x.used,
          capacity: x.capacity,
          unit: x.unit,
          ...(x.pods ? { pods: x.pods } : {}),
          preemptionCouldHelp: x.resolvable,
        })),
        warnings: [],
      });
    }
  }
  nodes.sort((a, b) => Number(b.placed !== null) - Number(a.placed !== null) || Number(b.fits) - Number(a.fits) || (b.score?.raw ?? 0) - (a.score?.raw ?? 0) || a.node.localeCompare(b.node));
  const fitting = nodes.filter((n) => n.fits && n.placed === null);
  const preemption = demand.managed && demand.errors.length === 0 && !placedNode && fitting.length === 0 ? explainPreemption(demand, pipeline, nodes, options) : null;
  let summary: string;
  if (!demand.managed) summary = 'pod requests no NVIDIA GPU resource: gpu-ledger passes it on every node';
  else if (demand.errors.length > 0) summary = `pod GPU spec is invalid: ${demand.errors.map((e) => e.message).join('; ')}`;
  else if (placedNode) summary = `${placed!.state} on ${placedNode}; ${fitting.length}/${nodes.length - 1} other GPU nodes would fit it now`;
  else if (fitting.length === 0) summary = `0/${nodes.length} GPU nodes fit${preemption ? `; ${preemption.text}` : ''}`;
  else summary = `${fitting.length}/${nodes.length} GPU nodes fit; best: ${fitting[0].node}${fitting[0].score ? ` (score ${fitting[0].score.score})` : ''}`;
  return {
    pod: { namespace: demand.namespace, name: demand.name, uid: demand.uid },
    managed: demand.managed,
    placedOn: placedNode,
    state: placed && placedNode ? placed.state : null,
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
      cpu: `${demand.cpuMilli}m`,
    },
    errors: [...demand.errors],
    fitsSomewhere: demand.errors.length === 0 && (placedNode !== null || fitting.length > 0 || !demand.managed),
    summary,
    legend: SCORE_LEGEND,
    nodes,
    preemption,
  };
}

/** The victim search the server runs, as a dry run on the nodes refused for reasons evicting pods could fix. */
function explainPreemption(demand: PodDemand, pipeline: Pipeline, nodes: readonly NodeExplanation[], o: ExplainOptions): PreemptionExplanation {
  const enabled = o.preemption === true;
  const base = { enabled, node: null, victims: [], waitsFor: [], frees: null };
  const nominated = demand.uid ? pipeline.nominatedNode(demand.uid) : null;
  if (nominated !== null) {
    const going = pipeline.state.ledger.nodes.get(nominated);
    const waits = going ? [...going.pods.values()].filter((a) => a.state === 'bound' && (a.terminating || o.going?.(a))) : [];
    return {
      ...base,
      state: 'nominated',
      node: nominated,
      waitsFor: waits.map((a) => `${a.namespace}/${a.name}`),
      text: `nominated on ${nominated}: its share is held for it until ${waits.length > 0 ? podList(waits) : 'the pods it preempted'} are gone`,
    };
  }
  if (!mayPreempt(demand)) return { ...base, state: 'never', text: 'preemptionPolicy: Never: it waits, and never preempts' };
  const refusable = nodes.filter((n) => !n.fits && n.reasons.length > 0 && n.reasons.every((r) => r.preemptionCouldHelp)).map((n) => n.node);
  const [best] = pipeline.preemption(demand, refusable, { going: o.going });
  const prefix = enabled ? '' : 'with --preemption, gpu-ledger ';
  if (!best) return { ...base, state: 'no-candidate', text: `${enabled ? 'preemption' : 'with --preemption, preemption'} cannot help: no node where evicting lower-priority pods (priority < ${demand.priority}) makes room` };
  const frees = freesText(best.node, best.victims);
  const waits = best.waitsFor.length > 0 ? `; waits for ${podList(best.waitsFor)} to terminate` : '';
  return {
    enabled,
    state: 'would-preempt',
    node: best.node,
    victims: best.victims.map((a) => `${a.namespace}/${a.name}`),
    waitsFor: best.waitsFor.map((a) => `${a.namespace}/${a.name}`),
    frees,
    text: `${prefix}would preempt ${best.victims.length} pod(s) on ${best.node}: ${podList(best.victims)} (frees ${frees})${waits}`,
  };
}

/** A readable table for terminals. */
export function renderExplanation(e: PodExplanation): string {
  const lines: string[] = [];
  lines.push(`pod ${e.pod.namespace}/${e.pod.name}${e.placedOn ? ` (${e.state} on ${e.placedOn})` : ''}`);
  const req = Object.entries(e.demand.requests).map(([k, v]) => `${k}=${v}`).join(', ');
  lines.push(`  requests: ${req || 'none'}; isolation: ${e.demand.isolation}${e.demand.tier ? `; tier: ${e.demand.tier}` : ''}${e.demand.declaredMemory ? `; declared memory: ${e.demand.declaredMemory}/GPU` : ''}`);
  for (const c of e.demand.containers) {
    const mem = Object.entries(c.memLimit).map(([k, v]) => `${k}=${v}`).join(',');
    const tokens = Object.entries(c.gpuTokens).map(([k, v]) => `${k}=${v}`).join(',');
    lines.push(`  container ${c.name}: replicas ${c.replicas}${tokens ? `, tokens ${tokens}` : ''}${mem ? `, MPS memory ${mem}` : ''}${c.threads ? `, MPS threads ${c.threads}` : ''}`);
  }
  for (const err of e.errors) lines.push(`  ERROR ${err.field}: ${err.message}`);
  lines.push(`  ${e.summary}`);
  lines.push('');
  const rows: string[][] = [['NODE', 'MODE', 'FIT', 'SCORE', 'GPUS TAKEN / REASONS']];
  for (const n of e.nodes) {
    const what = n.fits
      ? n.takes.map((t) => `gpu${t.gpu}: ${Object.keys(t.mig).length ? Object.entries(t.mig).map(([p, c]) => `${c}×${p}`).join('+') : `${t.replicas} rep, ${t.memory}, ${t.threads}`}${t.exclusive ? ' (exclusive)' : ''}`).join('; ')
      : n.reasons.map((r) => r.detail).join('; ');
    const c = n.score?.components;
    const cpu = c && c.cpuHeadroom !== null ? `, cpu ${fmt(c.cpuHeadroom)}` : '';
    const score = c ? `${n.score!.score} (tier ${fmt(c.tierFit)}, frag ${fmt(c.fragmentation)}${cpu}, pack ${fmt(c.pack)})` : n.placed ? n.placed : '-';
    rows.push([n.node, `${n.mode} ${n.gpus}×${n.model}`, n.fits ? 'yes' : 'no', score, what]);
    for (const r of n.reasons) if (r.suggestion) rows.push(['', '', '', '', `would fit: ${r.suggestion}`]);
    for (const w of n.warnings) rows.push(['', '', '', '', `note: ${w}`]);
    for (const p of n.problems) rows.push(['', '', '', '', `problem: ${p}`]);
    rows.push(['', '', '', '', `room: ${n.room.largest}`]);
  }
  const widths = rows[0].map((_, i) => Math.min(48, Math.max(...rows.map((r) => (i < 4 ? r[i].length : 0)))));
  for (const r of rows) lines.push(r.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c)).join('  ').trimEnd());
  lines.push('');
  lines.push(e.legend);
  return lines.join('\n');
}

function fmt(v: number | null): string {
  return v === null ? '-' : v.toFixed(2);
}
