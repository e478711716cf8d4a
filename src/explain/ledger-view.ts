// The ledger as people and tools read it: per node and GPU, capacity, use and free room in each
// dimension the node's sharing mode accounts, the pods behind the use, problems and overcommits,
// and the node's fragmentation for the typical pod shapes. GET /api/ledger, the page and
// `kubectl gpu-ledger top` all read this one view. Nothing here decides anything: every number
// comes from the GPU rules' own functions (gpuCapacity, gpuFree, overcommits, nodeRoom) and the
// fragmentation scorer (nodeFragmentation), so the view cannot disagree with the scheduler.

import { nodeRoom, type NodeRoom } from '../gpu/advice.js';
import { gpuCapacity, gpuFree, type GpuFree } from '../gpu/free.js';
import { matchesSelector } from '../model/config.js';
import type { LedgerConfig } from '../model/config-types.js';
import { formatBytes, formatMilli } from '../model/quantity.js';
import type { NodeInventory } from '../model/types.js';
import { nodeCpuFree, nodeFragmentation } from '../prioritize/scorers.js';
import type { ClusterState } from '../state/cluster-state.js';
import type { NodeLedger, PodAllocation } from '../state/ledger.js';
import { nodeProblems } from './explain.js';
import { DEFAULT_PODS_PER_GPU, MAX_PODS_PER_GPU_LISTED, type LedgerQuery } from './ledger-query.js';

/** Pods listed per GPU in a node's own view (a page of nodes lists LedgerQuery.pods). */
export const PODS_PER_GPU_IN_NODE = MAX_PODS_PER_GPU_LISTED;
/** Namespaces offered as a filter. */
export const MAX_NAMESPACE_FACETS = 200;

export type DimensionName = 'replicas' | 'memory' | 'threads' | 'clients' | 'mig';

/** One accounted dimension of one GPU. Threads are a ratio of one GPU (1 = 100 %). */
export interface Dimension {
  name: DimensionName;
  /** MIG profile (dimension `mig`). */
  profile?: string;
  unit: 'count' | 'bytes' | 'ratio';
  used: number;
  capacity: number;
  free: number;
  /** "64Gi / 128Gi", "50% / 100%", "3 / 10". */
  text: string;
}

export interface PodOnGpu {
  namespace: string;
  name: string;
  uid: string;
  /** `nominated`: the share a preemptor holds while its victims go (priority preemption). */
  state: 'bound' | 'reserved' | 'nominated';
  exclusive: boolean;
  replicas: number;
  memoryBytes: number;
  /** Thread share of this GPU, 0..1. */
  threads: number;
  clients: number;
  mig: Record<string, number>;
  /** Recorded but beyond what gpu-ledger accounts per GPU (its take is not counted). */
  unaccounted: boolean;
}

export interface GpuView {
  index: number;
  dimensions: Dimension[];
  /** The mode accounts memory but the GPU's memory is unknown (time-slicing without a memory label). */
  memoryUnknown: boolean;
  /** Pods with a take on this GPU (all of them), and the first of them by namespace/name. */
  podCount: number;
  pods: PodOnGpu[];
  exclusive: boolean;
  idle: boolean;
}

export interface NodeView {
  name: string;
  mode: string;
  model: string;
  tier: string | null;
  /** The first pool of the config file whose selector matches the node's labels. */
  pool: string | null;
  placement: string;
  cpu: { allocatableMilli: number; requestedMilli: number };
  /**
   * FGD fragmentation for the workload's typical shapes: of `freeGpus` (free capacity, in GPUs, on
   * GPUs not held exclusively), `unusableGpus` is what the typical pods could not use.
   */
  fragmentation: { unusableGpus: number; freeGpus: number };
  /** The largest pod that fits now, in words. */
  room: string;
  problems: string[];
  /** Capacity in use beyond what the node has, or pods beyond what is accounted (pods bound outside the scheduler). */
  overcommitted: boolean;
  pods: { bound: number; reserved: number; cpuOnly: number };
  gpus: GpuView[];
}

export interface NodeDetail extends NodeView {
  /** Free room per GPU (explain's `room`). */
  roomPerGpu: NodeRoom['gpus'];
  inventory: {
    resource: string;
    perGpuResources: boolean;
    migStrategy: string;
    memorySource: string;
    reservedMemory: string;
    computeOvercommit: number;
    mpsMaxClients: number;
    mpsDaemonLimits: boolean;
    labels: Record<string, string>;
  };
}

