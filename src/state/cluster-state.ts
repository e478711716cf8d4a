// ClusterState: the ledger plus everything that feeds it. Cluster events (snapshot files or
// informers) arrive through the ClusterSink methods; the extender's own binds arrive through
// reserve()/release(). Running pods are accounted by the GPU rules' `account` (placed where
// recorded, capped at what the node has) — never through the filter. Parsing happens here once
// per event; fit and scoring stay pure.

import { LRUCache } from 'lru-cache';
import type { LedgerConfig } from '../model/config-types.js';
import { parsePodDemand } from '../model/demand.js';
import { parseNodeInventory, type NodeLike } from '../model/inventory.js';
import type { NodeProblem, PodDemand, Reason } from '../model/types.js';
import { account, type FitResult } from '../gpu/place.js';
import { NODE_UNKNOWN } from '../gpu/reason.js';
import { fitKey } from '../gpu/shape.js';
import { Ledger, nodeWithout, type NodeLedger, type PodAllocation, type PodShape } from './ledger.js';

export type { PodShape } from './ledger.js';
import type { ClusterSink } from './sink.js';
import { WorkloadModel } from './workload.js';

export interface ClusterStateOptions {
  config: LedgerConfig;
  /** How long a bind reservation waits for the pod to show up bound. */
  reservationTtlMs?: number;
  now?: () => number;
  /** Called once per node whenever its inventory changes and has problems (the server logs them at warn). */
  onNodeProblems?: (node: string, problems: readonly NodeProblem[]) => void;
}

export type ReserveResult =
  | { ok: true; allocation: PodAllocation; sequence: readonly number[]; already: boolean }
  | { ok: false; reasons: Reason[]; conflict?: string };

interface Obj {
  metadata?: { name?: unknown; uid?: unknown; namespace?: unknown; resourceVersion?: unknown; deletionTimestamp?: unknown };
  spec?: { nodeName?: unknown };
  status?: { phase?: unknown };
}

