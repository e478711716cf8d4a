// The extender verbs: decode (wire.ts), call the pipeline, encode. No rule lives here.

import type { Logger } from 'pino';
import { eventText, detailText } from '../explain/render.js';
import { fit } from '../gpu/place.js';
import { parseNodeInventory, type NodeLike } from '../model/inventory.js';
import { formatBytes, formatMilli } from '../model/quantity.js';
import { PREFIX, type GpuTake, type PodDemand, type Reason } from '../model/types.js';
import type { NodeViews, Pipeline } from '../prioritize/pipeline.js';
import type { Ranked } from '../prioritize/rank.js';
import type { ClusterState } from '../state/cluster-state.js';
import { nodeWithInventory, nodeWithout, type NodeLedger } from '../state/ledger.js';
import { BindConflictError, type Binder } from '../state/sink.js';
import { BindOutcomeUnknownError } from '../kube/bind-outcome.js';
import { FilterReply } from './filter-reply.js';
import { PrioritizeReply } from './prioritize-reply.js';
import type { Metrics } from './metrics.js';
import type { Preemptor } from './preemption.js';
import type { ExtenderArgs, ExtenderBindingArgs, ExtenderFilterResult, ExtenderPreemptionArgs, MetaVictims } from './wire.js';

export interface ExtenderContext {
  state: ClusterState;
  pipeline: Pipeline;
  binder: Binder;
  logger: Logger;
  metrics: Metrics;
  /**
   * serve --preemption: gpu-ledger preempts lower-priority pods for GPU shares itself (`preemptor`,
   * live mode only) and /preempt adds the GPU victims kube-scheduler's proposals lack.
   */
  preemption: boolean;
  preemptor?: Preemptor;
}

function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function podLabel(d: PodDemand): string {
  return `${d.namespace}/${d.name}`;
}

function namesOf(args: ExtenderArgs): string[] {
  return args.NodeNames ?? (args.Nodes?.items ?? []).map((n) => String((n.metadata as { name: string }).name));
}

/** Nodes of a full-Node request: inventory from the request, allocations from the ledger. */
function requestViews(ctx: ExtenderContext, args: ExtenderArgs): NodeViews | undefined {
  if (args.NodeNames) return undefined;
  const views = new Map<string, NodeLedger | null>();
  for (const item of args.Nodes?.items ?? []) {
    const inv = parseNodeInventory(item as NodeLike, ctx.state.config);
    const name = String((item.metadata as { name: string }).name);
    views.set(name, inv ? nodeWithInventory(ctx.state.ledger.nodes.get(name), inv) : null);
  }
  return views;
}

