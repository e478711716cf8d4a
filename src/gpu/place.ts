// Which GPU(s) a pod's clients get on a node, and what the pod then takes on each. Two entry
// points share the placement and the per-mode charges:
//   fit()     — decide: the pod must fit every limit, or the reasons it does not (filter,
//               prioritize, bind, preemption, explain, the replay);
//   account() — record: a pod that already runs is somewhere; its takes are placed where it was
//               recorded (or where the placement policy would put it) and capped at what the GPU
//               has, so a pod that bypassed the scheduler can overcommit a node but never poison
//               the ledger.
// GPU choice per replica follows the node's placement policy: the NVIDIA device plugin's
// `distributed` / `packed` (the kubelet picks, so gpu-ledger predicts), or `extender` (gpu-ledger
// picks, through the chooser the caller passes: the production one lives in prioritize/).

import type { GpuClient, GpuTake, NodeInventory, Reason } from '../model/types.js';
import { MAX_PODS_PER_GPU } from '../model/limits.js';
import { sameKind, type GpuKind } from './kind.js';
import type { ModeRules, Note, OnGpu, PodTake } from './mode.js';
import { rulesFor } from './modes.js';
import { NO_GPU, reasons } from './reason.js';
import { checkRequests, onlyOneReplicaRequest, profileFor, replicasAreMigDevices } from './resources.js';
import { planOf, type FitShape } from './shape.js';
import { gpuExclusive, gpuPods, gpuReplicas, podsOnGpu, usageOf, type GpuNode } from './usage.js';

/** Picks one GPU among candidates (each has room for one more replica/instance of this client). */
export type GpuChooser = (node: GpuNode, candidates: readonly number[], shape: FitShape, client: GpuClient) => number;

/**
 * `sequence`: the GPU of every replica/instance in placement order — what bind records in the
 * `gpu-ledger.io/gpus` annotation so the same placement is rebuilt after a restart.
 */
export type FitResult = { fits: true; takes: GpuTake[]; sequence: readonly number[]; notes: readonly Note[] } | { fits: false; reasons: Reason[] };

export interface FitOptions {
  chooser: GpuChooser;
  /** GPUs recorded for the pod (annotation `gpu-ledger.io/gpus`), one per replica/instance in placement order. */
  pinned?: readonly number[] | null;
}

/** The tightest GPU (least free capacity left), lowest index on ties: the default for `extender` placement. */
export const bestFitChooser: GpuChooser = (node, candidates) => {
  const rules = rulesFor(node.inventory);
  let best = candidates[0];
  let bestFree = Infinity;
  for (const i of candidates) {
    const f = rules.free(node.inventory, i, node.gpus[i]).fraction;
    if (f < bestFree) {
      best = i;
      bestFree = f;
    }
  }
  return best;
};

const NO_ON: readonly OnGpu[] = Object.freeze([]);

/** The sequences of a pod with one replica on GPU i (frozen: shared by every answer that places one there). */
const ONE_GPU: readonly (readonly number[])[] = Array.from({ length: 64 }, (_, g) => Object.freeze([g]));

/**
 * The pod's placement while it is being built: per GPU (indexed by GPU; fit runs once per candidate
 * node, so no Maps), its clients' replicas and its MIG instances. One draft is reused from fit to
 * fit (see `acquire`): its arrays only grow, and only the first `gpuCount` entries are read.
 */
class Draft {
  /**
   * Per GPU, the clients' replicas there: the arrays are kept from fit to fit (emptying one would
   * free its storage, and the next push reserve room for 17), `onCount` says how many entries are
   * this pod's; read them through onGpu().
   */
  private on: OnGpu[][] = [];
  private onCount: number[] = [];
  /** OnGpu records handed out since reset (reused from fit to fit: nothing outside one fit keeps them). */
  private records: OnGpu[] = [];
  private recordsUsed = 0;
  /** MIG instances per GPU, allocated on the first one. */
  mig: (Map<string, number> | undefined)[] | null = null;
  replicas: number[] = [];
  /** Scratch of placeClient, one client at a time: GPU → that client's replicas/tokens. */
  mine: number[] = [];
  private order: number[] = [];
  private placed = 0;
  private next = 0;
  private pinned: readonly number[] | null = null;
  gpuCount = 0;

