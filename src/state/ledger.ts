// The ledger: per node, per GPU, what each pod UID holds. The only mutable state of gpu-ledger.
// Every operation is incremental, idempotent per pod UID, and O(GPUs of the node); a pod's
// allocation is stored with it so that removal subtracts exactly what was added (counters are
// exact integers, can never go negative, and removing everything returns every counter to zero).
// A pod whose node is not (or no longer) known keeps its allocation and is attached again when
// the node (re)appears: deleting and re-creating a Node does not forget the pods bound to it.

import type { GpuTake, NodeInventory, PodRef } from '../model/types.js';
import { MAX_PODS_PER_GPU } from '../model/limits.js';
import type { FitShape } from '../gpu/shape.js';
import { applyTake, clearUsages, CounterStore, newUsages, releaseUsages, type GpuNode, type GpuUsage } from '../gpu/usage.js';
import type { GpuFree } from '../gpu/free.js';

export type { GpuUsage } from '../gpu/usage.js';

/** What a pod asks for, shared by all pods of one shape: the fit shape plus the pod's tier. */
export interface PodShape extends FitShape {
  readonly tier: string | null;
}
/**
 * `bound`: running (or bound by our own Binding); `reserved`: bind in flight; `nominated`: the share a
 * preemptor will get once its victims are gone (preemption), held against every other pod.
 */
export type AllocState = 'bound' | 'reserved' | 'nominated';

export interface PodAllocation extends PodRef {
  node: string;
  takes: readonly GpuTake[];
  /** GPU per replica/instance in placement order (the `gpu-ledger.io/gpus` record). */
  sequence?: readonly number[];
  /** What the pod asks for (interned: pods of one shape share it); null for pods without GPUs. */
  shape?: PodShape | null;
  /** The shape's key, to notice a changed demand (annotations edited on a running pod). */
  shapeKey?: string;
  /** CPU request (milli) the pod holds on the node; pods without GPUs are recorded for this alone. */
  cpuMilli?: number;
  /** A pod without GPU resources, kept only for its CPU. */
  cpuOnly?: boolean;
  /** `spec.priority` and `status.startTime` (epoch ms): preemption's victim order. */
  priority?: number;
  startTime?: number | null;
  /** When this process's bind confirmed it (epoch ms): a LIST sent before then may not show it yet. */
  boundAt?: number;
  /** More pods on one of its GPUs than the ledger accounts exactly: recorded, takes not applied. */
  unaccounted?: boolean;
  /** The pod has a deletionTimestamp: still holds its share until it is gone, but is on its way out. */
  terminating?: boolean;
  state: AllocState;
  /** Epoch ms after which a reservation or nomination is dropped (Infinity for bound pods). */
  expiresAt: number;
}

export interface NodeLedger extends GpuNode {
  readonly name: string;
  /** The name as a JSON string literal in UTF-8, made once: replies list thousands of names (server/reply-bytes.ts). */
  readonly jsonBytes: Uint8Array;
  inventory: NodeInventory;
  /** Identity of the inventory's content: a Node update that changes nothing GPU-related keeps it. */
  inventoryKey: string;
  gpus: GpuUsage[];
  store: CounterStore;
  base: number;
  migs: ReadonlyMap<string, number>[];
  pods: Map<string, PodAllocation>;
  /** Σ CPU requests (milli) of the pods on the node, GPU pods or not. */
  cpuMilli: number;
  /** Pods recorded here whose takes could not be applied (see PodAllocation.unaccounted). */
  unaccounted: number;
  /** Bumped on every change of this node (caches key on it, with the ledger-wide epoch). */
  generation: number;
  /**
   * A small number of the node's own, while it is in a ledger (−1 for scratch views): memos keep
   * per-node answers in arrays indexed by it (filter/fit-cache.ts). With the generation (unique
   * process-wide) it identifies the node and its state, so a slot taken over by another node
   * never serves that node an old answer.
   */
  readonly slot: number;
  /**
   * Memo of scorer inputs (the fit answers and ratings are kept by slot: state/slot-memo.ts), valid while `generation` is unchanged. Lives on the
   * node so the hot path pays one property read instead of a WeakMap lookup.
   */
  memo?: NodeMemo;
}

export interface NodeMemo {
  generation: number;
  fragBefore?: { epoch: unknown; value: number };
  /** Free capacity per GPU as the node is (prioritize/scorers.ts freeNow). */
  free?: readonly GpuFree[];
}

/** A name's JSON string literal as UTF-8 (JSON.stringify escapes lone surrogates: the bytes are exact). */
function jsonLiteral(name: string): Uint8Array {
  return Buffer.from(JSON.stringify(name), 'utf8');
}