export interface LedgerView {
  generatedAt: string;
  ready: boolean;
  totals: { gpuNodes: number; cpuNodes: number; problemNodes: number; gpus: number; pods: { bound: number; reserved: number; cpuOnly: number } };
  query: Omit<LedgerQuery, 'limit' | 'offset' | 'pods'>;
  /** Nodes matching the filters; `nodes` is the page [offset, offset + limit) of them by name. */
  matched: number;
  offset: number;
  limit: number;
  nextOffset: number | null;
  nodes: NodeView[];
  /** Values the filters can take. */
  facets: { pools: string[]; modes: string[]; namespaces: string[]; namespacesTruncated: boolean };
}

/** The first pool whose selector matches: what the page shows (the inventory does not record it). */
export function poolOf(inv: NodeInventory, config: LedgerConfig): string | null {
  for (const p of config.pools) if (matchesSelector(inv.labels, p.selector)) return p.name;
  return null;
}

function dims(node: NodeLedger, i: number, free: GpuFree): { dimensions: Dimension[]; memoryUnknown: boolean } {
  const { capacity, limits } = gpuCapacity(node, i);
  const u = node.gpus[i];
  const out: Dimension[] = [];
  const count = (name: DimensionName, used: number, cap: number, f: number, profile?: string) =>
    out.push({ name, ...(profile ? { profile } : {}), unit: 'count', used, capacity: cap, free: f, text: `${used} / ${cap}` });
  if (capacity.replicas > 0) count('replicas', u.replicas, capacity.replicas, free.replicas);
  let memoryUnknown = false;
  if (limits.memory) {
    if (capacity.memoryBytes > 0) {
      out.push({ name: 'memory', unit: 'bytes', used: u.memoryBytes, capacity: capacity.memoryBytes, free: free.memoryBytes, text: `${formatBytes(u.memoryBytes)} / ${formatBytes(capacity.memoryBytes)}` });
    } else memoryUnknown = true;
  }
  if (limits.threads) {
    out.push({ name: 'threads', unit: 'ratio', used: u.threadMilli / 1000, capacity: capacity.threadMilli / 1000, free: free.threadMilli / 1000, text: `${formatMilli(u.threadMilli)} / ${formatMilli(capacity.threadMilli)}` });
  }
  if (limits.clients) count('clients', u.clients, capacity.clients, free.clients);
  for (const [profile, cap] of capacity.mig) count('mig', u.mig.get(profile) ?? 0, cap, free.mig.get(profile) ?? 0, profile);
  return { dimensions: out, memoryUnknown };
}

function podsByGpu(node: NodeLedger, namespace: string | null): PodOnGpu[][] {
  const out: PodOnGpu[][] = node.inventory.gpus.map(() => []);
  for (const a of node.pods.values()) {
    if (a.cpuOnly || (namespace !== null && a.namespace !== namespace)) continue;
    for (const t of a.takes) {
      out[t.gpu]?.push({
        namespace: a.namespace,
        name: a.name,
        uid: a.uid,
        state: a.state,
        exclusive: t.exclusive,
        replicas: t.replicas,
        memoryBytes: t.memoryBytes,
        threads: t.threadMilli / 1000,
        clients: t.clients,
        mig: t.mig ? Object.fromEntries(t.mig) : {},
        unaccounted: a.unaccounted === true,
      });
    }
  }
  for (const list of out) list.sort((x, y) => x.namespace.localeCompare(y.namespace) || x.name.localeCompare(y.name));
  return out;
}

function podCounts(pods: Iterable<PodAllocation>): { bound: number; reserved: number; cpuOnly: number } {
  const c = { bound: 0, reserved: 0, cpuOnly: 0 };
  for (const a of pods) {
    if (a.cpuOnly) c.cpuOnly++;
    else if (a.state === 'bound') c.bound++;
    else c.reserved++;
  }
  return c;
}