  /** Starts a pod on a node with `gpuCount` GPUs (`pinned`: its recorded GPUs, if any). */
  reset(pinned: readonly number[] | null, gpuCount: number): this {
    this.pinned = pinned;
    this.gpuCount = gpuCount;
    this.mig = null;
    this.placed = 0;
    this.next = 0;
    this.recordsUsed = 0;
    for (let i = 0; i < gpuCount; i++) {
      this.onCount[i] = 0;
      this.replicas[i] = 0;
    }
    return this;
  }

  /** Clears the per-client scratch (`mine`) for the next client. */
  startClient(): number[] {
    for (let i = 0; i < this.gpuCount; i++) this.mine[i] = 0;
    return this.mine;
  }

  /** Records that `client` has `replicas` on `gpu`, seeing it as device `ordinal` of `visible`. */
  addOn(gpu: number, client: GpuClient, replicas: number, ordinal: number, visible: number): void {
    let o = this.records[this.recordsUsed];
    if (o === undefined) this.records[this.recordsUsed] = o = { container: client.container, client, replicas, ordinal, visible };
    else {
      o.container = client.container;
      o.client = client;
      o.replicas = replicas;
      o.ordinal = ordinal;
      o.visible = visible;
    }
    this.recordsUsed++;
    const list = (this.on[gpu] ??= []);
    const n = ++this.onCount[gpu];
    list[n - 1] = o;
    if (list.length !== n) list.length = n;
  }

  /** This pod's clients on `gpu` (shared empty array when none). */
  onGpu(gpu: number): readonly OnGpu[] {
    return this.onCount[gpu] > 0 ? this.on[gpu] : NO_ON;
  }

  replicasOn(gpu: number): number {
    return this.replicas[gpu];
  }

  migOn(gpu: number, profile: string): number {
    return this.mig?.[gpu]?.get(profile) ?? 0;
  }

  migAt(gpu: number): Map<string, number> | null {
    return this.mig?.[gpu] ?? null;
  }

  /** The next recorded GPU, or null when not pinned, the record ran out, or it names no GPU here. */
  pinnedGpu(gpuCount: number): number | null {
    if (!this.pinned || this.next >= this.pinned.length) return null;
    const g = this.pinned[this.next++];
    return g >= 0 && g < gpuCount ? g : null;
  }

  /** Records where the next replica or instance went. */
  placedOn(gpu: number): void {
    this.order[this.placed++] = gpu;
  }

  addMig(gpu: number, profile: string): void {
    const all = (this.mig ??= new Array<Map<string, number> | undefined>(this.gpuCount));
    let m = all[gpu];
    if (!m) all[gpu] = m = new Map();
    m.set(profile, (m.get(profile) ?? 0) + 1);
    this.placedOn(gpu);
  }

  /** Does the pod have anything on this GPU (a client's replicas or a MIG instance)? */
  uses(gpu: number): boolean {
    return this.onCount[gpu] > 0 || this.migAt(gpu) !== null;
  }

  /** GPUs the pod uses. */
  usedGpus(): number {
    let n = 0;
    for (let gpu = 0; gpu < this.gpuCount; gpu++) if (this.uses(gpu)) n++;
    return n;
  }

  /**
   * The GPU of every replica/instance in placement order (fewer than asked only when accounting a
   * capped pod): a copy, or for one replica a shared frozen one (most pods: a fit answer per node
   * keeps it, and the filter makes thousands).
   */
  sequence(): readonly number[] {
    if (this.placed === 1 && this.order[0] < ONE_GPU.length) return ONE_GPU[this.order[0]];
    return this.order.slice(0, this.placed);
  }
}

/**
 * The spare draft: fit and account are synchronous, so one draft serves every call; a call made
 * while it is out (a chooser that itself places pods) gets a fresh one.
 */
let spare: Draft | null = new Draft();
function acquire(pinned: readonly number[] | null, gpuCount: number): Draft {
  const d = spare ?? new Draft();
  spare = null;
  return d.reset(pinned, gpuCount);
}
function release(d: Draft): void {
  // The client objects the draft points at are the last pod's; they are dropped on the next reset.
  spare = d;
}

