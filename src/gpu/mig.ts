// MIG (seeds 002, 003): fixed instances per profile on each GPU, hard-isolated. A pod takes
// instances; what it declares (annotation, tier or largest env entry) must fit in one instance.

import type { GpuTake, NodeInventory, Reason } from '../model/types.js';
import { addReason, admitExclusivity, NO_NOTES, NO_REASONS, type Capacity, type GpuFree, type ModeRules, type Note, type PodTake } from './mode.js';
import type { GpuKind } from './kind.js';
import { reasons } from './reason.js';
import { declaredMemory, usesMpsEnv, type FitShape } from './shape.js';
import type { GpuNode, GpuUsage } from './usage.js';

function capacity(inv: NodeInventory, gpu: number): Capacity {
  return { replicas: 0, memoryBytes: 0, threadMilli: 0, clients: 0, mig: inv.gpus[gpu]?.mig ?? new Map() };
}

function take(inv: GpuKind, shape: FitShape, gpu: number, _on: unknown, mig: ReadonlyMap<string, number> | null): PodTake {
  let refusal: Reason | null = null;
  const declared = declaredMemory(shape);
  if (mig && declared !== null) {
    for (const profile of mig.keys()) {
      const info = inv.migProfiles.get(profile);
      if (info && info.memoryBytes > 0 && declared > info.memoryBytes) refusal ??= reasons.migMemory(info.resource, declared, info.memoryBytes);
    }
  }
  const t: GpuTake = { gpu, replicas: 0, memoryBytes: 0, threadMilli: 0, clients: 0, mig: mig ? new Map(mig) : null, exclusive: shape.isolation === 'exclusive' };
  return { take: t, refusal, notes: NO_NOTES };
}

function admit(node: GpuNode, t: GpuTake, u: GpuUsage): readonly Reason[] {
  const inv = node.inventory;
  const cap = capacity(inv, t.gpu);
  let out = addReason(null, admitExclusivity(node, t, u, cap));
  if (t.mig) {
    for (const [profile, n] of t.mig) {
      const have = cap.mig.get(profile) ?? 0;
      const used = u.mig.get(profile) ?? 0;
      if (used + n > have) out = addReason(out, reasons.migInstances(inv.migProfiles.get(profile)?.resource ?? profile, t.gpu, { requested: n, used, capacity: have }));
    }
  }
  return out ?? NO_REASONS;
}

function free(inv: NodeInventory, gpu: number, u: GpuUsage): GpuFree {
  const cap = capacity(inv, gpu);
  const mig = new Map<string, number>();
  let total = 0;
  let used = 0;
  for (const [p, n] of cap.mig) {
    const inUse = u.mig.get(p) ?? 0;
    total += n;
    used += inUse;
    mig.set(p, u.exclusive > 0 ? 0 : Math.max(0, n - inUse));
  }
  return {
    memoryBytes: 0,
    threadMilli: 0,
    replicas: 0,
    clients: 0,
    mig,
    fraction: total > 0 && u.exclusive === 0 ? Math.max(0, 1 - used / total) : 0,
    idle: u.pods === 0,
    blocked: true,
  };
}

const ENV_IGNORED: readonly Note[] = Object.freeze([
  Object.freeze({ code: 'env-ignored', message: 'CUDA_MPS_* env has no effect on a MIG node: only MPS enforces it (the largest memory entry is taken as the pod\'s declared memory)' } as const),
]);

function podNotes(_kind: GpuKind, shape: FitShape): readonly Note[] {
  return usesMpsEnv(shape) ? ENV_IGNORED : NO_NOTES;
}

export const migRules: ModeRules = { mode: 'mig', shareable: false, limits: { memory: false, threads: false, clients: false }, capacity, take, admit, free, podNotes };
