// Node-level view of the NVIDIA resources a pod names: whether the node offers them, and whether
// the pod's effective request (which covers init containers' peak) fits in what is free — with the
// true counts and, when GPUs held exclusively (or busy, for an exclusive pod) are what is missing,
// a reason that says so and names the pods.

import type { NodeInventory, Reason } from '../model/types.js';
import { reasons } from './reason.js';
import type { FitShape } from './shape.js';
import { podsOnGpu, type GpuNode } from './usage.js';

const PER_GPU_RE = /^nvidia\.com\/gpu(\d{1,9})$/;
const REPLICA_RESOURCES = new Set(['nvidia.com/gpu', 'nvidia.com/gpu.shared']);

/** The MIG profile a resource name asks for on this node (mixed: `nvidia.com/mig-<p>`; single: `nvidia.com/gpu`). */
export function profileFor(inv: NodeInventory, resource: string): string | null {
  for (const p of inv.migProfiles.values()) if (p.resource === resource) return p.name;
  return null;
}

/** True when replicas of `nvidia.com/gpu` on this node are MIG devices (MIG single strategy). */
export function replicasAreMigDevices(inv: NodeInventory): boolean {
  return inv.migStrategy === 'single' && inv.migProfiles.size > 0 && inv.mode === 'mig';
}

/** The per-GPU token resource's GPU index (`nvidia.com/gpu3` → 3), or null. */
export function tokenGpu(resource: string): number | null {
  const m = PER_GPU_RE.exec(resource);
  return m ? Number(m[1]) : null;
}

/** Does the node offer this resource at all? */
export function offersResource(inv: NodeInventory, resource: string): boolean {
  const perGpu = tokenGpu(resource);
  if (perGpu !== null) return inv.perGpuResources && perGpu < inv.gpus.length;
  if (REPLICA_RESOURCES.has(resource)) {
    if (inv.perGpuResources) return false;
    if (inv.mode === 'mig') return replicasAreMigDevices(inv) && resource === 'nvidia.com/gpu';
    return resource === inv.resource;
  }
  return profileFor(inv, resource) !== null;
}

interface Tally {
  capacity: number;
  used: number;
  /** Free on GPUs the pod may use (not held exclusively; idle ones for an exclusive pod). */
  usable: number;
  /** Free on every GPU. */
  free: number;
  blockers: Set<number>;
}

function tally(node: GpuNode, exclusive: boolean, gpus: Iterable<number>, cap: (i: number) => number, used: (i: number) => number): Tally {
  const t: Tally = { capacity: 0, used: 0, usable: 0, free: 0, blockers: new Set() };
  for (const i of gpus) {
    const u = node.gpus[i];
    const c = cap(i);
    const f = Math.max(0, c - used(i));
    t.capacity += c;
    t.used += used(i);
    t.free += f;
    const blocked = u.exclusive > 0 || (exclusive && u.pods > 0);
    if (!blocked) t.usable += f;
    else if (f > 0) t.blockers.add(i);
  }
  return t;
}

function exclusivityReason(node: GpuNode, exclusive: boolean, t: Tally, requested: number, gpu: number | null): Reason {
  const names: string[] = [];
  let busy = 0;
  for (const i of t.blockers) {
    busy += node.gpus[i].pods;
    for (const n of podsOnGpu(node, i, !exclusive)) if (names.length < 5 && !names.includes(n)) names.push(n);
  }
  return exclusive ? reasons.exclusiveBusy(gpu, busy, names) : reasons.heldExclusive(gpu, names, { requested, used: t.used, capacity: t.capacity });
}

/** Node-level checks of the pod's effective request per resource; empty when every one fits. */
export function checkRequests(node: GpuNode, shape: FitShape): Reason[] {
  const inv = node.inventory;
  const exclusive = shape.isolation === 'exclusive';
  const out: Reason[] = [];
  const all = inv.gpus.map((_, i) => i);
  for (const [resource, count] of shape.requests) {
    if (!offersResource(inv, resource)) {
      out.push(reasons.resourceMissing(resource, count));
      continue;
    }
    const perGpu = tokenGpu(resource);
    const profile = perGpu === null ? profileFor(inv, resource) : null;
    let t: Tally;
    if (perGpu !== null) t = tally(node, exclusive, [perGpu], (i) => inv.gpus[i].replicas, (i) => node.gpus[i].replicas);
    else if (profile !== null) t = tally(node, exclusive, all, (i) => inv.gpus[i].mig.get(profile) ?? 0, (i) => node.gpus[i].mig.get(profile) ?? 0);
    else t = tally(node, exclusive, all, (i) => inv.gpus[i].replicas, (i) => node.gpus[i].replicas);
    if (count <= t.usable) continue;
    if (count <= t.free) out.push(exclusivityReason(node, exclusive, t, count, perGpu));
    else if (perGpu !== null) out.push(reasons.gpuTokens(resource, perGpu, { requested: count, used: t.used, capacity: t.capacity }));
    else if (profile !== null) out.push(reasons.migInstances(resource, null, { requested: count, used: t.used, capacity: t.capacity }));
    else out.push(reasons.replicas(resource, null, { requested: count, used: t.used, capacity: t.capacity }));
  }
  return out;
}