/** Filter: the reply is written as JSON directly (filter-reply.ts); handleFilter gives the wire object. */
export function filterReply(ctx: ExtenderContext, args: ExtenderArgs): FilterReply {
  const demand = ctx.state.demandOf(args.Pod);
  const names = namesOf(args);
  ctx.metrics.nodesEvaluated.inc({ verb: 'filter' }, names.length);
  const outcome = demand.managed ? ctx.pipeline.filter(demand, names, requestViews(ctx, args), demand.uid) : null;
  let reply: FilterReply;
  if (!outcome) reply = args.NodeNames ? FilterReply.all(names, null) : FilterReply.all(null, args.Nodes?.items ?? []);
  else if (args.NodeNames) reply = FilterReply.of(outcome, reasonText);
  else {
    const keep = new Set(outcome.passed);
    reply = FilterReply.of(outcome, reasonText, (args.Nodes?.items ?? []).filter((n) => keep.has(String((n.metadata as { name: string }).name))));
  }
  const passed = outcome ? outcome.passedCount : names.length;
  const failed = outcome ? outcome.failedCount : 0;
  if (outcome && failed > 0) {
    const byCode = new Map<string, number>();
    outcome.forEachFailed((_name, reasons) => byCode.set(reasons[0].code, (byCode.get(reasons[0].code) ?? 0) + 1));
    for (const [reason, n] of byCode) ctx.metrics.rejections.inc({ reason }, n);
  }
  ctx.metrics.filterResults.inc({ result: 'passed' }, passed);
  ctx.metrics.filterResults.inc({ result: 'failed' }, failed);
  // Refused everywhere: gpu-ledger's own preemption may start (never waiting on the API here).
  if (ctx.preemptor && outcome && passed === 0 && failed > 0) {
    try {
      const preempting = ctx.preemptor.onRefused(demand, outcome.failed);
      if (preempting) reply.error = preempting;
    } catch (err) {
      // Preemption is an extra: whatever goes wrong there, the filter answer stays the truthful one.
      ctx.logger.error({ err, pod: podLabel(demand), uid: demand.uid }, 'preemption failed to start');
    }
  }
  if (outcome && ctx.logger.isLevelEnabled('debug') && failed > 0) {
    ctx.logger.debug({ pod: podLabel(demand), uid: demand.uid, reasons: Object.fromEntries([...outcome.failed].map(([n, rs]) => [n, rs.map(detailText)])) }, 'filter reasons');
  }
  // Built only when logged: the filter runs once per pod and cycle.
  if (ctx.logger.isLevelEnabled('info')) ctx.logger.info({ verb: 'filter', pod: podLabel(demand), uid: demand.uid, managed: demand.managed, candidates: names.length, passed, failed, ...(reply.error ? { error: reply.error } : {}) }, 'filter');
  return reply;
}

export function handleFilter(ctx: ExtenderContext, args: ExtenderArgs): ExtenderFilterResult {
  return filterReply(ctx, args).toWire();
}

/** eventText per reason object: fit answers are memoised per node, so the same reasons recur. */
const reasonTexts = new WeakMap<Reason, string>();
function reasonText(r: Reason): string {
  let t = reasonTexts.get(r);
  if (t === undefined) {
    t = eventText(r);
    reasonTexts.set(r, t);
  }
  return t;
}

export function handlePrioritize(ctx: ExtenderContext, args: ExtenderArgs): PrioritizeReply {
  const demand = ctx.state.demandOf(args.Pod);
  const names = namesOf(args);
  ctx.metrics.nodesEvaluated.inc({ verb: 'prioritize' }, names.length);
  if (!demand.managed) return flatReply();
  const ranked = ctx.pipeline.rank(demand, names, requestViews(ctx, args), demand.uid || undefined);
  const reply = rankedReply(ctx, args, names, ranked);
  // Built only when logged (the best score is a pass over every candidate), as filter's line.
  if (ctx.logger.isLevelEnabled('info')) ctx.logger.info({ verb: 'prioritize', pod: podLabel(demand), uid: demand.uid, candidates: names.length, best: ranked.reduce((a, b) => Math.max(a, b.score), 0) }, 'prioritize');
  return reply;
}

/**
 * `prioritize-cpu`: a second extender entry without managedResources sends every pod here. Pods
 * without GPUs are scored by how little their CPU strands GPUs; GPU pods get a flat 0 (the main
 * entry scores them), so nothing is counted twice.
 */
export function handlePrioritizeCpu(ctx: ExtenderContext, args: ExtenderArgs): PrioritizeReply {
  const demand = ctx.state.demandOf(args.Pod);
  const names = namesOf(args);
  ctx.metrics.nodesEvaluated.inc({ verb: 'prioritize-cpu' }, names.length);
  if (demand.managed || demand.errors.length > 0) return flatReply();
  const reply = rankedReply(ctx, args, names, ctx.pipeline.rankCpu(demand, names, requestViews(ctx, args)));
  if (ctx.logger.isLevelEnabled('info')) ctx.logger.info({ verb: 'prioritize-cpu', pod: podLabel(demand), uid: demand.uid, candidates: names.length, cpuMilli: demand.cpuMilli }, 'prioritize-cpu');
  return reply;
}

