// What a GPU has handed out, and the one signed update that adds or removes a pod's take
// (kube-scheduler's NodeInfo.update(pod, sign) idea): the ledger, scratch copies for preemption
// and the scorers' "after this placement" views all go through applyTake, so add and remove are
// exact inverses and no counter can drift.

import { NO_MIG, type GpuTake, type NodeInventory } from '../model/types.js';

export interface GpuUsage {
  replicas: number;
  memoryBytes: number;
  threadMilli: number;
  clients: number;
  /** Pods with anything on this GPU. */
  pods: number;
  /** Pods holding this GPU exclusively. */
  exclusive: number;
  /**
   * MIG instances in use per profile name. A GPU without any shares the empty NO_MIG (applyTake
   * gives it a map of its own first): most GPUs are not MIG, and a Map per GPU would double the
   * usage's size and spread the ledger's per-GPU numbers over more memory than the filter reads.
   */
  mig: ReadonlyMap<string, number>;
}

/** A pod as the GPU rules see it on a node: who it is and what it holds. */
export interface PodOnNode {
  namespace: string;
  name: string;
  takes: readonly GpuTake[];
}

/** A node as the GPU rules read it: inventory, per-GPU usage, and the pods behind the usage. */
export interface GpuNode {
  readonly name: string;
  readonly inventory: NodeInventory;
  readonly gpus: readonly GpuUsage[];
  readonly pods: ReadonlyMap<string, PodOnNode>;
  /** CPU requested by the pods on the node (milli), when the ledger keeps it. */
  readonly cpuMilli?: number;
}

/**
 * A GPU's usage as the ledger and every scratch copy hold it: one class, so every usage has the one
 * hidden class its constructor makes, whose small-integer fields stay small integers in place (an
 * object literal shares its hidden class with any other literal of the same property names, and one
 * fractional value stored into any of them boxes that field in all of them: one more object to
 * load per GPU the filter reads). Only memoryBytes, past 2^30, is a boxed number.
 */
class Usage implements GpuUsage {
  replicas = 0;
  memoryBytes = 0;
  threadMilli = 0;
  clients = 0;
  pods = 0;
  exclusive = 0;
  mig: ReadonlyMap<string, number> = NO_MIG;
}

export function emptyUsage(): GpuUsage {
  return new Usage();
}

export function copyUsage(u: GpuUsage): GpuUsage {
  const c = new Usage();
  c.replicas = u.replicas;
  c.memoryBytes = u.memoryBytes;
  c.threadMilli = u.threadMilli;
  c.clients = u.clients;
  c.pods = u.pods;
  c.exclusive = u.exclusive;
  c.mig = u.mig.size === 0 ? NO_MIG : new Map(u.mig);
  return c;
}

/** Adds (sign +1) or removes (sign −1) one take from a GPU's usage. */
export function applyTake(u: GpuUsage, t: GpuTake, sign: 1 | -1): void {
  // The counts are integers far below 2^30 (limits.ts: at most MAX_PODS_PER_GPU takes of at most
  // MAX_REPLICAS_PER_GPU replicas, MAX_COMPUTE_OVERCOMMIT × 1000 threads, MAX_MPS_CLIENTS clients
  // each), so `| 0` changes no value: it stores them as small integers. A take's numbers may be
  // boxed (they come from arithmetic on parsed quantities), and a sum with a boxed number is a
  // boxed number: stored as is, it would box the field in every usage (Usage above).
  u.replicas = (u.replicas + sign * t.replicas) | 0;
  u.memoryBytes += sign * t.memoryBytes;
  u.threadMilli = (u.threadMilli + sign * t.threadMilli) | 0;
  u.clients = (u.clients + sign * t.clients) | 0;
  u.pods = (u.pods + sign) | 0;
  if (t.exclusive) u.exclusive = (u.exclusive + sign) | 0;
  if (t.mig && t.mig.size > 0) {
    // The GPU's own map from its first instance on (the shared empty one is never written).
    const mig = u.mig === NO_MIG ? new Map<string, number>() : (u.mig as Map<string, number>);
    for (const [profile, n] of t.mig) {
      const v = (mig.get(profile) ?? 0) + sign * n;
      if (v === 0) mig.delete(profile);
      else mig.set(profile, v);
    }
    u.mig = mig.size === 0 ? NO_MIG : mig;
  }
}

/** Usage of each GPU after adding `takes` (a copy; the node is not touched). */
export function usageAfter(node: GpuNode, takes: readonly GpuTake[]): GpuUsage[] {
  const out = node.gpus.map((u) => u);
  for (const t of takes) {
    if (t.gpu < 0 || t.gpu >= out.length) continue;
    if (out[t.gpu] === node.gpus[t.gpu]) out[t.gpu] = copyUsage(node.gpus[t.gpu]);
    applyTake(out[t.gpu], t, +1);
  }
  return out;
}

/** `namespace/name` of the pods with a take on GPU `gpu` (exclusive ones only, if asked). */
export function podsOnGpu(node: GpuNode, gpu: number, exclusiveOnly = false, limit = 5): string[] {
  const out: string[] = [];
  for (const p of node.pods.values()) {
    for (const t of p.takes) {
      if (t.gpu === gpu && (!exclusiveOnly || t.exclusive)) {
        out.push(`${p.namespace}/${p.name}`);
        break;
      }
    }
    if (out.length >= limit) break;
  }
  return out;
}
