// gpu-ledger's own priority preemption for GPU shares (serve --preemption). kube-scheduler's
// preemption dry run runs only its in-tree filters: it never sees GPU memory, threads or
// exclusivity, proposes no victims for a GPU-share shortage and never asks the extender. So when
// filter refuses a pod on every candidate for reasons evicting pods could fix, this coordinator:
//
//   1. decides at once (synchronously, no API call) whether evicting strictly lower-priority pods
//      would make room anywhere — the victim search of src/preempt through the Pipeline, as explain
//      runs it; if not, filter answers as usual;
//   2. otherwise starts an attempt in the background and filter answers with an Error saying so:
//      kube-scheduler then retries the pod with its short backoff (an "unresolvable" answer would
//      park it in the unschedulable pool, whose requeue on the victims' deletion races with
//      gpu-ledger's own watch of that deletion);
//   3. the attempt reads the PodDisruptionBudgets, decides again on the ledger as it is then, records
//      a nomination (the preemptor's share, held against every other pod; the victims keep theirs
//      until they are really gone) and evicts the victims through the Eviction API — budget-covered
//      pods first, so a 429 comes before any other eviction and moves to the next candidate node;
//   4. says so: an Event on each victim and on the preemptor, a log line, metrics.
//
// Brakes, so that no storm can start: at most `maxEvictionsInFlight` victims evicted and not yet
// gone, a cool-down per node after evictions there, a back-off per preemptor after an attempt found
// nothing or failed, and a TTL on every nomination. Victims being evicted (or terminating) are never
// chosen again: two preemptors racing for one node do not evict the same pod twice.

import type { Logger } from 'pino';
import type { PodDemand, Reason } from '../model/types.js';
import type { PreemptionApi, PreemptionEvent } from '../preempt/api.js';
import { NO_BUDGETS, type BudgetView } from '../preempt/budgets.js';
import { freesText, podList, podName } from '../preempt/text.js';
import { mayPreempt, type Candidate } from '../preempt/victims.js';
import type { Pipeline } from '../prioritize/pipeline.js';
import type { PodAllocation } from '../state/ledger.js';
import type { Metrics } from './metrics.js';

export interface PreemptionSettings {
  /** How long a nomination holds the preemptor's share (until it binds), ms. */
  nominationTtlMs: number;
  /** Victims evicted by gpu-ledger and not yet gone, at most. */
  maxEvictionsInFlight: number;
  /** After evictions on a node, no new ones there for this long; also a preemptor's back-off after a failed attempt, ms. */
  cooldownMs: number;
}

export const DEFAULT_PREEMPTION: PreemptionSettings = { nominationTtlMs: 120_000, maxEvictionsInFlight: 10, cooldownMs: 5_000 };

/** Candidate nodes tried per attempt (each after the previous one's eviction was refused). */
const MAX_ROUNDS = 3;

type Attempt =
  | { phase: 'running' }
  | { phase: 'waiting'; node: string; waitFor: string[] }
  | { phase: 'deferred'; until: number; why: string }
  | { phase: 'backoff'; until: number };

export interface PreemptorDeps {
  pipeline: Pipeline;
  api: PreemptionApi;
  metrics: Metrics;
  logger: Logger;
  settings: PreemptionSettings;
  /** Is the ledger in sync with the API server? An attempt never evicts on a ledger that may miss pods. */
  inSync?: () => boolean;
  now?: () => number;
}

export class Preemptor {
  private readonly attempts = new Map<string, Attempt>();
  /** Victims gpu-ledger evicted (or is evicting) that have not left the ledger yet. */
  private readonly goingSet = new Map<string, { node: string; until: number }>();
  private readonly cooldown = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly d: PreemptorDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Pods on their way out: evicted by gpu-ledger, or terminating. The victim search counts them as gone. */
  readonly going = (a: PodAllocation): boolean => a.terminating === true || this.goingSet.has(a.uid);

  /** A preemption for this pod is running or waiting for its victims (/preempt then proposes nothing of its own). */
  inProgress(uid: string): boolean {
    const a = this.attempts.get(uid);
    return a !== undefined && a.phase !== 'backoff';
  }