/**
 * The reply for the request's names, `scoreOf(i)` the i-th name's score; the names' JSON literals
 * come from the ledger's nodes (NodeNames requests: the list the verb just resolved).
 */
function hostsReply(ctx: ExtenderContext, args: ExtenderArgs, names: readonly string[], scoreOf: (i: number) => number): PrioritizeReply {
  const nodes = args.NodeNames ? ctx.state.ledger.lookup(names) : null;
  const reply = new PrioritizeReply();
  for (let i = 0; i < names.length; i++) reply.add(names[i], scoreOf(i), nodes?.[i]?.jsonBytes ?? null);
  return reply;
}

/** The ranked rows (one per name, in request order: rankNodes, rankCpuPod) as the reply. */
function rankedReply(ctx: ExtenderContext, args: ExtenderArgs, names: readonly string[], ranked: readonly Ranked[]): PrioritizeReply {
  return hostsReply(ctx, args, names, (i) => ranked[i].score);
}

/** Every candidate scored 0 (pods the verb does not score): the empty list, which kube-scheduler reads as that. */
function flatReply(): PrioritizeReply {
  return new PrioritizeReply();
}

/** The assignment written onto the pod: GPUs in placement order, and what it holds per GPU. */
export function assignmentAnnotations(node: string, sequence: readonly number[], takes: readonly GpuTake[]): Record<string, string> {
  const ann: Record<string, string> = {
    [`${PREFIX}gpus`]: sequence.join(','),
    [`${PREFIX}node`]: node,
  };
  const mem = takes.filter((t) => t.memoryBytes > 0).map((t) => `${t.gpu}=${formatBytes(t.memoryBytes)}`);
  const thr = takes.filter((t) => t.threadMilli > 0).map((t) => `${t.gpu}=${formatMilli(t.threadMilli)}`);
  if (mem.length) ann[`${PREFIX}memory`] = mem.join(',');
  if (thr.length) ann[`${PREFIX}threads`] = thr.join(',');
  return ann;
}

export async function handleBind(ctx: ExtenderContext, args: ExtenderBindingArgs): Promise<{ Error: string }> {
  const { state } = ctx;
  const label = `${args.PodNamespace}/${args.PodName}`;
  const demand = state.lastDemandOf(args.PodUID);
  if (!demand) {
    ctx.metrics.binds.inc({ outcome: 'unknown-pod' });
    ctx.logger.warn({ verb: 'bind', pod: label, uid: args.PodUID, node: args.Node }, 'bind for a pod filter never saw');
    return { Error: `gpu-ledger: pod ${label} (${args.PodUID}) was not seen by filter; cannot choose GPUs` };
  }
  // Reserve synchronously, before any await: a filter running meanwhile must already see it.
  const r = ctx.pipeline.reserve(demand, args.Node);
  if (!r.ok) {
    ctx.metrics.binds.inc({ outcome: 'rejected' });
    // The event text without its own "gpu-ledger:" prefix: the message below carries one.
    const why = r.conflict ? `already placed on node ${r.conflict}` : r.reasons.length ? eventText(r.reasons[0]).replace(/^gpu-ledger: /, '') : 'no fit';
    ctx.logger.info({ verb: 'bind', pod: label, uid: args.PodUID, node: args.Node, outcome: 'rejected', why }, 'bind');
    return { Error: `gpu-ledger: cannot bind ${label} to ${args.Node}: ${why}` };
  }
  try {
    await ctx.binder.bind({
      podName: args.PodName,
      podNamespace: args.PodNamespace,
      podUid: args.PodUID,
      node: args.Node,
      gpus: r.sequence,
      annotations: assignmentAnnotations(args.Node, r.sequence, r.allocation.takes),
    });
    // Bound in the API: never let the TTL expire it, even if the watch is stalled (relists still settle it).
    state.ledger.confirm(args.PodUID);
  } catch (err) {
    if (err instanceof BindConflictError && err.boundTo === args.Node) {
      // A retried bind whose first attempt went through: the pod is where we put it.
      state.ledger.confirm(args.PodUID);
    } else if (err instanceof BindOutcomeUnknownError) {
      // The Binding may have been applied: keep the GPUs accounted, as bound, until the API server's
      // view settles it (the watch shows the pod there or deleted; a relist that does not list it
      // bound drops it). Releasing now could hand the same GPU out twice.
      state.ledger.confirm(args.PodUID);
      ctx.metrics.binds.inc({ outcome: 'unknown' });
      ctx.logger.warn({ verb: 'bind', pod: label, uid: args.PodUID, node: args.Node, err: err.message }, 'bind outcome unknown: GPUs kept until the API server shows the pod');
      return { Error: `gpu-ledger: binding ${label} to ${args.Node}: outcome unknown (${err.message}); its GPUs stay reserved until the API server shows the pod` };
    } else {
      state.release(args.PodUID);
      ctx.metrics.binds.inc({ outcome: 'error' });
      const msg = err instanceof Error ? err.message : String(err);
      ctx.logger.warn({ verb: 'bind', pod: label, uid: args.PodUID, node: args.Node, err: msg }, 'bind failed');
      return { Error: `gpu-ledger: binding ${label} to ${args.Node} failed: ${msg}` };
    }
  }
  ctx.metrics.binds.inc({ outcome: r.already ? 'repeat' : 'bound' });
  ctx.logger.info({ verb: 'bind', pod: label, uid: args.PodUID, node: args.Node, gpus: r.sequence, repeat: r.already }, 'bind');
  return { Error: '' };
}

