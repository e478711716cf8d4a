// Fit check: (demand, node ledger) → the GPU takes the pod would get, or the reasons it cannot.
// Pure: reads the ledger, never changes it. The same function decides filter, bind, preempt,
// explain and the trace replay, so a rule lives here once.

import type { GpuClient, GpuTake, NodeInventory, PodDemand, Reason, ReasonCode } from '../model/types.js';
import type { GpuUsage, NodeLedger } from '../state/ledger.js';

/**
 * `sequence`: the GPU of every replica/instance in placement order — what bind records in the
 * `gpu-ledger.io/gpus` annotation so the same placement is rebuilt after a restart.
 */
export type FitResult = { fits: true; takes: GpuTake[]; sequence: number[] } | { fits: false; reasons: Reason[] };

/**
 * Picks one GPU among candidates for one replica/instance under the `extender` placement policy.
 * Gets the candidate GPU indexes (already known to have room for the replica) and returns one.
 * The default is GPU-level best fit; the trace replay plugs fragmentation-aware choosers here.
 */
export type GpuChooser = (node: NodeLedger, candidates: readonly number[], demand: PodDemand, client: GpuClient) => number;

export interface FitOptions {
  chooser?: GpuChooser;
  /**
   * GPUs recorded for the pod at bind time (annotation `gpu-ledger.io/gpus`), one entry per
   * replica/instance in placement order: the pod is placed exactly there.
   */
  pinned?: readonly number[] | null;
  /**
   * Record reality rather than decide: a pod that is already running is accounted even when the
   * node is overcommitted or its spec has errors (capacity checks and spec errors are skipped).
   */
  force?: boolean;
}

const PER_GPU_RE = /^nvidia\.com\/gpu(\d+)$/;
const REPLICA_RESOURCES = new Set(['nvidia.com/gpu', 'nvidia.com/gpu.shared']);

/** Position in the pinned list, and the placement order being recorded. */
interface Cursor {
  next: number;
  sequence: number[];
}

/** The pod's accumulated take on one GPU while it is being placed. */
interface Draft {
  gpu: number;
  replicas: number;
  memoryBytes: number;
  threadMilli: number;
  clients: number;
  mig: Map<string, number> | null;
  /** A client on this GPU set its memory explicitly (env), so the pod-level declaration does not replace it. */
  explicitMemory: boolean;
  /** Σ of per-replica defaults, used when the pod declares memory per GPU. */
  defaultMemory: number;
}

function freeReplicas(inv: NodeInventory, usage: GpuUsage, gpu: number): number {
  return inv.gpus[gpu].replicas - usage.replicas;
}

function reason(
  code: ReasonCode,
  resource: string,
  gpu: number | null,
  requested: number,
  used: number,
  capacity: number,
  unit: Reason['unit'],
  resolvable: boolean,
  detail?: string,
): Reason {
  const r: Reason = { code, resource, gpu, requested, used, capacity, unit, resolvable };
  if (detail !== undefined) r.detail = detail;
  return r;
}

/**
 * The memory per GPU a pod says it needs, for nodes where MPS does not enforce anything
 * (time-slicing, MIG): its `gpu-ledger.io/gpu-memory` annotation, else the largest
 * CUDA_MPS_PINNED_DEVICE_MEM_LIMIT entry — the env has no effect there, but it is the pod's
 * best statement of its memory need. null when the pod says nothing.
 */
export function declaredMemory(demand: PodDemand): number | null {
  if (demand.declaredMemoryBytes !== null) return demand.declaredMemoryBytes;
  let max: number | null = null;
  for (const c of demand.clients) {
    for (const v of c.memLimitByOrdinal.values()) max = Math.max(max ?? 0, v);
    for (const v of c.memLimitByUuid.values()) max = Math.max(max ?? 0, v);
  }
  return max;
}

/** Memory (bytes) one replica of a GPU is worth: the device plugin's default MPS limit. */
export function memoryPerReplica(inv: NodeInventory, gpu: number): number {
  const g = inv.gpus[gpu];
  return g && g.replicas > 0 ? Math.floor(g.memoryBytes / g.replicas) : 0;
}