/** Slots (NodeLedger.slot): handed out smallest-free-first, given back when a node leaves its ledger or is collected. */
const freeSlots: number[] = [];
let nextSlot = 0;
const slotOwners = new FinalizationRegistry<number>((slot) => freeSlots.push(slot));

function takeSlot(owner: object): number {
  const slot = freeSlots.pop() ?? nextSlot++;
  slotOwners.register(owner, slot, owner);
  return slot;
}

function giveSlot(owner: { slot: number }): void {
  if (owner.slot < 0 || !slotOwners.unregister(owner)) return;
  freeSlots.push(owner.slot);
}

/** Slots handed out so far (the length arrays indexed by slot need). */
export function slotCount(): number {
  return nextSlot;
}

/**
 * Generations come from one counter for the whole process, so a node deleted and re-created never
 * reuses a generation a cached answer was computed for.
 */
let nextGeneration = 1;
export function newGeneration(): number {
  return nextGeneration++;
}

/** The node's memo for its current generation (a fresh one after any change). */
export function memoOf(node: NodeLedger): NodeMemo {
  let m = node.memo;
  if (m === undefined || m.generation !== node.generation) {
    m = { generation: node.generation };
    node.memo = m;
  }
  return m;
}

/** A stable text for everything in an inventory the rules read. */
export function inventoryKey(inv: NodeInventory): string {
  return JSON.stringify(inv, (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : v));
}

/** Candidate lists remembered by Ledger.lookup (kube-scheduler sends the same few lists over and over). */
const RECENT_LISTS = 4;

interface RecentList {
  /** The array last asked about (identity: the same list again); null for a picked list not asked about yet. */
  source: readonly string[] | null;
  /** The names as they were (compared with a new list); of a picked list, its parent's. */
  names: readonly string[];
  /** A picked list: its names are `names` at these indexes. */
  picked: ArrayLike<number> | null;
  membership: number;
  /** The answers; a picked list's are made from its parent's (`from`) when first used. */
  nodes: readonly (NodeLedger | undefined)[] | null;
  from: readonly (NodeLedger | undefined)[] | null;
}

function sameList(e: RecentList, names: readonly string[]): boolean {
  const picked = e.picked;
  if (picked === null) return sameNames(e.names, names);
  if (picked.length !== names.length) return false;
  for (let k = 0; k < picked.length; k++) if (e.names[picked[k]] !== names[k]) return false;
  return true;
}

function answersOf(e: RecentList): readonly (NodeLedger | undefined)[] {
  if (e.nodes === null) {
    const picked = e.picked!;
    const from = e.from!;
    const nodes = new Array<NodeLedger | undefined>(picked.length);
    for (let k = 0; k < picked.length; k++) nodes[k] = from[picked[k]];
    e.nodes = nodes;
    e.from = null;
  }
  return e.nodes;
}

export class Ledger {
  private readonly byName = new Map<string, NodeLedger>();
  /** The numbers of every node's GPU usages, a range per node (usage.ts CounterStore). */
  private readonly counters = new CounterStore(1024);
  /** Nodes by name; only the ledger adds and removes them (see `membership`). */
  readonly nodes: ReadonlyMap<string, NodeLedger> = this.byName;
  /** Bumped whenever a node is added or removed (not when one changes): Ledger.lookup's validity. */
  private membership = 0;
  private recent: RecentList[] = [];
  readonly pods = new Map<string, PodAllocation>();
  /** Nodes known to exist but without NVIDIA GPUs (so filter can say "no GPU", not "unknown"). */
  readonly cpuNodes = new Set<string>();
  /** Pods recorded on a node the ledger does not have (yet, or any more), by node name. */
  private readonly detached = new Map<string, Set<string>>();
  /** UIDs of the reservations and nominations (expire() looks at these only). */
  private readonly expiring = new Set<string>();
  /** Bumped on every change anywhere (metrics, caches). */
  generation = 0;

  knownWithoutGpu(name: string): boolean {
    return this.cpuNodes.has(name);
  }

  /**
   * The node of each name (undefined: not in the ledger). The names of a request are fresh strings,
   * and looking up thousands of them costs more than the fit answers themselves; kube-scheduler
   * sends the same candidate lists again and again, so the last few lists' answers are kept and
   * reused while no node has been added or removed — comparing a list with a remembered one costs
   * a fraction of looking it up, and the very list asked about last (the same array: a verb
   * resolving its request's names twice) costs nothing. A list is never changed after it was
   * looked up (the verbs' request lists are not).
   */
  lookup(names: readonly string[]): readonly (NodeLedger | undefined)[] {
    const e = this.find(names);
    if (e) return answersOf(e);
    const nodes = new Array<NodeLedger | undefined>(names.length);
    for (let i = 0; i < names.length; i++) nodes[i] = this.byName.get(names[i]);
    this.keep({ source: names, names: [...names], picked: null, membership: this.membership, nodes, from: null });
    return nodes;
  }

