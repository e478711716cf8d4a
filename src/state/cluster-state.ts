// ClusterState: the ledger plus everything that feeds it. Cluster events (snapshot files or
// informers) arrive through the ClusterSink methods; the extender's own binds arrive through
// reserve()/release(). Parsing happens here once per object version; fit and scoring stay pure.

import { LRUCache } from 'lru-cache';
import type { LedgerConfig } from '../model/config-types.js';
import { parsePodDemand } from '../model/demand.js';
import { parseNodeInventory, type NodeLike } from '../model/inventory.js';
import type { GpuTake, PodDemand, Reason } from '../model/types.js';
import { fitPod, type FitOptions } from '../filter/fit.js';
import { Ledger, type PodAllocation } from './ledger.js';
import type { ClusterSink } from './sink.js';
import { WorkloadModel } from './workload.js';

export interface ClusterStateOptions {
  config: LedgerConfig;
  /** How long a bind reservation waits for the pod to show up bound. */
  reservationTtlMs?: number;
  now?: () => number;
  /** Placement options for every fit (the trace replay plugs a GPU chooser here). */
  fitOptions?: FitOptions;
}

export type ReserveResult =
  | { ok: true; allocation: PodAllocation; sequence: readonly number[]; already: boolean }
  | { ok: false; reasons: Reason[]; conflict?: string };

interface Obj {
  metadata?: { name?: unknown; uid?: unknown; namespace?: unknown; resourceVersion?: unknown };
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

export class ClusterState implements ClusterSink {
  readonly ledger = new Ledger();
  readonly workload: WorkloadModel;
  readonly config: LedgerConfig;
  reservationTtlMs: number;
  private readonly now: () => number;
  readonly fitOptions: FitOptions;
  /**
   * Parsed demands by uid/resourceVersion of pods asked about (filter/prioritize): a pending pod is
   * parsed once per version. Bound pods from the cluster are parsed, accounted and dropped — the
   * ledger keeps only their takes — so memory grows with the cluster's pods only through the ledger.
   */
  private readonly demands = new LRUCache<string, PodDemand>({ max: 4096 });
  /** Latest demand seen per UID: bind requests carry no Pod, so bind uses what filter saw. */
  private readonly lastDemand = new LRUCache<string, PodDemand>({ max: 16_384 });
  /** Pods seen on a node the ledger does not know yet, placed when the node arrives. */
  private readonly orphans = new Map<string, PodDemand>();
  nodesSynced = false;
  podsSynced = false;

  constructor(options: ClusterStateOptions) {
    this.config = options.config;
    this.reservationTtlMs = options.reservationTtlMs ?? 120_000;
    this.now = options.now ?? Date.now;
    this.fitOptions = options.fitOptions ?? {};
    this.workload = new WorkloadModel(options.config.tiers);
  }

  ready(): boolean {
    return this.nodesSynced && this.podsSynced;
  }

  /** The pod's GPU demand, parsed once per UID + resourceVersion. */
  demandOf(pod: unknown): PodDemand {
    const md = asObj(pod).metadata ?? {};
    const uid = str(md.uid);
    const rv = str(md.resourceVersion);
    const key = uid && rv ? `${uid}/${rv}` : '';
    let d = key ? this.demands.get(key) : undefined;
    if (!d) {
      d = parsePodDemand(pod, this.config.tiers);
      if (key) this.demands.set(key, d);
    }
    if (uid) this.lastDemand.set(uid, d);
    return d;
  }

  /** The last demand seen for a UID (from filter/prioritize or the cluster), if any. */
  lastDemandOf(uid: string): PodDemand | undefined {
    return this.lastDemand.get(uid);
  }