/** The last take computed per GPU of a kind: whose it was (shape, client — its container with it —, its replicas there and how it sees the GPU) and what it was. */
interface TakeMemo {
  kind: GpuKind;
  shape: FitShape;
  client: GpuClient;
  replicas: number;
  ordinal: number;
  visible: number;
  take: PodTake;
}

/**
 * The last take per GPU list (NodeInventory.gpus, shared by nodes built alike) and GPU: a filter
 * asks about thousands of nodes of a few kinds with one pod, and a pod with one client on a GPU
 * takes the same there on every node of the same kind (./kind.ts) — computed once per kind and GPU
 * instead of once per node, and one object shared by every answer. Takes with MIG instances or
 * several clients on the GPU are computed each time. Takes are never changed after they are made.
 * Bounded: cleared past 256 GPU lists.
 */
const lastTakes = new Map<GpuKind['gpus'], (TakeMemo | undefined)[]>();

/** The take of `client` alone on GPU `gpu` of the kind (`replicas` there, seen as device `ordinal` of `visible`), computed or as last computed. */
function clientTake(rules: ModeRules, kind: GpuKind, shape: FitShape, gpu: number, client: GpuClient, replicas: number, ordinal: number, visible: number): PodTake {
  let byGpu = lastTakes.get(kind.gpus);
  if (byGpu === undefined) {
    if (lastTakes.size >= 256) lastTakes.clear();
    lastTakes.set(kind.gpus, (byGpu = []));
  }
  const m = byGpu[gpu];
  if (m !== undefined && m.shape === shape && m.client === client && m.replicas === replicas && m.ordinal === ordinal && m.visible === visible && sameKind(m.kind, kind)) {
    return m.take;
  }
  const take = rules.take(kind, shape, gpu, [{ container: client.container, client, replicas, ordinal, visible }], null);
  if (gpu < 64) byGpu[gpu] = { kind, shape, client, replicas, ordinal, visible, take };
  return take;
}

/** The pod's take on one GPU (its clients there, `on`, or its MIG instances): one client's from the memo above. Every take fit, account and the replica check compute comes through here. */
function takeOn(rules: ModeRules, kind: GpuKind, shape: FitShape, gpu: number, on: readonly OnGpu[], mig: ReadonlyMap<string, number> | null): PodTake {
  if (mig !== null || on.length !== 1) return rules.take(kind, shape, gpu, on, mig);
  const o = on[0];
  return clientTake(rules, kind, shape, gpu, o.client, o.replicas, o.ordinal, o.visible);
}

/**
 * How replicas are picked: `strict`, under every limit (decide), or wherever the pod must be
 * (record); `chooser` picks among GPUs where the node's policy leaves the choice to gpu-ledger.
 */
interface Picker {
  readonly strict: boolean;
  readonly chooser: GpuChooser;
}

/** The record path's picker (account): one object, not one per call. */
const RECORD: Picker = { strict: false, chooser: bestFitChooser };

function refuse(...rs: Reason[]): FitResult {
  return { fits: false, reasons: rs };
}

/**
 * The refusal with these reasons: the last one made, when it has the one same reason (a reason
 * that does not depend on the node — reason.ts shares those — is given to many nodes; their
 * answer is one object), else a new one. Refusals are never changed once made.
 */
let lastRefusal: FitResult & { fits: false } = { fits: false, reasons: [] };
function refusal(rs: Reason[]): FitResult {
  if (rs.length === 1 && lastRefusal.reasons.length === 1 && lastRefusal.reasons[0] === rs[0]) return lastRefusal;
  const r = { fits: false as const, reasons: rs };
  if (rs.length === 1) lastRefusal = r;
  return r;
}