/**
 * kube-scheduler proposes victims for its in-tree reasons (CPU, memory, device-plugin replicas) only.
 * Without --preemption: keep the candidate nodes where evicting them also frees enough GPU share.
 * With it: on each candidate, add the fewest strictly lower-priority pods the GPU needs besides them
 * (the same victim search as gpu-ledger's own preemption; kube-scheduler deletes whatever comes
 * back), and drop the node when even that cannot make room. Nothing while gpu-ledger's own
 * preemption for the pod is under way: one preemption per pod at a time.
 */
export function handlePreempt(ctx: ExtenderContext, args: ExtenderPreemptionArgs): { NodeNameToMetaVictims: Record<string, MetaVictims> } {
  const demand = ctx.state.demandOf(args.Pod);
  const out: Record<string, MetaVictims> = dict();
  const { chooser } = ctx.pipeline.placement();
  const own = ctx.preemptor?.inProgress(demand.uid) === true;
  let added = 0;
  for (const [name, victims] of Object.entries(args.NodeNameToMetaVictims)) {
    if (!demand.managed) {
      out[name] = victims;
      continue;
    }
    if (own) continue;
    const node = ctx.state.ledger.nodes.get(name);
    if (!node) continue;
    const proposed = new Set(victims.Pods.map((p) => p.UID));
    if (ctx.preemption) {
      const c = ctx.pipeline.preemptionOn(demand, name, proposed, { going: ctx.preemptor?.going });
      if (!c) continue;
      const extra = c.victims.filter((v) => !proposed.has(v.uid)).map((v) => ({ UID: v.uid }));
      added += extra.length;
      out[name] = extra.length > 0 ? { Pods: [...victims.Pods, ...extra], NumPDBViolations: victims.NumPDBViolations } : victims;
      continue;
    }
    // Would the pod fit once these victims are gone? Evaluated on a scratch copy.
    if (fit(demand, nodeWithout(node, proposed), { chooser }).fits) out[name] = victims;
  }
  ctx.logger.info(
    { verb: 'preempt', pod: podLabel(demand), uid: demand.uid, candidates: Object.keys(args.NodeNameToMetaVictims).length, kept: Object.keys(out).length, addedVictims: added, ownPreemption: own },
    'preempt',
  );
  return { NodeNameToMetaVictims: out };
}