  /**
   * Remembers the sub-list `picked` (indexes, in order, never changed afterwards) of a list just
   * looked up as a list of its own: filter's passing nodes, which kube-scheduler sends next, in
   * that order, to prioritize. Made from the looked-up answers, never from a second source, and
   * only when first asked for: filter allocates nothing for it.
   */
  rememberPicked(names: readonly string[], picked: ArrayLike<number>): void {
    const e = this.find(names);
    if (!e || e.picked !== null || picked.length === names.length) return;
    this.keep({ source: null, names: e.names, picked, membership: this.membership, nodes: null, from: answersOf(e) });
  }

  private find(names: readonly string[]): RecentList | undefined {
    for (let r = 0; r < this.recent.length; r++) {
      const e = this.recent[r];
      if (e.membership !== this.membership || (e.source !== names && !sameList(e, names))) continue;
      // The same content: the newest array stands for it (the verb that asked resolves it again).
      e.source = names;
      if (r > 0) {
        this.recent.splice(r, 1);
        this.recent.unshift(e);
      }
      return e;
    }
    return undefined;
  }

  private keep(e: RecentList): void {
    this.recent = this.recent.filter((x) => x.membership === this.membership);
    this.recent.unshift(e);
    if (this.recent.length > RECENT_LISTS) this.recent.length = RECENT_LISTS;
  }

  /**
   * Adds or updates a node's inventory. Returns the node and whether its inventory changed (the
   * caller then re-accounts its pods: their takes depend on the inventory). An update that
   * changes nothing GPU-related (a status heartbeat) keeps the node's generation and caches.
   */
  setNode(inventory: NodeInventory): NodeLedger {
    return this.upsertNode(inventory).node;
  }

  /** setNode, also saying whether the inventory changed (ClusterState then re-accounts the node's pods). */
  upsertNode(inventory: NodeInventory): { node: NodeLedger; changed: boolean } {
    const key = inventoryKey(inventory);
    const existing = this.nodes.get(inventory.name);
    if (existing) {
      if (existing.inventoryKey === key) return { node: existing, changed: false };
      existing.inventory = inventory;
      existing.inventoryKey = key;
      this.recount(existing);
      return { node: existing, changed: true };
    }
    const idle = newUsages(inventory.gpus.length, this.counters);
    const node: NodeLedger = {
      name: inventory.name,
      jsonBytes: jsonLiteral(inventory.name),
      inventory,
      inventoryKey: key,
      gpus: idle.gpus,
      store: idle.store,
      base: idle.base,
      migs: idle.migs,
      pods: new Map(),
      cpuMilli: 0,
      unaccounted: 0,
      generation: newGeneration(),
      slot: -1,
      memo: undefined,
    };
    (node as { slot: number }).slot = takeSlot(node);
    this.byName.set(inventory.name, node);
    this.membership++;
    // Pods seen before their node (events come in any order, or the node was re-created).
    const waiting = this.detached.get(inventory.name);
    if (waiting) {
      this.detached.delete(inventory.name);
      for (const uid of waiting) {
        const alloc = this.pods.get(uid);
        if (alloc && alloc.node === inventory.name) node.pods.set(uid, alloc);
      }
    }
    this.recount(node);
    return { node, changed: true };
  }

  /** Removes a node. Its pods stay recorded (detached) until they are deleted or the node comes back. */
  deleteNode(name: string): string[] {
    const node = this.nodes.get(name);
    if (!node) return [];
    this.byName.delete(name);
    this.membership++;
    giveSlot(node);
    releaseUsages(node);
    const uids = [...node.pods.keys()];
    if (uids.length > 0) this.detached.set(name, new Set(uids));
    this.generation++;
    return uids;
  }

  /** Records (or replaces) a pod's allocation. Idempotent for the same UID and allocation. */
  put(alloc: PodAllocation): void {
    this.remove(alloc.uid);
    this.pods.set(alloc.uid, alloc);
    if (alloc.state !== 'bound') this.expiring.add(alloc.uid);
    const node = this.nodes.get(alloc.node);
    if (node) {
      node.pods.set(alloc.uid, alloc);
      this.apply(node, alloc, +1);
      node.generation = newGeneration();
    } else {
      let set = this.detached.get(alloc.node);
      if (!set) this.detached.set(alloc.node, (set = new Set()));
      set.add(alloc.uid);
    }
    this.generation++;
  }