  /** Resolves when every attempt started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /**
   * Filter's hook for a pod refused on every candidate: the Error text for kube-scheduler while a
   * preemption for it is starting, running or waiting for its victims; null to answer as usual.
   */
  onRefused(demand: PodDemand, failed: ReadonlyMap<string, readonly Reason[]>): string | null {
    if (!demand.uid || !mayPreempt(demand) || demand.errors.length > 0) return null;
    this.sweep();
    const state = this.d.pipeline.state;
    const a = this.attempts.get(demand.uid);
    if (a) {
      if (a.phase === 'running') return 'gpu-ledger: preempting lower-priority pods to make room for this pod; retrying';
      if (a.phase === 'deferred' && this.now() < a.until) return `gpu-ledger: preemption for this pod deferred (${a.why}); retrying`;
      if (a.phase === 'backoff' && this.now() < a.until) return null;
      if (a.phase === 'waiting') {
        if (this.d.pipeline.nominatedNode(demand.uid) === a.node) {
          const left = a.waitFor.map((uid) => state.ledger.pods.get(uid)).filter((x): x is PodAllocation => x !== undefined);
          if (left.length > 0) return `gpu-ledger: preempted for this pod on ${a.node}: waiting for ${podList(left)} to terminate`;
          // Everything it waited for is gone and it still does not fit there: start over.
          state.dropNomination(demand.uid);
        }
      }
      this.attempts.delete(demand.uid);
    }
    const names = [...failed].filter(([, rs]) => rs.length > 0 && rs.every((r) => r.resolvable)).map(([n]) => n);
    if (names.length === 0) return null;
    const candidates = this.d.pipeline.preemption(demand, names, { going: this.going });
    if (candidates.length === 0) {
      this.attempts.set(demand.uid, { phase: 'backoff', until: this.now() + this.d.settings.cooldownMs });
      return null;
    }
    this.attempts.set(demand.uid, { phase: 'running' });
    const p = this.attempt(demand, names, candidates).catch((err: unknown) => {
      this.d.logger.error({ err, pod: podName(demand), uid: demand.uid }, 'preemption failed');
      this.finish(demand, 'failed');
    });
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return 'gpu-ledger: preempting lower-priority pods to make room for this pod; retrying';
  }