/** Decides whether the pod fits the node, and with which takes. Pure: the node is not changed. */
export function fit(shape: FitShape, node: GpuNode, options: FitOptions): FitResult {
  const inv = node.inventory;
  if (shape.errors.length > 0) return refusal([reasons.invalidPod(shape.errors[0])]);
  if (inv.problems.length > 0) return refuse(...inv.problems.map(reasons.nodeProblem));
  if (inv.gpus.length === 0) return refuse(NO_GPU);
  for (let i = 0; i < node.gpus.length; i++) {
    if (gpuPods(node, i) >= MAX_PODS_PER_GPU) return refuse(reasons.nodeSaturated(i, gpuPods(node, i), MAX_PODS_PER_GPU));
  }
  const plan = planOf(shape);
  const one = plan.oneReplica;
  const planned = one !== null && options.pinned == null && inv.placement !== 'extender' && inv.gpus.length <= ONE_GPU.length && !replicasAreMigDevices(inv);
  // The resource check passes exactly when the pick finds a GPU (onlyOneReplicaRequest): it then runs only for its reasons.
  if (planned && onlyOneReplicaRequest(inv, plan)) return fitOneReplica(shape, one, node, false);
  const requestReasons = checkRequests(node, shape);
  if (requestReasons !== null) return refusal(requestReasons);
  if (planned) return fitOneReplica(shape, one, node, true);

  const draft = acquire(options.pinned ?? null, inv.gpus.length);
  try {
    return place(shape, node, draft, strictPicker(options.chooser));
  } finally {
    release(draft);
  }
}

/** fit() after the node-level checks: the clients placed into the draft, then each used GPU's take admitted. */
function place(shape: FitShape, node: GpuNode, draft: Draft, picker: Picker): FitResult {
  const inv = node.inventory;
  for (const client of shape.clients) {
    const failure = placeClient(shape, client, node, draft, picker);
    if (failure) return refuse(failure);
  }
  const rules = rulesFor(inv);
  const takes = new Array<GpuTake>(draft.usedGpus());
  let k = 0;
  let notes = rules.podNotes(inv, shape);
  let capacityReasons: Reason[] | null = null;
  for (let gpu = 0; gpu < draft.gpuCount; gpu++) {
    if (!draft.uses(gpu)) continue;
    const t = takeOn(rules, inv, shape, gpu, draft.onGpu(gpu), draft.migAt(gpu));
    if (t.refusal) return refuse(t.refusal);
    notes = withNotes(notes, t);
    takes[k++] = t.take;
    const admitted = rules.admit(node, t.take, node.gpus[gpu]);
    if (admitted.length > 0) (capacityReasons ??= []).push(...admitted);
  }
  if (capacityReasons !== null) return { fits: false, reasons: capacityReasons };
  return shared(inv, takes, draft.sequence(), notes);
}

/** The notes so far and a take's: the pod notes are often a shared constant, copied only when a take adds its own (take's notes are its own array: shared as they are when they are the only ones). */
function withNotes(notes: readonly Note[], t: PodTake): readonly Note[] {
  return t.notes.length === 0 ? notes : notes.length === 0 ? t.notes : notes.concat(t.notes);
}

/**
 * A one-replica pod (FitPlan.oneReplica) on a node whose device plugin picks the GPU: everything
 * place() would compute that depends only on the pod and the node's kind, per GPU — the take of
 * the replica there (seen as device 0 of 1), and the answer when that GPU is picked and admits it
 * (the refusal, or the fitting answer with its notes). Computed on first use per GPU, with the
 * mode's take and podNotes rules (both read only the kind), and shared by every node of the kind:
 * what is left per node is the node-level checks, the device plugin's pick and admit.
 */
interface OneReplicaPlan {
  readonly kind: GpuKind;
  readonly shape: FitShape;
  readonly takes: (PodTake | undefined)[];
  readonly answers: (FitResult | undefined)[];
}

/** The plan per GPU list (NodeInventory.gpus, shared by nodes built alike), for the last shape asked about there. Bounded: cleared past 256 GPU lists. */
const plans = new Map<GpuKind['gpus'], OneReplicaPlan>();

function planFor(shape: FitShape, kind: GpuKind): OneReplicaPlan {
  const p = plans.get(kind.gpus);
  if (p !== undefined && p.shape === shape && sameKind(p.kind, kind)) return p;
  if (p === undefined && plans.size >= 256) plans.clear();
  const fresh: OneReplicaPlan = { kind, shape, takes: [], answers: [] };
  plans.set(kind.gpus, fresh);
  return fresh;
}

