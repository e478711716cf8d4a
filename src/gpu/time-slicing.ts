// Time-slicing (seeds 002, 003, 004): replicas of a GPU with no memory or fault isolation. A pod's
// memory is what it declares per GPU (annotation, tier, or its largest CUDA_MPS env entry as its
// best statement), else its replicas' share; the sum must stay within the GPU's memory when known.

import type { GpuTake, NodeInventory, Reason } from '../model/types.js';
import { formatBytes } from '../model/quantity.js';
import {
  addReason,
  admitExclusivity,
  admitReplicas,
  sharedFree,
  memoryPerReplica,
  NO_MIG,
  NO_NOTES,
  NO_REASONS,
  threadsPerReplica,
  usableMemory,
  type Capacity,
  type GpuFree,
  type ModeRules,
  type Note,
  type OnGpu,
  type PodTake,
} from './mode.js';
import type { GpuKind } from './kind.js';
import { reasons } from './reason.js';
import { declaredMemory, usesMpsEnv, type FitShape } from './shape.js';
import type { GpuNode, GpuUsage } from './usage.js';

function capacity(inv: GpuKind, gpu: number): Capacity {
  // Threads are not a limit here; the compute share is kept for the scorers (a replica's share).
  return { replicas: inv.gpus[gpu]?.replicas ?? 0, memoryBytes: usableMemory(inv, gpu), threadMilli: 1000, clients: 0, mig: NO_MIG };
}

function take(inv: GpuKind, shape: FitShape, gpu: number, on: readonly OnGpu[]): PodTake {
  const cap = capacity(inv, gpu);
  let replicas = 0;
  for (const o of on) replicas += o.replicas;
  const declared = declaredMemory(shape);
  const memory = declared ?? replicas * memoryPerReplica(inv, gpu);
  let refusal: Reason | null = null;
  let notes: readonly Note[] = NO_NOTES;
  if (declared !== null && cap.memoryBytes > 0 && declared > cap.memoryBytes) refusal = reasons.gpuTooSmall(gpu, declared, cap.memoryBytes);
  if (declared !== null && cap.memoryBytes === 0) {
    notes = [{ code: 'memory-unknown', message: `GPU ${gpu}'s memory is unknown (no nvidia.com/gpu.memory label or gpu-ledger.io/gpu-memory): the declared ${formatBytes(declared)} is not checked` }];
  }
  const t: GpuTake = {
    gpu,
    replicas,
    memoryBytes: memory,
    threadMilli: replicas * threadsPerReplica(inv, gpu),
    clients: on.length,
    mig: null,
    exclusive: shape.isolation === 'exclusive',
  };
  return { take: t, refusal, notes };
}

function admit(node: GpuNode, t: GpuTake, u: GpuUsage): readonly Reason[] {
  const inv = node.inventory;
  const cap = capacity(inv, t.gpu);
  let out = addReason(null, admitExclusivity(node, t, u, cap));
  out = addReason(out, admitReplicas(inv, t, u, cap));
  if (cap.memoryBytes > 0 && u.memoryBytes + t.memoryBytes > cap.memoryBytes) {
    out = addReason(out, reasons.timesliceMemory(t.gpu, { requested: t.memoryBytes, used: u.memoryBytes, capacity: cap.memoryBytes }));
  }
  return out ?? NO_REASONS;
}

const LIMITS = { memory: true, threads: false, clients: false };

function free(inv: NodeInventory, gpu: number, u: GpuUsage): GpuFree {
  return sharedFree(capacity(inv, gpu), u, LIMITS);
}

const ENV_IGNORED: Note = Object.freeze({
  code: 'env-ignored',
  message: "CUDA_MPS_* env has no effect on a time-slicing node: only MPS enforces it (the largest memory entry is taken as the pod's declared memory)",
});
const NO_ISOLATION: Note = Object.freeze({
  code: 'replicas-no-isolation',
  message: 'several time-slicing replicas do not buy proportional compute or memory isolation; they only count against the replicas',
});
// The four possible answers, shared (podNotes runs for every candidate node).
const NOTES = [NO_NOTES, Object.freeze([ENV_IGNORED]), Object.freeze([NO_ISOLATION]), Object.freeze([ENV_IGNORED, NO_ISOLATION])] as const;

function podNotes(_kind: GpuKind, shape: FitShape): readonly Note[] {
  const env = usesMpsEnv(shape) ? 1 : 0;
  const several = shape.clients.some((c) => c.replicas > 1) ? 2 : 0;
  return NOTES[env + several];
}

export const timeSlicingRules: ModeRules = { mode: 'time-slicing', shareable: true, limits: LIMITS, capacity, take, admit, free, podNotes };