/** Compute (milli) one replica is worth: 100 / replicas %. */
export function threadsPerReplica(inv: NodeInventory, gpu: number): number {
  const g = inv.gpus[gpu];
  return g && g.replicas > 0 ? Math.floor(1000 / g.replicas) : 0;
}

/** Resource names the node offers (for "resource missing" reasons). */
export function offersResource(inv: NodeInventory, resource: string): boolean {
  const perGpu = PER_GPU_RE.exec(resource);
  if (perGpu) return inv.perGpuResources && Number(perGpu[1]) < inv.gpus.length;
  if (REPLICA_RESOURCES.has(resource)) {
    if (inv.perGpuResources) return false;
    if (inv.mode === 'mig') return inv.migStrategy === 'single' && resource === 'nvidia.com/gpu';
    return resource === inv.resource;
  }
  for (const p of inv.migProfiles.values()) if (p.resource === resource) return true;
  return false;
}

export function fitPod(demand: PodDemand, node: NodeLedger, options: FitOptions = {}): FitResult {
  const inv = node.inventory;
  const force = options.force === true;
  if (demand.errors.length > 0 && !force) {
    return { fits: false, reasons: [reason('invalid-pod', 'pod', null, 0, 0, 0, 'none', false, demand.errors[0].message)] };
  }
  if (inv.problems.length > 0 && !force) {
    return {
      fits: false,
      reasons: inv.problems.map((p) => reason('node-problem', p.field, null, 0, 0, 0, 'none', false, p.message)),
    };
  }
  if (inv.gpus.length === 0) return { fits: false, reasons: [reason('no-gpu', 'nvidia.com/gpu', null, 0, 0, 0, 'none', false)] };

  // Node-level: every requested resource must exist here, and the effective request (which
  // covers init containers' peak) must fit in the free replicas/instances.
  const reasons: Reason[] = [];
  for (const [resource, count] of demand.requests) {
    if (!offersResource(inv, resource)) {
      reasons.push(reason('resource-missing', resource, null, count, 0, 0, 'count', false));
      continue;
    }
    const { free, capacity } = nodeFree(inv, node, resource);
    if (count > free && !force) reasons.push(reason(PER_GPU_RE.test(resource) ? 'gpu-tokens' : resource.startsWith('nvidia.com/mig-') || inv.mode === 'mig' ? 'mig-instances' : 'replicas', resource, null, count, capacity - free, capacity, 'count', true));
  }
  if (reasons.length > 0) return { fits: false, reasons };

  const drafts = new Map<number, Draft>();
  const cursor: Cursor = { next: 0, sequence: [] };
  for (const client of demand.clients) {
    const failure = placeClient(demand, client, node, drafts, options, cursor);
    if (failure) return { fits: false, reasons: [failure] };
  }
  const declared = inv.mode === 'mps' ? demand.declaredMemoryBytes : declaredMemory(demand);
  if (declared !== null && inv.mode !== 'mig' && inv.mode !== 'none') {
    for (const d of drafts.values()) {
      if (!d.explicitMemory) {
        const cap = inv.mode === 'mps' && inv.mpsDaemonLimits ? d.defaultMemory : Infinity;
        d.memoryBytes = Math.min(declared, cap);
      }
    }
  }
  const takes: GpuTake[] = [];
  for (const d of [...drafts.values()].sort((a, b) => a.gpu - b.gpu)) {
    takes.push({
      gpu: d.gpu,
      replicas: d.replicas,
      memoryBytes: d.memoryBytes,
      threadMilli: d.threadMilli,
      clients: d.clients,
      mig: d.mig,
      exclusive: demand.isolation === 'exclusive',
    });
  }
  const checkReasons = force ? [] : checkTakes(demand, node, takes);
  if (checkReasons.length > 0) return { fits: false, reasons: checkReasons };
  return { fits: true, takes, sequence: cursor.sequence };
}

