// Victim search for priority preemption on GPU shares: which strictly lower-priority pods must go
// so that a pod fits a node, and which node to pick. Pure: the ledger is read, never changed.
//
// It mirrors kube-scheduler's DefaultPreemption so users get what they know
// (pkg/scheduler/framework/plugins/defaultpreemption, SelectVictimsOnNode and
// pickOneNodeForPreemption), with gpu-ledger's fit in place of the in-tree filters:
//   per node — remove every lower-priority pod; if the pod still does not fit, the node cannot help;
//   else add them back ("reprieve") one by one, PodDisruptionBudget-violating pods first, each group
//   from the highest priority down (earlier start first): a pod whose return keeps the fit stays,
//   the others are the victims;
//   across nodes — fewest PDB violations, then the lowest highest-victim priority, then the lowest
//   sum of victim priorities, then the fewest victims, then the latest start among the
//   highest-priority victims (then the node name, for a stable answer).
// Every fit runs through fit() on nodeWithout(...) scratch nodes with the caller's GPU chooser (the
// pipeline's production one): no capacity rule lives here.
//
// Pods already on their way out (evicted by gpu-ledger, or terminating) are never chosen again: the
// search counts them as gone, and a candidate says it waits for them (two preemptors never evict the
// same pod). Nominations and reservations of other pods are never victims: they hold their share.

import type { GpuTake } from '../model/types.js';
import { fit, type FitResult, type GpuChooser } from '../gpu/place.js';
import type { FitShape } from '../gpu/shape.js';
import { nodeWithout, type NodeLedger, type PodAllocation } from '../state/ledger.js';
import type { BudgetView } from './budgets.js';

/** The pod that would preempt: what it asks for, who it is, its priority. */
export interface Preemptor extends FitShape {
  readonly uid: string;
  readonly priority: number;
  readonly preemptionPolicy: 'PreemptLowerPriority' | 'Never';
}

export interface SearchOptions {
  /** The GPU choice the server makes at bind (Pipeline.placement().chooser). */
  chooser: GpuChooser;
  /** PodDisruptionBudgets, for the order (the Eviction API enforces them anyway). Default: none. */
  budgets?: BudgetView;
  /** Pods on their way out: counted as gone, never chosen. Default: those with a deletionTimestamp. */
  going?: (a: PodAllocation) => boolean;
  /** Stop after this many candidate nodes (kube-scheduler stops after 10 % of the nodes, at least 100). */
  maxCandidates?: number;
}

export interface Candidate {
  node: string;
  /** In eviction order: pods covered by a PodDisruptionBudget first, so a refusal comes before any other eviction. */
  victims: PodAllocation[];
  pdbViolations: number;
  /** Pods already on their way out on this node whose share the preemptor counts on too. */
  waitsFor: PodAllocation[];
  /** Where the preemptor would be once they are all gone. */
  takes: GpuTake[];
  sequence: readonly number[];
}

export const DEFAULT_MAX_CANDIDATES = 100;

const terminating = (a: PodAllocation): boolean => a.terminating === true;

/** Whether the pod may preempt at all: `preemptionPolicy: Never` waits instead. */
export function mayPreempt(p: Preemptor): boolean {
  return p.preemptionPolicy !== 'Never';
}

/** `status.startTime` for ordering; a pod not started yet counts as starting now, i.e. latest (as kube-scheduler's GetPodStartTime). */
function started(a: PodAllocation): number {
  return a.startTime ?? Number.MAX_SAFE_INTEGER;
}

/** kube-scheduler's MoreImportantPod: higher priority first, then the earlier start. */
function moreImportant(a: PodAllocation, b: PodAllocation): number {
  return (b.priority ?? 0) - (a.priority ?? 0) || started(a) - started(b);
}

/** Lower-priority pods that could be evicted: running (bound), holding GPU share, not already going. */
function evictable(p: Preemptor, a: PodAllocation, going: (a: PodAllocation) => boolean): boolean {
  return a.state === 'bound' && !a.cpuOnly && a.uid !== p.uid && (a.priority ?? 0) < p.priority && !going(a);
}

/**
 * The victims on one node, or null when evicting every lower-priority pod there would not make the
 * pod fit. `forced`: pods that are victims whatever the GPU needs (the ones kube-scheduler proposed
 * for its own in-tree reasons, /preempt); they are removed first and never reprieved.
 */