  /** Releases a pod. Returns the allocation that was removed, if any. */
  remove(uid: string): PodAllocation | undefined {
    const alloc = this.pods.get(uid);
    if (!alloc) return undefined;
    this.pods.delete(uid);
    this.expiring.delete(uid);
    const node = this.nodes.get(alloc.node);
    if (node && node.pods.delete(uid)) {
      this.apply(node, alloc, -1);
      node.generation = newGeneration();
    } else {
      const set = this.detached.get(alloc.node);
      if (set) {
        set.delete(uid);
        if (set.size === 0) this.detached.delete(alloc.node);
      }
    }
    this.generation++;
    return alloc;
  }

  /** Marks a reservation as bound (the Binding succeeded, or the pod showed up with spec.nodeName). */
  confirm(uid: string, now: number = Date.now()): void {
    const alloc = this.pods.get(uid);
    if (alloc && alloc.state === 'reserved') {
      alloc.state = 'bound';
      alloc.expiresAt = Infinity;
      alloc.boundAt = now;
      this.expiring.delete(uid);
      this.generation++;
    }
  }

  /** Drops reservations and nominations whose TTL passed. Returns what expired. */
  expire(now: number): PodAllocation[] {
    const expired: PodAllocation[] = [];
    for (const uid of this.expiring) {
      const alloc = this.pods.get(uid);
      if (alloc && alloc.state !== 'bound' && alloc.expiresAt <= now) expired.push(alloc);
    }
    for (const alloc of expired) this.remove(alloc.uid);
    return expired;
  }

  /** Pods recorded on nodes the ledger does not have, by node name. */
  detachedPods(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.detached;
  }

  /** Recomputes a node's counters from its pods (after an inventory change). */
  private recount(node: NodeLedger): void {
    const gpuCount = node.inventory.gpus.length;
    if (node.gpus.length === gpuCount) clearUsages(node);
    else {
      releaseUsages(node);
      const idle = newUsages(gpuCount, this.counters);
      node.gpus = idle.gpus;
      node.store = idle.store;
      node.base = idle.base;
      node.migs = idle.migs;
    }
    node.cpuMilli = 0;
    node.unaccounted = 0;
    for (const alloc of node.pods.values()) this.apply(node, alloc, +1);
    node.generation = newGeneration();
    this.generation++;
  }

  private apply(node: NodeLedger, alloc: PodAllocation, sign: 1 | -1): void {
    node.cpuMilli += sign * (alloc.cpuMilli ?? 0);
    if (sign > 0) {
      // The counters stay exact only up to MAX_PODS_PER_GPU takes per GPU; more pods than that on
      // one GPU can only have bypassed the scheduler: keep them recorded, flag the node.
      const unaccounted = alloc.takes.some((t) => (node.gpus[t.gpu]?.pods ?? 0) >= MAX_PODS_PER_GPU);
      // Set only when true (or already present): a property added to every allocation costs
      // each of them a separate property array.
      if (unaccounted || alloc.unaccounted !== undefined) alloc.unaccounted = unaccounted;
    }
    if (alloc.unaccounted) {
      node.unaccounted += sign;
      return;
    }
    applyTakes(node, alloc.takes, sign);
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function applyTakes(node: { gpus: GpuUsage[] }, takes: readonly GpuTake[], sign: 1 | -1): void {
  for (const t of takes) {
    const g = node.gpus[t.gpu];
    // A GPU index beyond the current inventory (node shrank) is remembered with the pod but has
    // no counter to update; recount() re-applies it if the GPU comes back.
    if (g) applyTake(g, t, sign);
  }
}

/** A scratch node with the same inventory and a chosen set of pods (preemption, full-Node requests). */
function scratch(name: string, inventory: NodeInventory, pods: Iterable<[string, PodAllocation]>): NodeLedger {
  const idle = newUsages(inventory.gpus.length);
  const view: NodeLedger = {
    name,
    jsonBytes: jsonLiteral(name),
    inventory,
    inventoryKey: '',
    gpus: idle.gpus,
    store: idle.store,
    base: idle.base,
    migs: idle.migs,
    pods: new Map(),
    cpuMilli: 0,
    unaccounted: 0,
    generation: -1,
    slot: -1,
    memo: undefined,
  };
  for (const [uid, alloc] of pods) {
    view.pods.set(uid, alloc);
    view.cpuMilli += alloc.cpuMilli ?? 0;
    if (!alloc.unaccounted) applyTakes(view, alloc.takes, +1);
  }
  return view;
}

/** What the node would look like without some pods — what preemption would leave. The ledger is not touched. */
export function nodeWithout(node: NodeLedger, uids: ReadonlySet<string>): NodeLedger {
  return scratch(node.name, node.inventory, [...node.pods].filter(([uid]) => !uids.has(uid)));
}

/** A read-only view of a node under another inventory (full-Node requests): same pods, recounted. */
export function nodeWithInventory(node: NodeLedger | undefined, inventory: NodeInventory): NodeLedger {
  return scratch(inventory.name, inventory, node ? node.pods : []);
}