function nodeFree(inv: NodeInventory, node: NodeLedger, resource: string): { free: number; capacity: number } {
  const perGpu = PER_GPU_RE.exec(resource);
  if (perGpu) {
    const i = Number(perGpu[1]);
    return { free: freeReplicas(inv, node.gpus[i], i), capacity: inv.gpus[i].replicas };
  }
  let free = 0;
  let capacity = 0;
  if (resource.startsWith('nvidia.com/mig-') || inv.mode === 'mig') {
    const profile = profileFor(inv, resource);
    if (!profile) return { free: 0, capacity: 0 };
    inv.gpus.forEach((g, i) => {
      const cap = g.mig.get(profile) ?? 0;
      capacity += cap;
      free += cap - (node.gpus[i].mig.get(profile) ?? 0);
    });
    return { free, capacity };
  }
  inv.gpus.forEach((g, i) => {
    capacity += g.replicas;
    // Exclusively held GPUs offer nothing to anyone else.
    if (node.gpus[i].exclusive === 0) free += freeReplicas(inv, node.gpus[i], i);
  });
  return { free, capacity };
}

function profileFor(inv: NodeInventory, resource: string): string | null {
  for (const p of inv.migProfiles.values()) if (p.resource === resource) return p.name;
  return null;
}

function draftFor(drafts: Map<number, Draft>, gpu: number): Draft {
  let d = drafts.get(gpu);
  if (!d) {
    d = { gpu, replicas: 0, memoryBytes: 0, threadMilli: 0, clients: 0, mig: null, explicitMemory: false, defaultMemory: 0 };
    drafts.set(gpu, d);
  }
  return d;
}

/** Places one client's replicas/tokens/instances and charges its memory and threads. */
function placeClient(
  demand: PodDemand,
  client: GpuClient,
  node: NodeLedger,
  drafts: Map<number, Draft>,
  options: FitOptions,
  cursor: Cursor,
): Reason | null {
  const inv = node.inventory;
  const perGpu = new Map<number, number>(); // gpu → replicas of this client
  for (const [gpu, n] of client.gpuTokens) perGpu.set(gpu, (perGpu.get(gpu) ?? 0) + n);

  if (client.replicas > 0) {
    if (inv.mode === 'mig') {
      const profile = [...inv.migProfiles.values()].find((p) => p.resource === 'nvidia.com/gpu');
      if (!profile) return reason('resource-missing', 'nvidia.com/gpu', null, client.replicas, 0, 0, 'count', false);
      const failure = placeMig(demand, client, node, drafts, profile.name, 'nvidia.com/gpu', client.replicas, options, cursor);
      if (failure) return failure;
    } else {
      for (let r = 0; r < client.replicas; r++) {
        const gpu = pinnedGpu(options, cursor, inv.gpus.length) ?? chooseReplicaGpu(demand, client, node, drafts, perGpu, options);
        if (gpu === null) {
          const exclusive = demand.isolation === 'exclusive';
          return reason(exclusive ? 'exclusive-busy' : 'replicas', inv.resource, null, client.replicas, r, client.replicas, 'count', true);
        }
        perGpu.set(gpu, (perGpu.get(gpu) ?? 0) + 1);
        cursor.sequence.push(gpu);
      }
    }
  }
  for (const [resource, n] of client.mig) {
    const profile = profileFor(inv, resource);
    if (!profile) return reason('resource-missing', resource, null, n, 0, 0, 'count', false);
    const failure = placeMig(demand, client, node, drafts, profile, resource, n, options, cursor);
    if (failure) return failure;
  }

  // Memory and threads per GPU this client sees. Ordinals are the client's visible order.
  const visible = [...perGpu.keys()].sort((a, b) => a - b);
  visible.forEach((gpu, ordinal) => {
    const k = perGpu.get(gpu) ?? 0;
    const d = draftFor(drafts, gpu);
    d.replicas += k;
    d.clients += 1;
    const { memoryBytes, threadMilli, explicit, defaultMemory } = chargeClient(inv, demand, client, gpu, k, ordinal, visible.length);
    d.memoryBytes += memoryBytes;
    d.threadMilli += threadMilli;
    d.defaultMemory += defaultMemory;
    if (explicit) d.explicitMemory = true;
  });
  return null;
}