export function victimsOn(p: Preemptor, node: NodeLedger, o: SearchOptions, forced: ReadonlySet<string> = new Set()): Candidate | null {
  const going = o.going ?? terminating;
  const gone = new Set<string>([p.uid]);
  const waitsFor: PodAllocation[] = [];
  const potential: PodAllocation[] = [];
  const forcedVictims: PodAllocation[] = [];
  for (const a of node.pods.values()) {
    if (forced.has(a.uid)) {
      forcedVictims.push(a);
      gone.add(a.uid);
    } else if (a.uid === p.uid) continue;
    else if (a.state === 'bound' && going(a)) {
      waitsFor.push(a);
      gone.add(a.uid);
    } else if (evictable(p, a, going)) potential.push(a);
  }
  // kube-scheduler's "No preemption victims found": nothing to try (and no fit to compute, which keeps
  // a search over a large cluster of equal-priority pods cheap).
  if (potential.length === 0 && waitsFor.length === 0 && forcedVictims.length === 0) return null;
  const fitsWithout = (removed: ReadonlySet<string>): FitResult => fit(p, nodeWithout(node, removed), { chooser: o.chooser });
  const removed = new Set<string>([...gone, ...potential.map((a) => a.uid)]);
  if (!fitsWithout(removed).fits) return null;

  potential.sort(moreImportant);
  const { violating, nonViolating } = splitByBudget(potential, o.budgets);
  const victims: PodAllocation[] = [...forcedVictims];
  let pdbViolations = 0;
  const reprieve = (a: PodAllocation): boolean => {
    removed.delete(a.uid);
    if (fitsWithout(removed).fits) return true;
    removed.add(a.uid);
    victims.push(a);
    return false;
  };
  for (const a of violating) if (!reprieve(a)) pdbViolations++;
  for (const a of nonViolating) reprieve(a);

  const final = fitsWithout(removed);
  if (!final.fits) return null;
  const covered = (a: PodAllocation) => (o.budgets?.of(a.uid).length ?? 0) > 0;
  // Stable: within each group the reprieve order (PDB-violating first, then priority) is kept.
  const ordered = [...victims.filter(covered), ...victims.filter((a) => !covered(a))];
  return { node: node.name, victims: ordered, pdbViolations, waitsFor, takes: final.takes, sequence: final.sequence };
}

/**
 * kube-scheduler's filterPodsWithPDBViolation, per node: each budget's allowed disruptions are
 * decremented by every pod it covers (in priority order) that the API server does not already count
 * as disrupted; a pod that takes a budget below zero violates it.
 */
function splitByBudget(pods: readonly PodAllocation[], budgets: BudgetView | undefined): { violating: PodAllocation[]; nonViolating: PodAllocation[] } {
  if (!budgets || budgets.budgets.length === 0) return { violating: [], nonViolating: [...pods] };
  const allowed = budgets.budgets.map((b) => b.allowed);
  const violating: PodAllocation[] = [];
  const nonViolating: PodAllocation[] = [];
  for (const a of pods) {
    let violates = false;
    for (const i of budgets.of(a.uid)) {
      const b = budgets.budgets[i];
      if (b.namespace !== a.namespace || b.disrupted.has(a.name)) continue;
      allowed[i]--;
      if (allowed[i] < 0) violates = true;
    }
    (violates ? violating : nonViolating).push(a);
  }
  return { violating, nonViolating };
}

/** kube-scheduler's pickOneNodeForPreemption as a comparator: the better candidate first. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  // A node where nothing needs evicting (only pods already going) wins outright.
  const noneA = a.victims.length === 0;
  const noneB = b.victims.length === 0;
  if (noneA !== noneB) return noneA ? -1 : 1;
  if (a.pdbViolations !== b.pdbViolations) return a.pdbViolations - b.pdbViolations;
  const highest = (c: Candidate) => Math.max(...c.victims.map((v) => v.priority ?? 0));
  const ha = noneA ? 0 : highest(a);
  const hb = noneB ? 0 : highest(b);
  if (ha !== hb) return ha - hb;
  // Each victim counts its priority plus 2^31, so that more victims always weigh more (as upstream).
  const sum = (c: Candidate) => c.victims.reduce((s, v) => s + (v.priority ?? 0) + 2 ** 31, 0);
  if (sum(a) !== sum(b)) return sum(a) - sum(b);
  if (a.victims.length !== b.victims.length) return a.victims.length - b.victims.length;
  const earliestOfHighest = (c: Candidate, h: number) => Math.min(...c.victims.filter((v) => (v.priority ?? 0) === h).map(started));
  const sa = noneA ? 0 : earliestOfHighest(a, ha);
  const sb = noneB ? 0 : earliestOfHighest(b, hb);
  if (sa !== sb) return sb - sa;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/**
 * Candidate nodes for a pod that fits none of `nodes` as they are, best first (kube-scheduler's
 * order). Empty when the pod may not preempt or no eviction of lower-priority pods would help.
 */
export function findCandidates(p: Preemptor, nodes: Iterable<NodeLedger>, o: SearchOptions): Candidate[] {
  if (!mayPreempt(p)) return [];
  const max = o.maxCandidates ?? DEFAULT_MAX_CANDIDATES;
  const out: Candidate[] = [];
  for (const node of nodes) {
    const c = victimsOn(p, node, o);
    if (c) out.push(c);
    if (out.length >= max) break;
  }
  return out.sort(compareCandidates);
}
