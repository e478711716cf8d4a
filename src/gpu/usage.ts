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

export function emptyUsage(): GpuUsage {
  return { replicas: 0, memoryBytes: 0, threadMilli: 0, clients: 0, pods: 0, exclusive: 0, mig: NO_MIG };
}

export function copyUsage(u: GpuUsage): GpuUsage {
  return { ...u, mig: u.mig.size === 0 ? NO_MIG : new Map(u.mig) };
}

/** Adds (sign +1) or removes (sign −1) one take from a GPU's usage. */
export function applyTake(u: GpuUsage, t: GpuTake, sign: 1 | -1): void {
  u.replicas += sign * t.replicas;
  u.memoryBytes += sign * t.memoryBytes;
  u.threadMilli += sign * t.threadMilli;
  u.clients += sign * t.clients;
  u.pods += sign;
  if (t.exclusive) u.exclusive += sign;
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