/** The empty draft the one-replica path picks with: nothing of the pod is placed yet (never written). */
const NOTHING_PLACED = new Draft().reset(null, ONE_GPU.length);

/** fit() of a one-replica pod after the node-level checks (the resource check, unless `requestsChecked` is false: fit's note above), what place() decides for it, from the kind's plan. */
function fitOneReplica(shape: FitShape, client: GpuClient, node: GpuNode, requestsChecked: boolean): FitResult {
  const inv = node.inventory;
  const gpu = devicePluginPick(node, NOTHING_PLACED, shape.isolation === 'exclusive', true);
  if (gpu === null) {
    const requestReasons = requestsChecked ? null : checkRequests(node, shape);
    return requestReasons !== null ? refusal(requestReasons) : refuse(replicaFailure(shape, node, 1, 0));
  }
  const rules = rulesFor(inv);
  const plan = planFor(shape, inv);
  let t = plan.takes[gpu];
  let answer = plan.answers[gpu];
  if (t === undefined || answer === undefined) {
    t = plan.takes[gpu] = clientTake(rules, inv, shape, gpu, client, 1, 0, 1);
    answer = plan.answers[gpu] = t.refusal ? refuse(t.refusal) : { fits: true, takes: [t.take], sequence: ONE_GPU[gpu], notes: withNotes(rules.podNotes(inv, shape), t) };
  }
  if (!answer.fits) return answer;
  const admitted = rules.admit(node, t.take, usageOf(node, gpu));
  return admitted.length > 0 ? { fits: false, reasons: [...admitted] } : answer;
}

/**
 * The last fitting answer per GPU layout (NodeInventory.gpus is shared by nodes built alike): a
 * filter asks about thousands of nodes, and nodes of one kind give a pod the same takes whatever
 * they already hold (what they hold only decides admit). An answer equal in every field to the
 * last one is that one: the memo and the ranker keep one object, not one per node, and the new
 * one dies young instead of being copied by the next minor GCs. Answers are never changed after
 * they are made, so sharing one cannot be observed. Bounded: cleared past 256 layouts.
 */
const lastFits = new Map<NodeInventory['gpus'], FitResult & { fits: true }>();

function shared(inv: NodeInventory, takes: GpuTake[], sequence: readonly number[], notes: readonly Note[]): FitResult {
  const last = lastFits.get(inv.gpus);
  if (last !== undefined && sameFit(last, takes, sequence, notes)) return last;
  const r = { fits: true as const, takes, sequence, notes };
  if (last === undefined && lastFits.size >= 256) lastFits.clear();
  lastFits.set(inv.gpus, r);
  return r;
}

function sameFit(a: FitResult & { fits: true }, takes: readonly GpuTake[], sequence: readonly number[], notes: readonly Note[]): boolean {
  if (a.notes !== notes || a.takes.length !== takes.length || a.sequence.length !== sequence.length) return false;
  for (let i = 0; i < sequence.length; i++) if (a.sequence[i] !== sequence[i]) return false;
  for (let i = 0; i < takes.length; i++) if (!sameTake(a.takes[i], takes[i])) return false;
  return true;
}

/** The fields sameTake compares. Compile-time guard (as for FitShape): a field added to GpuTake but not here fails. */
const TAKE_FIELDS = ['gpu', 'replicas', 'memoryBytes', 'threadMilli', 'clients', 'exclusive', 'mig'] as const satisfies readonly (keyof GpuTake)[];
type TakeFieldMissing = Exclude<keyof GpuTake, (typeof TAKE_FIELDS)[number]>;
const takeFieldsExhaustive: TakeFieldMissing extends never ? true : never = true;
void takeFieldsExhaustive;

/** Every field of GpuTake (a MIG take is never shared: its map would need comparing). */
function sameTake(a: GpuTake, b: GpuTake): boolean {
  return (
    a.gpu === b.gpu &&
    a.replicas === b.replicas &&
    a.memoryBytes === b.memoryBytes &&
    a.threadMilli === b.threadMilli &&
    a.clients === b.clients &&
    a.exclusive === b.exclusive &&
    a.mig === null &&
    b.mig === null
  );
}

