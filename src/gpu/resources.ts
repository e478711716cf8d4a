// Node-level view of the NVIDIA resources a pod names: whether the node offers them, and whether
// the pod's effective request (which covers init containers' peak) fits in what is free — with the
// true counts and, when GPUs held exclusively (or busy, for an exclusive pod) are what is missing,
// a reason that says so and names the pods.

import type { NodeInventory, Reason } from '../model/types.js';
import { addReason } from './mode.js';
import { reasons } from './reason.js';
import { planOf, type FitPlan, type FitShape } from './shape.js';
import { gpuExclusive, gpuPods, gpuReplicas, podsOnGpu, type GpuNode } from './usage.js';

const PER_GPU_RE = /^nvidia\.com\/gpu(\d{1,9})$/;
/** The resources a GPU's replicas are requested by (two names: compared directly, a Set lookup per candidate node cost more). */
function isReplicaResource(resource: string): boolean {
  return resource === 'nvidia.com/gpu' || resource === 'nvidia.com/gpu.shared';
}

/** The MIG profile a resource name asks for on this node (mixed: `nvidia.com/mig-<p>`; single: `nvidia.com/gpu`). */
export function profileFor(inv: NodeInventory, resource: string): string | null {
  if (inv.migProfiles.size === 0) return null;
  for (const p of inv.migProfiles.values()) if (p.resource === resource) return p.name;
  return null;
}

/** True when replicas of `nvidia.com/gpu` on this node are MIG devices (MIG single strategy). */
export function replicasAreMigDevices(inv: NodeInventory): boolean {
  return inv.migStrategy === 'single' && inv.migProfiles.size > 0 && inv.mode === 'mig';
}

/** tokenGpu answers per resource name: the regex would otherwise run once per candidate node. Bounded. */
const tokenGpus = new Map<string, number | null>();

/** The per-GPU token resource's GPU index (`nvidia.com/gpu3` → 3), or null. */
export function tokenGpu(resource: string): number | null {
  let g = tokenGpus.get(resource);
  if (g === undefined) {
    const m = PER_GPU_RE.exec(resource);
    g = m ? Number(m[1]) : null;
    if (tokenGpus.size >= 4096) tokenGpus.clear();
    tokenGpus.set(resource, g);
  }
  return g;
}

/** Does the node offer this resource at all? */
export function offersResource(inv: NodeInventory, resource: string): boolean {
  return offers(inv, resource, tokenGpu(resource));
}

function offers(inv: NodeInventory, resource: string, perGpu: number | null): boolean {
  if (perGpu !== null) return inv.perGpuResources && perGpu < inv.gpus.length;
  if (isReplicaResource(resource)) {
    if (inv.perGpuResources) return false;
    if (inv.mode === 'mig') return replicasAreMigDevices(inv) && resource === 'nvidia.com/gpu';
    return resource === inv.resource;
  }
  return profileFor(inv, resource) !== null;
}

/** Capacity and use of GPU i in the resource's unit: MIG instances of `profile`, else replicas/tokens. */
function capacityOn(node: GpuNode, profile: string | null, i: number): number {
  return profile === null ? node.inventory.gpus[i].replicas : (node.inventory.gpus[i].mig.get(profile) ?? 0);
}
function usedOn(node: GpuNode, profile: string | null, i: number): number {
  return profile === null ? gpuReplicas(node, i) : (node.gpus[i].mig.get(profile) ?? 0);
}
function freeOn(node: GpuNode, profile: string | null, i: number): number {
  return Math.max(0, capacityOn(node, profile, i) - usedOn(node, profile, i));
}

/** A GPU the pod may not use: held exclusively, or (for an exclusive pod) busy. */
function blockedFor(node: GpuNode, exclusive: boolean, i: number): boolean {
  return gpuExclusive(node, i) > 0 || (exclusive && gpuPods(node, i) > 0);
}

/** Free on GPUs from..to-1 that the pod may use (not held exclusively; idle ones for an exclusive pod). */
function usableFree(node: GpuNode, exclusive: boolean, from: number, to: number, profile: string | null): number {
  let usable = 0;
  for (let i = from; i < to; i++) if (!blockedFor(node, exclusive, i)) usable += freeOn(node, profile, i);
  return usable;
}

/** Why `count` does not fit GPUs from..to-1 (called only when it does not): counts over those GPUs. */
function shortage(node: GpuNode, exclusive: boolean, resource: string, count: number, perGpu: number | null, from: number, to: number, profile: string | null): Reason {
  let capacity = 0;
  let used = 0;
  let free = 0;
  for (let i = from; i < to; i++) {
    capacity += capacityOn(node, profile, i);
    used += usedOn(node, profile, i);
    free += freeOn(node, profile, i);
  }
  if (count <= free) {
    // Enough is free, on GPUs the pod may not use: say who holds them.
    const names: string[] = [];
    let busy = 0;
    for (let i = from; i < to; i++) {
      if (!blockedFor(node, exclusive, i) || freeOn(node, profile, i) <= 0) continue;
      busy += node.gpus[i].pods;
      for (const n of podsOnGpu(node, i, !exclusive)) if (names.length < 5 && !names.includes(n)) names.push(n);
    }
    return exclusive ? reasons.exclusiveBusy(perGpu, busy, names) : reasons.heldExclusive(perGpu, names, { requested: count, used, capacity });
  }
  const a = { requested: count, used, capacity };
  if (perGpu !== null) return reasons.gpuTokens(resource, perGpu, a);
  if (profile !== null) return reasons.migInstances(resource, null, a);
  return reasons.replicas(resource, null, a);
}

/** The reason one requested resource does not fit the node, or null when it does. */
function checkRequest(node: GpuNode, exclusive: boolean, resource: string, count: number): Reason | null {
  const inv = node.inventory;
  const perGpu = tokenGpu(resource);
  if (!offers(inv, resource, perGpu)) return reasons.resourceMissing(resource, count);
  const profile = perGpu === null ? profileFor(inv, resource) : null;
  const from = perGpu ?? 0;
  const to = perGpu !== null ? perGpu + 1 : inv.gpus.length;
  if (count <= usableFree(node, exclusive, from, to, profile)) return null;
  return shortage(node, exclusive, resource, count, perGpu, from, to, profile);
}

/**
 * Is the pod's one request (`plan`: planOf(shape)) one replica of the node's own replica resource
 * (no per-GPU token, no MIG profile)? Then checkRequests passes exactly when a GPU the pod may use has a free replica — its
 * usable free replicas are those GPUs' room (checkRequest: `profile` null, every GPU) — which is
 * what the device plugin's pick looks for (place.ts runs the check only for its reasons, when the
 * pick finds no GPU).
 */
export function onlyOneReplicaRequest(inv: NodeInventory, plan: FitPlan): boolean {
  if (plan.resources.length !== 1 || plan.counts[0] !== 1) return false;
  const resource = plan.resources[0];
  // inv.resource is a replica resource (nvidia.com/gpu or .shared): offers() reads it as one.
  return resource === inv.resource && offers(inv, resource, null) && profileFor(inv, resource) === null;
}

/** Node-level checks of the pod's effective request per resource: null when every one fits, else a new array of the reasons. */
export function checkRequests(node: GpuNode, shape: FitShape): Reason[] | null {
  const exclusive = shape.isolation === 'exclusive';
  const { resources, counts } = planOf(shape);
  let out: Reason[] | null = null;
  for (let k = 0; k < resources.length; k++) out = addReason(out, checkRequest(node, exclusive, resources[k], counts[k]));
  return out;
}