function asObj(v: unknown): Obj {
  return v !== null && typeof v === 'object' ? (v as Obj) : {};
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export function isTerminal(pod: unknown): boolean {
  const phase = asObj(pod).status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Rough retained size of a demand (bytes), so caches are bounded by memory, not only by entries. */
function demandSize(d: PodDemand): number {
  let n = 256 + 2 * (d.uid.length + d.name.length + d.namespace.length + d.resourceVersion.length);
  for (const c of d.clients) n += 200 + 2 * c.container.length + 48 * (c.memLimitByOrdinal.size + c.memLimitByUuid.size + c.mig.size + c.gpuTokens.size);
  for (const e of d.errors) n += 2 * (e.message.length + e.field.length + e.value.length);
  for (const [k, v] of Object.entries(d.labels)) n += 2 * (k.length + v.length);
  return n + 64 * d.requests.size;
}

export class ClusterState implements ClusterSink {
  readonly ledger = new Ledger();
  readonly workload: WorkloadModel;
  readonly config: LedgerConfig;
  reservationTtlMs: number;
  private readonly now: () => number;
  private readonly onNodeProblems?: (node: string, problems: readonly NodeProblem[]) => void;
  /**
   * Latest demand filter/prioritize saw per UID: bind requests carry no Pod, so bind reserves what
   * filter decided on. Only the extender verbs write it (explain never does). Bounded by bytes.
   */
  private readonly lastDemand = new LRUCache<string, PodDemand>({ max: 16_384, maxSize: 64 * 2 ** 20, sizeCalculation: demandSize });
  /** One PodShape object (and one key string) per distinct shape, shared by every allocation of that shape. */
  private readonly shapes = new LRUCache<string, { shape: PodShape; key: string }>({ max: 65_536, maxSize: 64 * 2 ** 20, sizeCalculation: (_v, k) => 512 + 2 * k.length });
  nodesSynced = false;
  podsSynced = false;

  constructor(options: ClusterStateOptions) {
    this.config = options.config;
    this.reservationTtlMs = options.reservationTtlMs ?? 120_000;
    this.now = options.now ?? Date.now;
    this.onNodeProblems = options.onNodeProblems;
    this.workload = new WorkloadModel(options.config.tiers);
  }

  ready(): boolean {
    return this.nodesSynced && this.podsSynced;
  }

  /** Parses a pod's demand. Pure: nothing is remembered (explain, the page). */
  parse(pod: unknown): PodDemand {
    return parsePodDemand(pod, this.config.tiers);
  }

  /**
   * The demand of a pod kube-scheduler asks about (filter, prioritize): parsed from the object in
   * the request — never answered from a cache an edited copy could hit — and remembered by UID for
   * the bind that follows.
   */
  demandOf(pod: unknown): PodDemand {
    const d = this.parse(pod);
    if (d.uid) this.lastDemand.set(d.uid, d);
    return d;
  }

  /** The last demand filter/prioritize saw for a UID, if any. */
  lastDemandOf(uid: string): PodDemand | undefined {
    return this.lastDemand.get(uid);
  }

  /** The shared shape object for a demand (interned). */
  shapeOf(d: PodDemand): { shape: PodShape; key: string } {
    const key = `${fitKey(d)}|${d.tier ?? ''}`;
    let entry = this.shapes.get(key);
    if (!entry) {
      const shape: PodShape = {
        requests: d.requests,
        clients: d.clients,
        declaredMemoryBytes: d.declaredMemoryBytes,
        declaredThreadMilli: d.declaredThreadMilli,
        isolation: d.isolation,
        errors: d.errors,
        tier: d.tier,
      };
      // The entry's key is the one allocations keep: one string per shape, not one per pod.
      entry = { shape, key };
      this.shapes.set(key, entry);
    }
    return entry;
  }

  /**
   * A pod by namespace/name: in the ledger (bound or reserved) or recently asked about. A scan —
   * explain by name is rare, and an index would cost memory per pod on every cluster.
   */
  findByName(namespace: string, name: string): { uid: string; allocation?: PodAllocation; demand?: PodDemand } | undefined {
    for (const a of this.ledger.pods.values()) {
      if (a.namespace === namespace && a.name === name && !a.cpuOnly) return { uid: a.uid, allocation: a, demand: this.lastDemand.peek(a.uid) };
    }
    for (const d of this.lastDemand.values()) {
      if (d.namespace === namespace && d.name === name) return { uid: d.uid, demand: d };
    }
    return undefined;
  }

  /** A bound or reserved pod's demand, rebuilt from its allocation (explain of a pod by name). */
  demandOfAllocation(a: PodAllocation): PodDemand | undefined {
    if (!a.shape) return undefined;
    const s = a.shape;
    return {
      requests: s.requests,
      clients: s.clients,
      declaredMemoryBytes: s.declaredMemoryBytes,
      declaredThreadMilli: s.declaredThreadMilli,
      isolation: s.isolation,
      errors: s.errors,
      tier: s.tier,
      uid: a.uid,
      namespace: a.namespace,
      name: a.name,
      resourceVersion: '',
      managed: true,
      cpuMilli: a.cpuMilli ?? 0,
      nodeName: a.node,
      assignedGpus: a.sequence ?? null,
      priority: a.priority ?? 0,
      preemptionPolicy: 'PreemptLowerPriority',
      startTime: a.startTime ?? null,
      labels: {},
    };
  }

  // ---- ClusterSink ----

  resetNodes(nodes: readonly unknown[]): void {
    const seen = new Set<string>();
    for (const n of nodes) {
      const name = this.applyNode(n);
      if (name) seen.add(name);
    }
    for (const name of [...this.ledger.nodes.keys()]) if (!seen.has(name)) this.ledger.deleteNode(name);
    for (const name of [...this.ledger.cpuNodes]) if (!seen.has(name)) this.ledger.cpuNodes.delete(name);
    this.nodesSynced = true;
  }

  resetPods(pods: readonly unknown[], listStartedAt: number = Infinity): void {
    const seen = new Set<string>();
    for (const p of pods) {
      const uid = str(asObj(p).metadata?.uid);
      if (uid) seen.add(uid);
      this.upsertPod(p);
    }
    // Converge: bound pods the API no longer lists are gone; our own reservations wait for their
    // TTL; and a pod our bind confirmed after the LIST was sent may simply be missing from it.
    for (const alloc of [...this.ledger.pods.values()]) {
      if (seen.has(alloc.uid) || alloc.state !== 'bound') continue;
      if (alloc.boundAt !== undefined && alloc.boundAt >= listStartedAt) continue;
      this.ledger.remove(alloc.uid);
    }
    this.podsSynced = true;
  }

  upsertNode(node: unknown): void {
    this.applyNode(node);
  }

  /** The Node object is gone; pods bound to it stay recorded until the pods watch says they are gone. */
  deleteNode(name: string): void {
    this.ledger.cpuNodes.delete(name);
    this.ledger.deleteNode(name);
  }

  upsertPod(pod: unknown): void {
    const o = asObj(pod);
    const uid = str(o.metadata?.uid);
    if (!uid) return;
    const existing = this.ledger.pods.get(uid);
    if (isTerminal(pod)) {
      if (existing) this.ledger.remove(uid);
      return;
    }
    const nodeName = str(o.spec?.nodeName);
    // Our own bind's writes arrive before spec.nodeName does: that event must not drop the reservation.
    if (!nodeName) return;
    const demand = this.parse(pod);
    if (!demand.managed) {
      if (existing && !existing.cpuOnly) this.ledger.remove(uid);
      // A running pod without GPUs still holds CPU on a GPU node: the fragmentation scorer needs it.
      if (demand.cpuMilli > 0 && !this.ledger.cpuNodes.has(nodeName) && (existing?.cpuMilli !== demand.cpuMilli || existing.node !== nodeName)) {
        this.ledger.put({ uid, namespace: demand.namespace, name: demand.name, node: this.nodeNameOf(nodeName), takes: [], cpuMilli: demand.cpuMilli, cpuOnly: true, state: 'bound', expiresAt: Infinity });
      }
      return;
    }
    const { shape, key } = this.shapeOf(demand);
    // A pod being deleted keeps its share until it is gone; preemption must not pick it again.
    const terminating = o.metadata?.deletionTimestamp !== undefined && o.metadata?.deletionTimestamp !== null;
    if (existing && existing.node === nodeName && existing.shapeKey === key && !existing.cpuOnly && existing.state !== 'nominated') {
      // Already accounted where it is, for what it asks: only confirm a reservation (and keep what
      // preemption orders by: a pod bound by gpu-ledger learns its start time from the watch).
      this.ledger.confirm(uid);
      if (terminating) existing.terminating = true;
      if (demand.startTime !== null) existing.startTime = demand.startTime;
      return;
    }
    // New, moved, its demand changed (annotations edited on a running pod), or bound where it was only
    // nominated: account it again.
    const pinned = demand.assignedGpus ?? (existing && existing.node === nodeName && existing.state !== 'nominated' ? existing.sequence ?? null : null);
    this.record(demand, shape, key, nodeName, pinned);
    if (terminating) this.ledger.pods.get(uid)!.terminating = true;
  }

  deletePod(uid: string): void {
    this.ledger.remove(uid);
  }

  // ---- the extender's own decisions ----

  /**
   * Reserves the pod on the node (bind): `decide` computes the fit on the node as it is at this
   * moment, and the reservation is recorded before anything else can run — a filter arriving
   * meanwhile already sees it. Idempotent: the same UID on the same node returns the existing
   * allocation; on another node it is a conflict.
   */
  reserve(demand: PodDemand, nodeName: string, decide: (node: NodeLedger) => FitResult): ReserveResult {
    this.expire();
    const existing = this.ledger.pods.get(demand.uid);
    // A nomination (preemption) is the pod's own share: it decides against the node without it, and
    // becomes the reservation (or is dropped, when the pod binds elsewhere) in the same step.
    const nominated = existing?.state === 'nominated' ? existing : undefined;
    if (existing && !nominated) {
      if (existing.node === nodeName) return { ok: true, allocation: existing, sequence: existing.sequence ?? [], already: true };
      return { ok: false, reasons: [], conflict: existing.node };
    }
    const node = this.ledger.nodes.get(nodeName);
    if (!node) return { ok: false, reasons: [NODE_UNKNOWN] };
    const fit = decide(nominated && nominated.node === nodeName ? nodeWithout(node, new Set([demand.uid])) : node);
    if (!fit.fits) return { ok: false, reasons: fit.reasons };
    if (nominated) this.ledger.remove(demand.uid);
    const { shape, key } = this.shapeOf(demand);
    const allocation: PodAllocation = {
      uid: demand.uid,
      namespace: demand.namespace,
      name: demand.name,
      node: nodeName,
      takes: fit.takes,
      sequence: fit.sequence,
      shape,
      shapeKey: key,
      cpuMilli: demand.cpuMilli,
      priority: demand.priority,
      startTime: null,
      state: 'reserved',
      expiresAt: this.now() + this.reservationTtlMs,
    };
    this.ledger.put(allocation);
    this.workload.observePod(demand.uid, WorkloadModel.shapeOfTakes(fit.takes, demand.cpuMilli));
    return { ok: true, allocation, sequence: fit.sequence, already: false };
  }

  /**
   * Holds the share a preemptor gets on a node once its victims are gone (`takes` decided on the node
   * without them): every other pod's filter and bind see it as taken until the preemptor binds, the
   * TTL passes, or dropNomination. The victims keep their own share until they are really gone.
   */
  nominate(demand: PodDemand, nodeName: string, takes: PodAllocation['takes'], sequence: readonly number[], ttlMs: number): PodAllocation {
    const { shape, key } = this.shapeOf(demand);
    const allocation: PodAllocation = {
      uid: demand.uid,
      namespace: demand.namespace,
      name: demand.name,
      node: nodeName,
      takes,
      sequence,
      shape,
      shapeKey: key,
      cpuMilli: demand.cpuMilli,
      priority: demand.priority,
      startTime: null,
      state: 'nominated',
      expiresAt: this.now() + ttlMs,
    };
    this.ledger.put(allocation);
    return allocation;
  }

  /** Drops a pod's nomination, if it has one (its preemption failed). */
  dropNomination(uid: string): void {
    if (this.ledger.pods.get(uid)?.state === 'nominated') this.ledger.remove(uid);
  }

  /** Drops a reservation that did not become a binding (bind failed). Bound pods are kept. */
  release(uid: string): void {
    const alloc = this.ledger.pods.get(uid);
    if (alloc && alloc.state === 'reserved') this.ledger.remove(uid);
  }

  /** Drops expired reservations; returns them (for logs and metrics). */
  expire(): PodAllocation[] {
    return this.ledger.expire(this.now());
  }

  // ---- internals ----

  /** The node's own name string when the ledger has the node: 150,000 pods need not hold 150,000 copies. */
  private nodeNameOf(name: string): string {
    return this.ledger.nodes.get(name)?.name ?? name;
  }

  private applyNode(node: unknown): string | null {
    const name = str(asObj(node).metadata?.name);
    if (!name) return null;
    const inv = parseNodeInventory(node as NodeLike, this.config);
    if (!inv) {
      this.ledger.cpuNodes.add(name);
      if (this.ledger.nodes.has(name)) this.ledger.deleteNode(name);
      return name;
    }
    this.ledger.cpuNodes.delete(name);
    const { node: n, changed } = this.ledger.upsertNode(inv);
    if (changed) {
      if (inv.problems.length > 0) this.onNodeProblems?.(name, inv.problems);
      // The takes of the pods here depend on the inventory: account each again where it was.
      for (const alloc of [...n.pods.values()]) {
        if (alloc.cpuOnly || !alloc.shape || !alloc.shapeKey) continue;
        this.reaccount(alloc, n);
      }
    }
    return name;
  }

  /** Accounts a running pod: exactly where it was recorded, else where the node's policy puts it. */
  private record(demand: PodDemand, shape: PodShape, key: string, nodeName: string, pinned: readonly number[] | null): void {
    // The GPU rules must see the node without the pod's previous take.
    this.ledger.remove(demand.uid);
    const node = this.ledger.nodes.get(nodeName);
    const placed = node ? account(shape, node, pinned) : { takes: [], sequence: pinned ?? [] };
    this.ledger.put({
      uid: demand.uid,
      namespace: demand.namespace,
      name: demand.name,
      node: node?.name ?? nodeName,
      takes: placed.takes,
      sequence: placed.sequence,
      shape,
      shapeKey: key,
      cpuMilli: demand.cpuMilli,
      priority: demand.priority,
      startTime: demand.startTime,
      state: 'bound',
      expiresAt: Infinity,
    });
    this.workload.observePod(demand.uid, WorkloadModel.shapeOfTakes(placed.takes, demand.cpuMilli));
  }

  /** Places an allocation again on its node (the inventory changed, or the node appeared). */
  private reaccount(alloc: PodAllocation, node: NodeLedger): void {
    this.ledger.remove(alloc.uid);
    const placed = account(alloc.shape!, node, alloc.sequence ?? null);
    this.ledger.put({ ...alloc, takes: placed.takes, sequence: placed.sequence });
  }
}