/** The picker made last: fit runs for one chooser across every candidate node; another chooser gets a new one. */
let lastPicker: Picker | null = null;
function strictPicker(chooser: GpuChooser): Picker {
  if (lastPicker === null || lastPicker.chooser !== chooser) lastPicker = { strict: true, chooser };
  return lastPicker;
}

/**
 * The takes of a pod that runs on this node (bound, whatever its spec says): placed where it was
 * recorded, else where the node's policy would put it, each take capped at what the GPU has.
 * Never fails; a node without GPUs yields no takes.
 */
export function account(shape: FitShape, node: GpuNode, pinned: readonly number[] | null): { takes: GpuTake[]; sequence: readonly number[] } {
  const inv = node.inventory;
  if (inv.gpus.length === 0) return { takes: [], sequence: [] };
  const draft = acquire(pinned, inv.gpus.length);
  try {
    for (const client of shape.clients) placeClient(shape, client, node, draft, RECORD);
    const rules = rulesFor(inv);
    const takes: GpuTake[] = [];
    for (let gpu = 0; gpu < draft.gpuCount; gpu++) {
      if (!draft.uses(gpu)) continue;
      takes.push(capToGpu(inv, gpu, takeOn(rules, inv, shape, gpu, draft.onGpu(gpu), draft.migAt(gpu)).take));
    }
    return { takes, sequence: draft.sequence() };
  } finally {
    release(draft);
  }
}

/** A running pod's take on one GPU, capped at what the GPU has (account: a pod may overcommit a node, never poison the ledger). */
export function capToGpu(inv: NodeInventory, gpu: number, t: GpuTake): GpuTake {
  const cap = rulesFor(inv).capacity(inv, gpu);
  const memoryCap = Math.max(cap.memoryBytes, inv.gpus[gpu].memoryBytes);
  return {
    ...t,
    replicas: cap.replicas > 0 ? Math.min(t.replicas, cap.replicas) : t.replicas,
    memoryBytes: memoryCap > 0 ? Math.min(t.memoryBytes, memoryCap) : t.memoryBytes,
    threadMilli: Math.min(t.threadMilli, Math.max(cap.threadMilli, 1000)),
    clients: cap.clients > 0 ? Math.min(t.clients, cap.clients) : t.clients,
    mig: t.mig ? new Map([...t.mig].map(([p, n]) => [p, Math.min(n, Math.max(1, cap.mig.get(p) ?? 0))])) : null,
  };
}

/** The take of one replica of `client` on GPU `gpu` alone (what a chooser weighs per candidate). */
export function replicaTake(shape: FitShape, client: GpuClient, node: GpuNode, gpu: number): GpuTake {
  const inv = node.inventory;
  return clientTake(rulesFor(inv), inv, shape, gpu, client, 1, 0, 1).take;
}

