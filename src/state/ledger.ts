// The ledger: per node, per GPU, what each pod UID holds. The only mutable state of gpu-ledger.
// Every operation is incremental, idempotent per pod UID, and O(GPUs of the node); a pod's
// allocation is stored with it so that removal subtracts exactly what was added (counters can
// never go negative, and removing everything returns every counter to zero).

import type { GpuTake, NodeInventory, PodRef } from '../model/types.js';

export type AllocState = 'bound' | 'reserved';

export interface GpuUsage {
  replicas: number;
  memoryBytes: number;
  threadMilli: number;
  clients: number;
  /** Pods with anything on this GPU. */
  pods: number;
  /** Pods holding this GPU exclusively. */
  exclusive: number;
  /** MIG instances in use per profile name. */
  mig: Map<string, number>;
}

export interface PodAllocation extends PodRef {
  node: string;
  takes: readonly GpuTake[];
  /** CPU request (milli) the pod holds on the node; pods without GPUs are recorded for this alone. */
  cpuMilli?: number;
  /** A pod without GPU resources, kept only for its CPU. */
  cpuOnly?: boolean;
  state: AllocState;
  /** Epoch ms after which a reservation is dropped (Infinity for bound pods). */
  expiresAt: number;
}

export interface NodeLedger {
  readonly name: string;
  inventory: NodeInventory;
  gpus: GpuUsage[];
  pods: Map<string, PodAllocation>;
  /** Σ CPU requests (milli) of the pods on the node, GPU pods or not. */
  cpuMilli: number;
  /** Bumped on every change: lets scorers cache per-node values. */
  generation: number;
  /**
   * Memo of fit answers and scorer inputs, valid while `generation` is unchanged. Lives on the
   * node so the hot path pays one property read instead of a WeakMap lookup.
   */
  memo?: NodeMemo;
}

export interface NodeMemo {
  generation: number;
  fits: Map<string, unknown>;
  /** The last shape asked about and its answer: kube-scheduler asks about one pod at a time. */
  lastKey?: string;
  lastFit?: unknown;
  /** Scores per demand shape, for one workload distribution (by identity). */
  scores?: { shapes: readonly unknown[]; byShape: Map<string, unknown> };
  /** Fragmentation of the node before a placement, for one workload distribution (by identity). */
  fragBefore?: { shapes: readonly unknown[]; value: number };
}

/** The node's memo for its current generation (a fresh one after any change). */
export function memoOf(node: NodeLedger): NodeMemo {
  let m = node.memo;
  if (m === undefined || m.generation !== node.generation) {
    m = { generation: node.generation, fits: new Map() };
    node.memo = m;
  }
  return m;
}

export function emptyUsage(): GpuUsage {
  return { replicas: 0, memoryBytes: 0, threadMilli: 0, clients: 0, pods: 0, exclusive: 0, mig: new Map() };
}

export class Ledger {
  readonly nodes = new Map<string, NodeLedger>();
  readonly pods = new Map<string, PodAllocation>();
  /** Nodes known to exist but without NVIDIA GPUs (so filter can say "no GPU", not "unknown"). */
  readonly cpuNodes = new Set<string>();
  /** Bumped on every change anywhere (metrics, caches). */
  generation = 0;

  knownWithoutGpu(name: string): boolean {
    return this.cpuNodes.has(name);
  }

  /** Adds or updates a node's inventory; its pods' allocations are kept and re-applied. */
  setNode(inventory: NodeInventory): NodeLedger {
    const existing = this.nodes.get(inventory.name);
    if (existing) {
      existing.inventory = inventory;
      this.recount(existing);
      return existing;
    }
    const node: NodeLedger = {
      name: inventory.name,
      inventory,
      gpus: inventory.gpus.map(() => emptyUsage()),
      pods: new Map(),
      cpuMilli: 0,
      generation: 0,
    };
    this.nodes.set(inventory.name, node);
    // Pods seen before their node (events can arrive in any order) are attached now.
    for (const alloc of this.pods.values()) {
      if (alloc.node === inventory.name) node.pods.set(alloc.uid, alloc);
    }
    this.recount(node);
    return node;
  }

  /** Removes a node and releases every pod on it. Returns the released pod UIDs. */
  deleteNode(name: string): string[] {
    const node = this.nodes.get(name);
    const released: string[] = [];
    for (const [uid, alloc] of this.pods) {
      if (alloc.node === name) {
        this.pods.delete(uid);
        released.push(uid);
      }
    }
    if (node) this.nodes.delete(name);
    this.generation++;
    return released;
  }

