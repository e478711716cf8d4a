// The seam every sharing mode implements (Koordinator's device-handler table, HAMi's Devices
// interface): what one GPU offers, what a pod takes on it, whether that fits, and what is free.
// mps.ts, time-slicing.ts, mig.ts and whole.ts are the only files that know a mode's rules;
// modes.ts picks the one for a node.

import { NO_MIG, type GpuTake, type NodeInventory, type Reason, type SharingMode } from '../model/types.js';
import { reasons } from './reason.js';
import type { GpuKind } from './kind.js';
import type { FitShape } from './shape.js';
import { podsOnGpu, type GpuNode, type GpuUsage } from './usage.js';

/** What one GPU offers per dimension; 0 = the mode does not account that dimension (or, memory, unknown). */
export interface Capacity {
  replicas: number;
  /** Usable memory: the GPU's memory minus the reserved headroom. */
  memoryBytes: number;
  threadMilli: number;
  clients: number;
  mig: ReadonlyMap<string, number>;
}

/** Free capacity of one GPU, in the units the scorers and explain compare. */
export interface GpuFree {
  memoryBytes: number;
  threadMilli: number;
  replicas: number;
  clients: number;
  /** Free instances per MIG profile. */
  mig: ReadonlyMap<string, number>;
  /** Tightest dimension, 0..1 (1 = idle GPU). */
  fraction: number;
  /** No pod at all on this GPU. */
  idle: boolean;
  /** Held by an exclusive pod, or MIG: nothing shareable. */
  blocked: boolean;
}

/** One client's replicas (or tokens) on one GPU, and the device ordinal it sees that GPU as. */
export interface OnGpu {
  container: string;
  client: FitShape['clients'][number];
  replicas: number;
  ordinal: number;
  /** GPUs the client sees on this node. */
  visible: number;
}

/** Advice that does not change the decision but that users need (rendered by explain). */
export interface Note {
  code: 'threads-capped' | 'env-ignored' | 'replicas-no-isolation' | 'memory-undeclared' | 'memory-unknown' | 'uuid-match' | 'device-absent';
  message: string;
}

export interface PodTake {
  take: GpuTake;
  /** Why the pod can never get what it declares on this GPU (unresolvable), or null. */
  refusal: Reason | null;
  notes: readonly Note[];
}

export interface ModeRules {
  readonly mode: SharingMode;
  /** Free capacity can be split among pods of other shapes (fragmentation applies): not MIG. */
  readonly shareable: boolean;
  /** Dimensions whose capacity is a limit in this mode (besides replicas and MIG instances). */
  readonly limits: { readonly memory: boolean; readonly threads: boolean; readonly clients: boolean };
  capacity(inv: NodeInventory, gpu: number): Capacity;
  /**
   * The pod's take on one GPU: its clients' replicas there (`on`) or its MIG instances (`mig`).
   * Reads only the node's kind (./kind.ts): nodes of one kind give a pod the same takes.
   */
  take(kind: GpuKind, shape: FitShape, gpu: number, on: readonly OnGpu[], mig: ReadonlyMap<string, number> | null): PodTake;
  /** Capacity reasons for adding `take` to `u` (empty = it fits). */
  admit(node: GpuNode, take: GpuTake, u: GpuUsage): readonly Reason[];
  free(inv: NodeInventory, gpu: number, u: GpuUsage): GpuFree;
  /** Notes about the pod on this node as a whole. Reads only the node's kind, as take does. */
  podNotes(kind: GpuKind, shape: FitShape): readonly Note[];
}

// Shared empty answers: fit runs once per candidate node, and most answers have no notes and
// no reasons. Frozen, so a caller that tried to add to one would fail loudly.
export const NO_NOTES: readonly Note[] = Object.freeze([]);
export const NO_REASONS: readonly Reason[] = Object.freeze([]);

/** Appends `r` to `out` (allocated on the first reason): how admit() collects its reasons. */
export function addReason(out: Reason[] | null, r: Reason | null): Reason[] | null {
  if (r === null) return out;
  if (out === null) return [r];
  out.push(r);
  return out;
}