/** Places one client's tokens, replicas and MIG instances into the draft; a reason when it cannot (strict). */
function placeClient(shape: FitShape, client: GpuClient, node: GpuNode, draft: Draft, picker: Picker): Reason | null {
  const inv = node.inventory;
  const gpuCount = inv.gpus.length;
  // GPU → replicas/tokens of this client (indexed by GPU).
  const mine = draft.startClient();
  const tokens = client.gpuTokens.size > 0;
  if (tokens) {
    for (const [gpu, n] of client.gpuTokens) {
      if (gpu < gpuCount) mine[gpu] += n;
      // checkRequests refuses a token for a GPU the node lacks before fit gets here.
      else if (picker.strict) return reasons.resourceMissing(`nvidia.com/gpu${gpu}`, n);
    }
  }

  if (client.replicas > 0) {
    if (replicasAreMigDevices(inv)) {
      const profile = [...inv.migProfiles.values()].find((p) => p.resource === 'nvidia.com/gpu');
      if (!profile) return reasons.resourceMissing('nvidia.com/gpu', client.replicas);
      const failure = placeMig(shape, client, node, draft, profile.name, 'nvidia.com/gpu', client.replicas, picker);
      if (failure) return failure;
    } else {
      // A running pod holds at most every replica the node has: keeps accounting bounded.
      let n = client.replicas;
      if (!picker.strict) {
        let total = 0;
        for (const g of inv.gpus) total += g.replicas;
        n = Math.min(n, Math.max(1, total));
      }
      for (let r = 0; r < n; r++) {
        const gpu = draft.pinnedGpu(gpuCount) ?? chooseReplicaGpu(shape, client, node, draft, mine, picker);
        if (gpu === null) return replicaFailure(shape, node, client.replicas, r);
        mine[gpu]++;
        draft.replicas[gpu]++;
        draft.placedOn(gpu);
      }
    }
  }
  if (client.mig.size > 0) {
    for (const [resource, n] of client.mig) {
      const profile = profileFor(inv, resource);
      if (!profile) {
        if (picker.strict) return reasons.resourceMissing(resource, n);
        continue;
      }
      const failure = placeMig(shape, client, node, draft, profile, resource, n, picker);
      if (failure) return failure;
    }
  }
  // Tokens count against their GPU too (replicas of shared resources were added as placed).
  if (tokens) for (const [gpu, n] of client.gpuTokens) if (gpu < gpuCount && mine[gpu] > 0) draft.replicas[gpu] += n;

  // The client sees its GPUs in index order: ordinals follow that order.
  let visible = 0;
  for (let gpu = 0; gpu < gpuCount; gpu++) if (mine[gpu] > 0) visible++;
  // Env entries for devices 0..needed−1 need that many distinct GPUs: replicas that share a GPU
  // are one device to the container, and an entry for a device it never sees limits nothing.
  if (picker.strict && client.memLimitByOrdinal.size > 0) {
    let needed = 0;
    for (const o of client.memLimitByOrdinal.keys()) if (o + 1 > needed) needed = o + 1;
    if (visible < needed) return reasons.tooFewGpus(client.container, needed, visible, gpuCount);
  }
  let ordinal = 0;
  for (let gpu = 0; gpu < gpuCount; gpu++) if (mine[gpu] > 0) draft.addOn(gpu, client, mine[gpu], ordinal++, visible);
  return null;
}

/** Why the r-th replica found no GPU: exclusivity, or too few replicas where the pod may go. */
function replicaFailure(shape: FitShape, node: GpuNode, requested: number, placed: number): Reason {
  const inv = node.inventory;
  if (shape.isolation === 'exclusive') {
    const busy = node.gpus.reduce((a, u) => a + u.pods, 0);
    const names: string[] = [];
    for (let i = 0; i < inv.gpus.length && names.length < 5; i++) for (const n of podsOnGpu(node, i)) if (!names.includes(n)) names.push(n);
    return reasons.exclusiveBusy(null, busy, names);
  }
  let used = 0;
  let cap = 0;
  for (let i = 0; i < inv.gpus.length; i++) {
    used += node.gpus[i].replicas;
    cap += inv.gpus[i].replicas;
  }
  return reasons.replicas(inv.resource, null, { requested, used: used + placed, capacity: cap });
}

function chooseReplicaGpu(shape: FitShape, client: GpuClient, node: GpuNode, draft: Draft, mine: readonly number[], picker: Picker): number | null {
  const inv = node.inventory;
  const exclusive = shape.isolation === 'exclusive';
  const n = inv.gpus.length;
  if (inv.placement !== 'extender') return devicePluginPick(node, draft, exclusive, picker.strict);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (hasRoom(node, draft, exclusive, i)) candidates.push(i);
  if (candidates.length === 0) {
    if (picker.strict) return null;
    for (let i = 0; i < n; i++) candidates.push(i);
  }
  // Prefer GPUs this client does not use yet (a multi-GPU client wants distinct devices), and
  // among those the ones where the replica's share fits (one candidate: nothing to prefer).
  let pool = candidates;
  if (pool.length > 1) {
    const fresh: number[] = [];
    for (const i of candidates) if (mine[i] === 0) fresh.push(i);
    if (fresh.length > 0) pool = fresh;
  }
  if (pool.length > 1) {
    const fitting: number[] = [];
    for (const i of pool) if (replicaFits(shape, client, node, draft, i)) fitting.push(i);
    if (fitting.length > 0) pool = fitting;
  }
  return picker.chooser(node, pool, shape, client);
}