  /**
   * A pod by namespace/name: in the ledger (bound or reserved) or recently asked about. A scan —
   * explain by name is rare, and an index would cost memory per pod on every cluster.
   */
  findByName(namespace: string, name: string): { uid: string; allocation?: PodAllocation; demand?: PodDemand } | undefined {
    for (const a of this.ledger.pods.values()) {
      if (a.namespace === namespace && a.name === name && !a.cpuOnly) return { uid: a.uid, allocation: a, demand: this.lastDemand.get(a.uid) };
    }
    for (const d of this.lastDemand.values()) {
      if (d.namespace === namespace && d.name === name) return { uid: d.uid, demand: d };
    }
    return undefined;
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

  resetPods(pods: readonly unknown[]): void {
    const seen = new Set<string>();
    for (const p of pods) {
      const uid = str(asObj(p).metadata?.uid);
      if (uid) seen.add(uid);
      this.upsertPod(p);
    }
    // Converge: bound pods the API no longer lists are gone; our own reservations wait for their TTL.
    for (const alloc of [...this.ledger.pods.values()]) {
      if (!seen.has(alloc.uid) && alloc.state === 'bound') this.forget(alloc.uid);
    }
    this.podsSynced = true;
  }

  upsertNode(node: unknown): void {
    this.applyNode(node);
  }

  deleteNode(name: string): void {
    this.ledger.cpuNodes.delete(name);
    for (const uid of this.ledger.deleteNode(name)) this.orphans.delete(uid);
  }

  upsertPod(pod: unknown): void {
    const o = asObj(pod);
    const uid = str(o.metadata?.uid);
    if (!uid) return;
    const existing = this.ledger.pods.get(uid);
    const nodeName = str(o.spec?.nodeName);
    if (existing && existing.node === nodeName && !isTerminal(pod)) {
      // Already accounted where it is (resource requests are immutable): only confirm a reservation.
      this.ledger.confirm(uid);
      return;
    }
    const demand = parsePodDemand(pod, this.config.tiers);
    if (isTerminal(pod)) {
      if (existing) this.forget(uid);
      return;
    }
    if (!demand.managed) {
      if (existing) this.forget(uid);
      // A running pod without GPUs still holds CPU on a GPU node: the fragmentation scorer needs it.
      if (nodeName && demand.cpuMilli > 0 && !this.ledger.cpuNodes.has(nodeName)) {
        this.ledger.put({ uid, namespace: demand.namespace, name: demand.name, node: nodeName, takes: [], cpuMilli: demand.cpuMilli, cpuOnly: true, state: 'bound', expiresAt: Infinity });
      }
      return;
    }
    if (!nodeName) {
      // Our own bind patches the pod before the Binding exists: that MODIFIED event must not drop
      // the reservation. A bound pod cannot lose its node, so nothing else to do here.
      return;
    }
    this.record(demand, nodeName, 'bound');
  }

  deletePod(uid: string): void {
    this.forget(uid);
  }

  // ---- the extender's own decisions ----

  /**
   * Reserves the pod on the node (bind). Idempotent: the same UID on the same node returns the
   * existing allocation; on another node it is a conflict.
   */
  reserve(demand: PodDemand, nodeName: string): ReserveResult {
    this.expire();
    const existing = this.ledger.pods.get(demand.uid);
    if (existing) {
      if (existing.node === nodeName) return { ok: true, allocation: existing, sequence: sequenceOf(existing.takes), already: true };
      return { ok: false, reasons: [], conflict: existing.node };
    }
    const node = this.ledger.nodes.get(nodeName);
    if (!node) {
      return { ok: false, reasons: [{ code: 'node-unknown', resource: 'node', gpu: null, requested: 0, used: 0, capacity: 0, unit: 'none', resolvable: false }] };
    }
    const fit = fitPod(demand, node, this.fitOptions);
    if (!fit.fits) return { ok: false, reasons: fit.reasons };
    const allocation: PodAllocation = {
      uid: demand.uid,
      namespace: demand.namespace,
      name: demand.name,
      node: nodeName,
      takes: fit.takes,
      cpuMilli: demand.cpuMilli,
      state: 'reserved',
      expiresAt: this.now() + this.reservationTtlMs,
    };
    this.ledger.put(allocation);
    this.workload.observe(fit.takes, demand.cpuMilli);
    return { ok: true, allocation, sequence: fit.sequence, already: false };
  }

  /** Drops a reservation that did not become a binding (bind failed). Bound pods are kept. */
  release(uid: string): void {
    const alloc = this.ledger.pods.get(uid);
    if (alloc && alloc.state === 'reserved') this.forget(uid);
  }

  /** Drops expired reservations; returns them (for logs and metrics). */
  expire(): PodAllocation[] {
    return this.ledger.expire(this.now());
  }

  // ---- internals ----

  private applyNode(node: unknown): string | null {
    const inv = parseNodeInventory(node as NodeLike, this.config);
    const name = str(asObj(node).metadata?.name);
    if (!name) return null;
    if (!inv) {
      this.ledger.cpuNodes.add(name);
      if (this.ledger.nodes.has(name)) this.ledger.nodes.delete(name);
      return name;
    }
    this.ledger.cpuNodes.delete(name);
    const hadNode = this.ledger.nodes.has(name);
    this.ledger.setNode(inv);
    // Pods that arrived before their node have allocations with no takes: place them now.
    if (!hadNode && this.orphans.size > 0) {
      for (const [uid, d] of [...this.orphans]) {
        const alloc = this.ledger.pods.get(uid);
        if (alloc?.node === name) this.record(d, name, alloc.state);
      }
    }
    return name;
  }

  /** Accounts a pod that is on a node: exactly where it was recorded, else where the policy puts it. */
  private record(demand: PodDemand, nodeName: string, state: 'bound' | 'reserved'): void {
    const node = this.ledger.nodes.get(nodeName);
    let takes: readonly GpuTake[] = [];
    if (node) {
      this.ledger.remove(demand.uid);
      this.orphans.delete(demand.uid);
      const fit = fitPod(demand, node, { ...this.fitOptions, force: true, pinned: demand.assignedGpus });
      if (fit.fits) takes = fit.takes;
    } else {
      this.orphans.set(demand.uid, demand);
    }
    this.ledger.put({
      uid: demand.uid,
      namespace: demand.namespace,
      name: demand.name,
      node: nodeName,
      takes,
      cpuMilli: demand.cpuMilli,
      state,
      expiresAt: state === 'bound' ? Infinity : this.now() + this.reservationTtlMs,
    });
    if (takes.length > 0) this.workload.observe(takes, demand.cpuMilli);
  }

  private forget(uid: string): void {
    this.ledger.remove(uid);
    this.orphans.delete(uid);
  }
}

/** Placement order rebuilt from takes (used when a bind is retried and only takes remain). */
export function sequenceOf(takes: readonly GpuTake[]): number[] {
  const seq: number[] = [];
  for (const t of takes) {
    const n = t.mig ? [...t.mig.values()].reduce((a, b) => a + b, 0) : t.replicas;
    for (let i = 0; i < n; i++) seq.push(t.gpu);
  }
  return seq;
}
