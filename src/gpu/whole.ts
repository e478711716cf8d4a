// Whole GPUs (no sharing): one pod per GPU, which gets all of its memory and compute.

import type { GpuTake, NodeInventory, Reason } from '../model/types.js';
import { addReason, admitExclusivity, admitReplicas, freeFromUsed, NO_MIG, NO_NOTES, NO_REASONS, usableMemory, usedShare, type Capacity, type GpuFree, type ModeRules, type Note, type OnGpu, type PodTake } from './mode.js';
import type { GpuKind } from './kind.js';
import { reasons } from './reason.js';
import { declaredMemory, usesMpsEnv, type FitShape } from './shape.js';
import type { GpuNode, GpuUsage } from './usage.js';

function capacity(inv: GpuKind, gpu: number): Capacity {
  return { replicas: inv.gpus[gpu]?.replicas ?? 0, memoryBytes: usableMemory(inv, gpu), threadMilli: 1000, clients: 0, mig: NO_MIG };
}

function take(inv: GpuKind, shape: FitShape, gpu: number, on: readonly OnGpu[]): PodTake {
  let replicas = 0;
  for (const o of on) replicas += o.replicas;
  const cap = capacity(inv, gpu);
  const declared = declaredMemory(shape);
  const refusal: Reason | null = declared !== null && cap.memoryBytes > 0 && declared > cap.memoryBytes ? reasons.gpuTooSmall(gpu, declared, cap.memoryBytes) : null;
  const t: GpuTake = { gpu, replicas, memoryBytes: inv.gpus[gpu]?.memoryBytes ?? 0, threadMilli: 1000, clients: on.length, mig: null, exclusive: shape.isolation === 'exclusive' };
  return { take: t, refusal, notes: NO_NOTES };
}

function admit(node: GpuNode, t: GpuTake, u: GpuUsage): readonly Reason[] {
  const cap = capacity(node.inventory, t.gpu);
  return addReason(addReason(null, admitExclusivity(node, t, u, cap)), admitReplicas(node.inventory, t, u, cap)) ?? NO_REASONS;
}

function free(inv: NodeInventory, gpu: number, u: GpuUsage): GpuFree {
  const cap = capacity(inv, gpu);
  const blocked = u.exclusive > 0;
  const idle = u.pods === 0;
  return {
    memoryBytes: idle ? cap.memoryBytes : 0,
    threadMilli: idle ? 1000 : 0,
    replicas: Math.max(0, cap.replicas - u.replicas),
    clients: 0,
    mig: NO_MIG,
    fraction: cap.replicas <= 0 || blocked ? 0 : freeFromUsed(Math.max(0, usedShare(u.replicas, cap.replicas))),
    idle,
    blocked,
  };
}

const ENV_IGNORED: readonly Note[] = Object.freeze([Object.freeze({ code: 'env-ignored', message: 'CUDA_MPS_* env has no effect on a GPU without sharing: the pod gets the whole GPU' } as const)]);

function podNotes(_kind: GpuKind, shape: FitShape): readonly Note[] {
  return usesMpsEnv(shape) ? ENV_IGNORED : NO_NOTES;
}

export const wholeRules: ModeRules = { mode: 'none', shareable: true, limits: { memory: false, threads: false, clients: false }, capacity, take, admit, free, podNotes };