/**
 * The GPU the NVIDIA device plugin gives the next replica: `distributed` (its default) the one with
 * the fewest replicas allocated, `packed` the most; lowest index on ties; only GPUs with room
 * (null when none, strict) — accounting a pod that runs regardless, the policy's choice among all
 * GPUs is the best guess. No candidate list is built.
 */
function devicePluginPick(node: GpuNode, draft: Draft, exclusive: boolean, strict: boolean): number | null {
  const n = node.inventory.gpus.length;
  const distributed = node.inventory.placement === 'distributed';
  let best = -1;
  for (let i = 0; i < n; i++) {
    if (!hasRoom(node, draft, exclusive, i)) continue;
    if (best < 0 || (distributed ? replicasUsed(node, draft, i) < replicasUsed(node, draft, best) : replicasUsed(node, draft, i) > replicasUsed(node, draft, best))) best = i;
  }
  if (best >= 0 || strict) return best >= 0 ? best : null;
  best = 0;
  for (let i = 1; i < n; i++) if (distributed ? replicasUsed(node, draft, i) < replicasUsed(node, draft, best) : replicasUsed(node, draft, i) > replicasUsed(node, draft, best)) best = i;
  return best;
}

/** Can GPU i take one more replica of this pod: free replicas, not held exclusively, idle for an exclusive pod. */
function hasRoom(node: GpuNode, draft: Draft, exclusive: boolean, i: number): boolean {
  if (gpuReplicas(node, i) + draft.replicasOn(i) >= node.inventory.gpus[i].replicas) return false;
  if (gpuExclusive(node, i) > 0) return false;
  return !(exclusive && gpuPods(node, i) > 0);
}

/** Replicas on GPU i: the node's and the draft's. */
function replicasUsed(node: GpuNode, draft: Draft, i: number): number {
  return gpuReplicas(node, i) + draft.replicasOn(i);
}

/** Would one more replica of this client, on top of what the pod already has there, fit GPU i? */
function replicaFits(shape: FitShape, client: GpuClient, node: GpuNode, draft: Draft, i: number): boolean {
  const inv = node.inventory;
  const rules = rulesFor(inv);
  const one: OnGpu = { container: client.container, client, replicas: 1, ordinal: 0, visible: 1 };
  const mine = draft.onGpu(i);
  const t = takeOn(rules, inv, shape, i, mine.length === 0 ? [one] : [...mine, one], draft.migAt(i));
  return t.refusal === null && rules.admit(node, t.take, node.gpus[i]).length === 0;
}

function placeMig(shape: FitShape, client: GpuClient, node: GpuNode, draft: Draft, profile: string, resource: string, count: number, picker: Picker): Reason | null {
  const inv = node.inventory;
  const exclusive = shape.isolation === 'exclusive';
  const n = picker.strict ? count : Math.min(count, inv.gpus.reduce((a, g) => a + (g.mig.get(profile) ?? 0), 0) || 1);
  for (let k = 0; k < n; k++) {
    const pinned = draft.pinnedGpu(inv.gpus.length);
    if (pinned !== null) {
      draft.addMig(pinned, profile);
      continue;
    }
    const candidates: number[] = [];
    for (let i = 0; i < inv.gpus.length; i++) {
      const u = node.gpus[i];
      if ((u.mig.get(profile) ?? 0) + draft.migOn(i, profile) >= (inv.gpus[i].mig.get(profile) ?? 0)) continue;
      if (u.exclusive > 0 || (exclusive && u.pods > 0)) continue;
      candidates.push(i);
    }
    if (candidates.length === 0) {
      if (picker.strict) return reasons.migInstances(resource, null, { requested: count, used: k, capacity: count });
      for (let i = 0; i < inv.gpus.length; i++) if (inv.gpus[i].mig.has(profile)) candidates.push(i);
      if (candidates.length === 0) return null;
    }
    draft.addMig(picker.chooser(node, candidates, shape, client), profile);
  }
  return null;
}