/**
 * What one client costs on one GPU. MPS: its pinned-memory and thread-% env when set, else the
 * pod's declaration, else the replicas' share; when the daemon enforces per-replica limits the
 * env can only lower them. Time-slicing: the declared memory or the replicas' share.
 */
export function chargeClient(
  inv: NodeInventory,
  demand: PodDemand,
  client: GpuClient,
  gpu: number,
  replicas: number,
  ordinal: number,
  visibleCount: number,
): { memoryBytes: number; threadMilli: number; explicit: boolean; defaultMemory: number } {
  if (inv.mode === 'none') return { memoryBytes: inv.gpus[gpu].memoryBytes, threadMilli: 1000, explicit: true, defaultMemory: 0 };
  if (inv.mode === 'mig') return { memoryBytes: 0, threadMilli: 0, explicit: true, defaultMemory: 0 };
  const shareMem = replicas * memoryPerReplica(inv, gpu);
  const shareThr = replicas * threadsPerReplica(inv, gpu);
  if (inv.mode === 'time-slicing') {
    return { memoryBytes: shareMem, threadMilli: shareThr, explicit: false, defaultMemory: shareMem };
  }
  let envMem = client.memLimitByOrdinal.get(ordinal);
  if (envMem === undefined && visibleCount === 1 && client.memLimitByUuid.size === 1) {
    envMem = client.memLimitByUuid.values().next().value;
  }
  const capped = inv.mpsDaemonLimits;
  let memoryBytes = envMem ?? shareMem;
  if (capped && memoryBytes > shareMem) memoryBytes = shareMem;
  let threadMilli = client.threadMilli ?? demand.declaredThreadMilli ?? shareThr;
  if (capped && threadMilli > shareThr) threadMilli = shareThr;
  return { memoryBytes, threadMilli, explicit: envMem !== undefined, defaultMemory: shareMem };
}

/** The next recorded GPU for a pinned pod, or null when not pinned (or the record ran out). */
function pinnedGpu(options: FitOptions, cursor: Cursor, gpuCount: number): number | null {
  const pinned = options.pinned;
  if (!pinned || cursor.next >= pinned.length) return null;
  const gpu = pinned[cursor.next++];
  return gpu >= 0 && gpu < gpuCount ? gpu : null;
}

function chooseReplicaGpu(
  demand: PodDemand,
  client: GpuClient,
  node: NodeLedger,
  drafts: Map<number, Draft>,
  mine: Map<number, number>,
  options: FitOptions,
): number | null {
  const inv = node.inventory;
  const exclusive = demand.isolation === 'exclusive';
  const candidates: number[] = [];
  for (let i = 0; i < inv.gpus.length; i++) {
    const u = node.gpus[i];
    const taken = (drafts.get(i)?.replicas ?? 0) + (mine.get(i) ?? 0);
    if (u.replicas + taken >= inv.gpus[i].replicas) continue;
    if (u.exclusive > 0) continue;
    if (exclusive && u.pods > 0) continue;
    // Whole GPUs: one pod per GPU.
    if (inv.mode === 'none' && taken > 0) continue;
    candidates.push(i);
  }
  if (candidates.length === 0) {
    if (!options.force || inv.gpus.length === 0) return null;
    // Accounting a pod that runs regardless: it is somewhere; the policy's choice is the best guess.
    for (let i = 0; i < inv.gpus.length; i++) candidates.push(i);
  }
  const used = (i: number) => node.gpus[i].replicas + (drafts.get(i)?.replicas ?? 0) + (mine.get(i) ?? 0);
  switch (inv.placement) {
    case 'distributed': {
      // NVIDIA device plugin default: the GPU with the fewest replicas allocated (lowest index on ties).
      let best = candidates[0];
      for (const i of candidates) if (used(i) < used(best)) best = i;
      return best;
    }
    case 'packed': {
      let best = candidates[0];
      for (const i of candidates) if (used(i) > used(best)) best = i;
      return best;
    }
    case 'extender': {
      // Prefer GPUs this client does not use yet (a multi-GPU client wants distinct devices),
      // and among those the ones where the replica's share fits.
      const fresh = candidates.filter((i) => !mine.has(i));
      const pool = fresh.length > 0 ? fresh : candidates;
      const fitting = pool.filter((i) => replicaFits(demand, client, node, drafts, i));
      const finalPool = fitting.length > 0 ? fitting : pool;
      return (options.chooser ?? bestFitChooser)(node, finalPool, demand, client);
    }
  }
}