  /** Records (or replaces) a pod's allocation. Idempotent for the same UID and allocation. */
  put(alloc: PodAllocation): void {
    this.remove(alloc.uid);
    this.pods.set(alloc.uid, alloc);
    const node = this.nodes.get(alloc.node);
    if (node) {
      node.pods.set(alloc.uid, alloc);
      applyAlloc(node, alloc, +1);
      node.generation++;
    }
    this.generation++;
  }

  /** Releases a pod. Returns the allocation that was removed, if any. */
  remove(uid: string): PodAllocation | undefined {
    const alloc = this.pods.get(uid);
    if (!alloc) return undefined;
    this.pods.delete(uid);
    const node = this.nodes.get(alloc.node);
    if (node && node.pods.delete(uid)) {
      applyAlloc(node, alloc, -1);
      node.generation++;
    }
    this.generation++;
    return alloc;
  }

  /** Marks a reservation as bound (the pod showed up with spec.nodeName). */
  confirm(uid: string): void {
    const alloc = this.pods.get(uid);
    if (alloc && alloc.state === 'reserved') {
      alloc.state = 'bound';
      alloc.expiresAt = Infinity;
      this.generation++;
    }
  }

  /** Drops reservations whose TTL passed. Returns what expired. */
  expire(now: number): PodAllocation[] {
    const expired: PodAllocation[] = [];
    for (const alloc of this.pods.values()) {
      if (alloc.state === 'reserved' && alloc.expiresAt <= now) expired.push(alloc);
    }
    for (const alloc of expired) this.remove(alloc.uid);
    return expired;
  }

  /** Recomputes a node's counters from its pods (after an inventory change). */
  private recount(node: NodeLedger): void {
    node.gpus = node.inventory.gpus.map(() => emptyUsage());
    node.cpuMilli = 0;
    for (const alloc of node.pods.values()) applyAlloc(node, alloc, +1);
    node.generation++;
    this.generation++;
  }
}

/**
 * A scratch copy of a node with some pods removed — what preemption would leave. The ledger is
 * not touched: the copy has its own counters.
 */
export function nodeWithout(node: NodeLedger, uids: ReadonlySet<string>): NodeLedger {
  const copy: NodeLedger = {
    name: node.name,
    inventory: node.inventory,
    gpus: node.inventory.gpus.map(() => emptyUsage()),
    pods: new Map(),
    cpuMilli: 0,
    generation: -1,
  };
  for (const [uid, alloc] of node.pods) {
    if (uids.has(uid)) continue;
    copy.pods.set(uid, alloc);
    applyAlloc(copy, alloc, +1);
  }
  return copy;
}

/** A read-only view of a node under another inventory (full-Node requests): same pods, recounted. */
export function nodeWithInventory(node: NodeLedger | undefined, inventory: NodeInventory): NodeLedger {
  const view: NodeLedger = { name: inventory.name, inventory, gpus: inventory.gpus.map(() => emptyUsage()), pods: new Map(), cpuMilli: 0, generation: -1 };
  if (node) {
    for (const [uid, alloc] of node.pods) {
      view.pods.set(uid, alloc);
      applyAlloc(view, alloc, +1);
    }
  }
  return view;
}

function applyAlloc(node: NodeLedger, alloc: PodAllocation, sign: 1 | -1): void {
  node.cpuMilli += sign * (alloc.cpuMilli ?? 0);
  applyTakes(node, alloc.takes, sign);
}

function applyTakes(node: NodeLedger, takes: readonly GpuTake[], sign: 1 | -1): void {
  for (const t of takes) {
    const g = node.gpus[t.gpu];
    // A GPU index beyond the current inventory (node shrank) is remembered with the pod but has
    // no counter to update; recount() re-applies it if the GPU comes back.
    if (!g) continue;
    g.replicas += sign * t.replicas;
    g.memoryBytes += sign * t.memoryBytes;
    g.threadMilli += sign * t.threadMilli;
    g.clients += sign * t.clients;
    g.pods += sign;
    if (t.exclusive) g.exclusive += sign;
    if (t.mig) {
      for (const [profile, n] of t.mig) {
        const v = (g.mig.get(profile) ?? 0) + sign * n;
        if (v === 0) g.mig.delete(profile);
        else g.mig.set(profile, v);
      }
    }
  }
}