  /** One attempt: budgets, then up to MAX_ROUNDS candidate nodes, each decided on the ledger as it is then. */
  private async attempt(demand: PodDemand, names: readonly string[], first: readonly Candidate[]): Promise<void> {
    const { pipeline, api, logger, settings } = this.d;
    const state = pipeline.state;
    let budgets: BudgetView = NO_BUDGETS;
    const namespaces = [...new Set(first.flatMap((c) => c.victims.map((v) => v.namespace)))];
    try {
      budgets = await api.budgets(namespaces);
    } catch (err) {
      // The Eviction API enforces the budgets anyway; without them only the order is less informed.
      logger.warn({ pod: podName(demand), err: err instanceof Error ? err.message : String(err) }, 'preemption: PodDisruptionBudgets not readable; choosing victims without them');
    }
    const tried = new Set<string>();
    let blocked: { victim: PodAllocation; node: string; message: string } | null = null;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // Placed meanwhile (bound elsewhere, or a bind in flight): nothing to do.
      if (state.ledger.pods.has(demand.uid)) return this.finish(demand, null);
      if (this.d.inSync && !this.d.inSync()) return this.defer(demand, 'ledger not in sync with the API server');
      const all = pipeline.preemption(demand, names.filter((n) => !tried.has(n)), { going: this.going, budgets });
      const now = this.now();
      const open = all.filter((c) => c.victims.length === 0 || (this.cooldown.get(c.node) ?? 0) <= now);
      const c = open[0];
      if (!c) {
        if (blocked) return this.blocked(demand, blocked);
        if (all.length > 0) return this.defer(demand, `evictions on ${all[0].node} moments ago: cool-down`);
        return this.finish(demand, 'none');
      }
      if (c.victims.length > 0 && this.inFlight() + c.victims.length > settings.maxEvictionsInFlight) {
        return this.defer(demand, `${this.inFlight()} evictions in flight, at most ${settings.maxEvictionsInFlight}`);
      }
      // Decided and recorded in one synchronous step: the next decision (any pod's) sees both.
      state.nominate(demand, c.node, c.takes, c.sequence, settings.nominationTtlMs);
      for (const v of c.victims) this.goingSet.set(v.uid, { node: c.node, until: now + settings.nominationTtlMs });
      if (c.victims.length > 0) this.cooldown.set(c.node, now + settings.cooldownMs);
      const failure = await this.evictAll(c);
      if (!failure) return this.succeeded(demand, c);
      state.dropNomination(demand.uid);
      if (failure.outcome === 'blocked') {
        blocked = { victim: failure.victim, node: c.node, message: failure.message };
        tried.add(c.node);
        logger.info({ pod: podName(demand), uid: demand.uid, node: c.node, victim: podName(failure.victim), why: failure.message }, 'preemption: eviction refused; trying the next candidate');
        continue;
      }
      logger.warn({ pod: podName(demand), uid: demand.uid, node: c.node, victim: podName(failure.victim), err: failure.message }, 'preemption: eviction failed');
      return this.finish(demand, 'failed');
    }
    if (blocked) return this.blocked(demand, blocked);
    return this.finish(demand, 'none');
  }

  /** Evicts in order; stops at the first refusal or error (victims not evicted are released). */
  private async evictAll(c: Candidate): Promise<{ outcome: 'blocked' | 'error'; victim: PodAllocation; message: string } | null> {
    for (let i = 0; i < c.victims.length; i++) {
      const v = c.victims[i];
      const r = await this.d.api.evict(v);
      this.d.metrics.preemptionVictims.inc({ outcome: r.outcome });
      if (r.outcome === 'evicted' || r.outcome === 'gone') continue;
      // This one stays "going" only if its eviction may have been applied; the rest were never asked.
      if (r.outcome === 'blocked' || r.applied === 'no') this.goingSet.delete(v.uid);
      for (const rest of c.victims.slice(i + 1)) this.goingSet.delete(rest.uid);
      return { outcome: r.outcome, victim: v, message: r.message };
    }
    return null;
  }

  private succeeded(demand: PodDemand, c: Candidate): void {
    const who = podName(demand);
    const frees = freesText(c.node, c.victims);
    const waitFor = [...c.victims, ...c.waitsFor];
    this.attempts.set(demand.uid, { phase: 'waiting', node: c.node, waitFor: waitFor.map((a) => a.uid) });
    const outcome = c.victims.length > 0 ? 'preempted' : 'nominated';
    this.d.metrics.preemptions.inc({ outcome });
    this.d.logger.info(
      { pod: who, uid: demand.uid, priority: demand.priority, node: c.node, victims: c.victims.map(podName), waitsFor: c.waitsFor.map(podName), frees, pdbViolations: c.pdbViolations, outcome },
      `preemption: ${c.victims.length} pod(s) evicted on ${c.node} for ${who}`,
    );
    for (const v of c.victims) this.event({ pod: v, type: 'Normal', reason: 'Preempted', message: `preempted by gpu-ledger for ${who}: frees ${freesText(c.node, [v])}` });
    const also = c.waitsFor.length > 0 ? `; waits for ${podList(c.waitsFor)} to terminate` : '';
    this.event({
      pod: demand,
      type: 'Normal',
      reason: c.victims.length > 0 ? 'Preempting' : 'Nominated',
      message:
        c.victims.length > 0
          ? `gpu-ledger preempts ${c.victims.length} pod(s) on ${c.node} for this pod: ${podList(c.victims)}; frees ${frees}${also}`
          : `gpu-ledger holds a share on ${c.node} for this pod until ${podList(c.waitsFor)} are gone`,
    });
  }

  private blocked(demand: PodDemand, b: { victim: PodAllocation; node: string; message: string }): void {
    this.finish(demand, 'blocked');
    this.event({ pod: demand, type: 'Warning', reason: 'PreemptionBlocked', message: `gpu-ledger cannot preempt for this pod: evicting ${podName(b.victim)} on ${b.node} was refused (${b.message})` });
  }

  private defer(demand: PodDemand, why: string): void {
    this.d.metrics.preemptions.inc({ outcome: 'deferred' });
    this.d.logger.info({ pod: podName(demand), uid: demand.uid, why }, 'preemption deferred');
    this.attempts.set(demand.uid, { phase: 'deferred', until: this.now() + this.d.settings.cooldownMs, why });
  }

  /** An attempt that nominated nothing: back off (filter answers as usual meanwhile). */
  private finish(demand: PodDemand, outcome: 'blocked' | 'failed' | 'none' | null): void {
    if (outcome === null) {
      this.attempts.delete(demand.uid);
      return;
    }
    if (outcome !== 'none') this.d.metrics.preemptions.inc({ outcome });
    this.attempts.set(demand.uid, { phase: 'backoff', until: this.now() + this.d.settings.cooldownMs });
  }

  private event(e: PreemptionEvent): void {
    const p = this.d.api.event(e).catch((err: unknown) => this.d.logger.warn({ pod: podName(e.pod), reason: e.reason, err: err instanceof Error ? err.message : String(err) }, 'preemption: event not recorded'));
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Victims evicted by gpu-ledger that are still in the ledger. */
  private inFlight(): number {
    let n = 0;
    for (const uid of this.goingSet.keys()) if (this.d.pipeline.state.ledger.pods.has(uid)) n++;
    return n;
  }

  /** Forgets what is over: victims gone (or past the TTL), cool-downs and back-offs that ended, nominations that went. */
  private sweep(): void {
    const now = this.now();
    const pods = this.d.pipeline.state.ledger.pods;
    for (const [uid, g] of this.goingSet) if (!pods.has(uid) || g.until <= now) this.goingSet.delete(uid);
    for (const [node, until] of this.cooldown) if (until <= now) this.cooldown.delete(node);
    for (const [uid, a] of this.attempts) {
      if ((a.phase === 'backoff' || a.phase === 'deferred') && a.until <= now) this.attempts.delete(uid);
      else if (a.phase === 'waiting' && pods.get(uid)?.state !== 'nominated') this.attempts.delete(uid);
    }
  }
}