/** One node as the view shows it; `podsPerGpu` bounds the pods listed per GPU. */
export function nodeView(state: ClusterState, node: NodeLedger, namespace: string | null = null, podsPerGpu = DEFAULT_PODS_PER_GPU): NodeView {
  const inv = node.inventory;
  const free = gpuFree(node);
  const pods = podsByGpu(node, namespace);
  const gpus: GpuView[] = free.map((f, i) => ({
    index: i,
    ...dims(node, i, f),
    podCount: pods[i].length,
    pods: pods[i].slice(0, podsPerGpu),
    exclusive: (node.gpus[i]?.exclusive ?? 0) > 0,
    idle: f.idle,
  }));
  let freeGpus = 0;
  for (const f of free) if (!f.blocked) freeGpus += f.fraction;
  const problems = nodeProblems(node);
  return {
    name: node.name,
    mode: inv.mode,
    model: inv.model,
    tier: inv.tier,
    pool: poolOf(inv, state.config),
    placement: inv.placement,
    cpu: { allocatableMilli: inv.cpuMilli, requestedMilli: node.cpuMilli },
    fragmentation: { unusableGpus: round3(nodeFragmentation(node, free, state.workload.shapes(), nodeCpuFree(node))), freeGpus: round3(freeGpus) },
    room: nodeRoom(node).largest,
    problems,
    overcommitted: problems.length > inv.problems.length,
    pods: podCounts(node.pods.values()),
    gpus,
  };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** A node with every pod listed (up to PODS_PER_GPU_IN_NODE per GPU), free room per GPU and its inventory settings. */
export function nodeDetail(state: ClusterState, name: string): NodeDetail | undefined {
  const node = state.ledger.nodes.get(name);
  if (!node) return undefined;
  const inv = node.inventory;
  return {
    ...nodeView(state, node, null, PODS_PER_GPU_IN_NODE),
    roomPerGpu: nodeRoom(node).gpus,
    inventory: {
      resource: inv.resource,
      perGpuResources: inv.perGpuResources,
      migStrategy: inv.migStrategy,
      memorySource: inv.memorySource,
      reservedMemory: formatBytes(inv.reservedMemoryBytes),
      computeOvercommit: inv.computeOvercommit,
      mpsMaxClients: inv.mpsMaxClients,
      mpsDaemonLimits: inv.mpsDaemonLimits,
      labels: Object.fromEntries(Object.entries(inv.labels).slice(0, 100)),
    },
  };
}

/** Sorted node names and the namespaces in use, recomputed only when the ledger changed. */
interface Index {
  generation: number;
  size: number;
  names: string[];
  namespaces: string[];
}
const indexes = new WeakMap<ClusterState, Index>();

function indexOf(state: ClusterState): Index {
  const l = state.ledger;
  const cached = indexes.get(state);
  if (cached && cached.generation === l.generation && cached.size === l.nodes.size) return cached;
  const ns = new Set<string>();
  for (const a of l.pods.values()) if (!a.cpuOnly) ns.add(a.namespace);
  const index = { generation: l.generation, size: l.nodes.size, names: [...l.nodes.keys()].sort(), namespaces: [...ns].sort() };
  indexes.set(state, index);
  return index;
}

function matches(state: ClusterState, node: NodeLedger, q: LedgerQuery): boolean {
  if (q.node !== null && !node.name.toLowerCase().includes(q.node.toLowerCase())) return false;
  if (q.mode !== null && node.inventory.mode !== q.mode) return false;
  if (q.pool !== null && poolOf(node.inventory, state.config) !== q.pool) return false;
  if (q.namespace !== null) {
    for (const a of node.pods.values()) if (!a.cpuOnly && a.namespace === q.namespace) return true;
    return false;
  }
  return true;
}

/** A page of the ledger. Work per call: a pass over the nodes (filters) and the page's GPUs. */
export function ledgerView(state: ClusterState, q: LedgerQuery, ready: boolean, now: Date = new Date()): LedgerView {
  const l = state.ledger;
  const index = indexOf(state);
  const matched: NodeLedger[] = [];
  let problemNodes = 0;
  let gpus = 0;
  const modes = new Set<string>();
  for (const name of index.names) {
    const node = l.nodes.get(name)!;
    if (node.inventory.problems.length > 0) problemNodes++;
    gpus += node.inventory.gpus.length;
    modes.add(node.inventory.mode);
    if (matches(state, node, q)) matched.push(node);
  }
  const page = matched.slice(q.offset, q.offset + q.limit);
  const next = q.offset + q.limit;
  return {
    generatedAt: now.toISOString(),
    ready,
    totals: { gpuNodes: l.nodes.size, cpuNodes: l.cpuNodes.size, problemNodes, gpus, pods: podCounts(l.pods.values()) },
    query: { node: q.node, pool: q.pool, mode: q.mode, namespace: q.namespace },
    matched: matched.length,
    offset: q.offset,
    limit: q.limit,
    nextOffset: next < matched.length ? next : null,
    nodes: page.map((n) => nodeView(state, n, q.namespace, q.pods)),
    facets: {
      pools: state.config.pools.map((p) => p.name),
      modes: [...modes].sort(),
      namespaces: index.namespaces.slice(0, MAX_NAMESPACE_FACETS),
      namespacesTruncated: index.namespaces.length > MAX_NAMESPACE_FACETS,
    },
  };
}