/** Would one more replica of this client still fit memory/threads/clients on GPU i? */
function replicaFits(demand: PodDemand, client: GpuClient, node: NodeLedger, drafts: Map<number, Draft>, i: number): boolean {
  const inv = node.inventory;
  if (inv.mode !== 'mps' && inv.mode !== 'time-slicing') return true;
  const u = node.gpus[i];
  const d = drafts.get(i);
  const c = chargeClient(inv, demand, client, i, 1, 0, 1);
  const declared = inv.mode === 'mps' ? demand.declaredMemoryBytes : declaredMemory(demand);
  const mem = declared !== null && !c.explicit ? declared : c.memoryBytes;
  const memCap = inv.gpus[i].memoryBytes - inv.reservedMemoryBytes;
  if (inv.gpus[i].memoryBytes > 0 && u.memoryBytes + (d?.memoryBytes ?? 0) + mem > memCap) return false;
  if (inv.mode === 'mps') {
    if (u.threadMilli + (d?.threadMilli ?? 0) + c.threadMilli > 1000 * inv.computeOvercommit) return false;
    if (u.clients + (d?.clients ?? 0) + 1 > inv.mpsMaxClients) return false;
  }
  return true;
}

/** Free fraction of a GPU in its tightest dimension (0 = full, 1 = idle). */
export function gpuFreeFraction(node: NodeLedger, i: number): number {
  const inv = node.inventory;
  const g = inv.gpus[i];
  const u = node.gpus[i];
  let used = g.replicas > 0 ? u.replicas / g.replicas : 1;
  if (inv.mode === 'mps' || inv.mode === 'time-slicing') {
    const memCap = g.memoryBytes - inv.reservedMemoryBytes;
    if (memCap > 0) used = Math.max(used, u.memoryBytes / memCap);
    if (inv.mode === 'mps') used = Math.max(used, u.threadMilli / (1000 * inv.computeOvercommit), u.clients / inv.mpsMaxClients);
  } else if (inv.mode === 'mig') {
    let cap = 0;
    let use = 0;
    for (const [p, n] of g.mig) {
      cap += n;
      use += u.mig.get(p) ?? 0;
    }
    used = cap > 0 ? use / cap : 1;
  }
  if (u.exclusive > 0) used = 1;
  return Math.max(0, 1 - used);
}

/** GPU-level best fit: the candidate with the least free capacity left (lowest index on ties). */
export const bestFitChooser: GpuChooser = (node, candidates) => {
  let best = candidates[0];
  let bestFree = gpuFreeFraction(node, best);
  for (const i of candidates) {
    const f = gpuFreeFraction(node, i);
    if (f < bestFree) {
      best = i;
      bestFree = f;
    }
  }
  return best;
};