/** Memory one replica is worth: the device plugin's default MPS limit (memory / replicas). */
export function memoryPerReplica(inv: GpuKind, gpu: number): number {
  const g = inv.gpus[gpu];
  return g && g.replicas > 0 ? Math.floor(g.memoryBytes / g.replicas) : 0;
}

/** Compute (milli) one replica is worth: 100 / replicas %. */
export function threadsPerReplica(inv: GpuKind, gpu: number): number {
  const g = inv.gpus[gpu];
  return g && g.replicas > 0 ? Math.floor(1000 / g.replicas) : 0;
}

/** Usable memory of a GPU (memory − reserved headroom), 0 when the memory is unknown. */
export function usableMemory(inv: GpuKind, gpu: number): number {
  const m = inv.gpus[gpu]?.memoryBytes ?? 0;
  return m > 0 ? Math.max(0, m - inv.reservedMemoryBytes) : 0;
}

/** The resource name a GPU's replicas are requested by. */
export function replicaResource(inv: GpuKind, gpu: number): string {
  return inv.perGpuResources ? `nvidia.com/gpu${gpu}` : inv.resource;
}

/** Exclusivity, the same in every mode: an exclusive pod needs an idle GPU, a shared one avoids held GPUs. */
export function admitExclusivity(node: GpuNode, take: GpuTake, u: GpuUsage, cap: Capacity): Reason | null {
  if (take.exclusive && u.pods > 0) return reasons.exclusiveBusy(take.gpu, u.pods, podsOnGpu(node, take.gpu));
  if (!take.exclusive && u.exclusive > 0) {
    return reasons.heldExclusive(take.gpu, podsOnGpu(node, take.gpu, true), { requested: take.replicas, used: u.replicas, capacity: cap.replicas });
  }
  return null;
}

export function admitReplicas(inv: NodeInventory, take: GpuTake, u: GpuUsage, cap: Capacity): Reason | null {
  if (take.replicas <= 0 || u.replicas + take.replicas <= cap.replicas) return null;
  const a = { requested: take.replicas, used: u.replicas, capacity: cap.replicas };
  return inv.perGpuResources ? reasons.gpuTokens(replicaResource(inv, take.gpu), take.gpu, a) : reasons.replicas(inv.resource, take.gpu, a);
}

/** The share of a dimension in use, 0 when it has no capacity (the free fraction is 1 − the largest, freeFromUsed). */
export function usedShare(used: number, capacity: number): number {
  return capacity > 0 ? used / capacity : 0;
}

/** The free fraction from the largest used share among a GPU's dimensions with a capacity (the modes take Math.max over theirs: no array per GPU). */
export function freeFromUsed(largestShare: number): number {
  return Math.min(1, Math.max(0, 1 - largestShare));
}

export { NO_MIG };

/**
 * Free capacity of a shared GPU (MPS, time-slicing): what is left in each dimension, and the free
 * fraction over the dimensions this mode limits (replicas always). Held exclusively: nothing.
 */
export function sharedFree(cap: Capacity, u: GpuUsage, limits: ModeRules['limits']): GpuFree {
  const blocked = u.exclusive > 0;
  let used = usedShare(u.replicas, cap.replicas);
  if (limits.memory) used = Math.max(used, usedShare(u.memoryBytes, cap.memoryBytes));
  if (limits.threads) used = Math.max(used, usedShare(u.threadMilli, cap.threadMilli));
  if (limits.clients) used = Math.max(used, usedShare(u.clients, cap.clients));
  return {
    memoryBytes: Math.max(0, cap.memoryBytes - u.memoryBytes),
    threadMilli: Math.max(0, cap.threadMilli - u.threadMilli),
    replicas: Math.max(0, cap.replicas - u.replicas),
    clients: Math.max(0, cap.clients - u.clients),
    mig: NO_MIG,
    fraction: cap.replicas <= 0 || blocked ? 0 : freeFromUsed(used),
    idle: u.pods === 0,
    blocked,
  };
}