function placeMig(
  demand: PodDemand,
  client: GpuClient,
  node: NodeLedger,
  drafts: Map<number, Draft>,
  profile: string,
  resource: string,
  count: number,
  options: FitOptions,
  cursor: Cursor,
): Reason | null {
  const inv = node.inventory;
  const info = inv.migProfiles.get(profile);
  const declared = declaredMemory(demand);
  if (!options.force && info && declared !== null && declared > info.memoryBytes) {
    return reason('mig-memory', resource, null, declared, 0, info.memoryBytes, 'bytes', false);
  }
  for (let n = 0; n < count; n++) {
    const candidates: number[] = [];
    for (let i = 0; i < inv.gpus.length; i++) {
      const cap = inv.gpus[i].mig.get(profile) ?? 0;
      const used = (node.gpus[i].mig.get(profile) ?? 0) + (drafts.get(i)?.mig?.get(profile) ?? 0);
      if (used < cap) candidates.push(i);
    }
    const pinned = pinnedGpu(options, cursor, inv.gpus.length);
    if (pinned === null && candidates.length === 0) {
      if (!options.force) return reason('mig-instances', resource, null, count, n, count, 'count', true);
      for (let i = 0; i < inv.gpus.length; i++) if (inv.gpus[i].mig.has(profile)) candidates.push(i);
      if (candidates.length === 0) return reason('mig-instances', resource, null, count, n, count, 'count', true);
    }
    const gpu = pinned ?? (options.chooser ?? bestFitChooser)(node, candidates, demand, client);
    cursor.sequence.push(gpu);
    const d = draftFor(drafts, gpu);
    d.mig ??= new Map();
    d.mig.set(profile, (d.mig.get(profile) ?? 0) + 1);
    d.explicitMemory = true;
  }
  return null;
}

/** Checks every constraint of every GPU the pod would touch. */
export function checkTakes(demand: PodDemand, node: NodeLedger, takes: readonly GpuTake[]): Reason[] {
  const inv = node.inventory;
  const out: Reason[] = [];
  for (const t of takes) {
    const g = inv.gpus[t.gpu];
    const u = node.gpus[t.gpu];
    if (!g || !u) {
      out.push(reason('resource-missing', `gpu ${t.gpu}`, t.gpu, 1, 0, 0, 'count', false));
      continue;
    }
    if (t.exclusive && u.pods > 0) out.push(reason('exclusive-busy', 'gpu', t.gpu, 1, u.pods, 0, 'count', true));
    if (!t.exclusive && u.exclusive > 0) out.push(reason('held-exclusive', 'gpu', t.gpu, 1, u.pods, 0, 'count', true));
    if (inv.mode !== 'mig' && t.replicas > 0 && u.replicas + t.replicas > g.replicas) {
      const perGpu = inv.perGpuResources;
      out.push(reason(perGpu ? 'gpu-tokens' : 'replicas', perGpu ? `nvidia.com/gpu${t.gpu}` : inv.resource, t.gpu, t.replicas, u.replicas, g.replicas, 'count', true));
    }
    if (inv.mode === 'mps' || inv.mode === 'time-slicing') {
      const memCap = g.memoryBytes - inv.reservedMemoryBytes;
      if (g.memoryBytes > 0 && u.memoryBytes + t.memoryBytes > memCap) {
        out.push(reason(inv.mode === 'mps' ? 'mps-memory' : 'timeslice-memory', 'memory', t.gpu, t.memoryBytes, u.memoryBytes, memCap, 'bytes', true));
      }
    }
    if (inv.mode === 'mps') {
      const thrCap = Math.round(1000 * inv.computeOvercommit);
      if (u.threadMilli + t.threadMilli > thrCap) out.push(reason('mps-threads', 'threads', t.gpu, t.threadMilli, u.threadMilli, thrCap, 'milli', true));
      if (u.clients + t.clients > inv.mpsMaxClients) out.push(reason('mps-clients', 'clients', t.gpu, t.clients, u.clients, inv.mpsMaxClients, 'count', true));
    }
    if (t.mig) {
      for (const [profile, n] of t.mig) {
        const cap = g.mig.get(profile) ?? 0;
        const used = u.mig.get(profile) ?? 0;
        if (used + n > cap) out.push(reason('mig-instances', inv.migProfiles.get(profile)?.resource ?? profile, t.gpu, n, used, cap, 'count', true));
      }
    }
  }
  return out;
}
