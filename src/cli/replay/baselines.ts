// The placement policies of the FGD paper (Weng et al., USENIX ATC '23), reimplemented from its
// description for the trace replay, next to gpu-ledger's production policy. Higher score wins.
// They score what the shared fit code says the pod would take; CPU and memory come from the
// harness (kube-scheduler's own resource fit in a real cluster).

import type { GpuTake } from '../../model/types.js';
import type { GpuNode } from '../../gpu/usage.js';
import { gpuFree, type GpuFree } from '../../gpu/free.js';

/** Node-level resources the harness tracks (CPU milli, memory MiB) and the trace's scale. */
export interface NodeResources {
  cpuFree: number;
  memFree: number;
  cpuCap: number;
  model: string;
}

export interface PodResources {
  cpuMilli: number;
  memoryMiB: number;
  /** GPU milli the pod takes in all (num_gpu × gpu_milli). */
  gpuMilliTotal: number;
  /** GPUs the pod spans and its share of each (milli). */
  numGpu: number;
  gpuMilli: number;
}

/** The paper normalises by the largest node: 128 CPUs and 8 GPUs. */
const CPU_SCALE = 128_000;
const GPU_SCALE = 8000;

export function freeGpuMilli(free: readonly GpuFree[]): number {
  let s = 0;
  for (const g of free) s += g.threadMilli;
  return s;
}

/** BestFit: least CPU and GPU left after placement (0.5·cpuLeft/128000 + 0.5·gpuLeft/8000). */
export function bestFitScore(node: GpuNode, takes: readonly GpuTake[], res: NodeResources, pod: PodResources): number {
  const gpuLeft = freeGpuMilli(gpuFree(node, takes));
  const cpuLeft = res.cpuFree - pod.cpuMilli;
  return -(0.5 * (cpuLeft / CPU_SCALE) + 0.5 * (gpuLeft / GPU_SCALE));
}

/** DotProd: the smallest dot product of the node's free (cpu, gpu) with the pod's request. */
export function dotProdScore(node: GpuNode, _takes: readonly GpuTake[], res: NodeResources, pod: PodResources): number {
  const gpuFreeNow = freeGpuMilli(gpuFree(node));
  return -((res.cpuFree / CPU_SCALE) * (pod.cpuMilli / CPU_SCALE) + (gpuFreeNow / GPU_SCALE) * (pod.gpuMilliTotal / GPU_SCALE));
}

/**
 * GpuPacking, as the paper's simulator scores it (0..100, integer; ties go by node order):
 * pods that can go on partly used GPUs score 50..100 (less free share on the GPUs used = higher),
 * pods that need idle GPUs of a used node 33..50 (fewer idle GPUs taken = higher), an idle node
 * 0..33 (fewer GPUs = higher). CPU-only pods score 0 everywhere.
 */
export function gpuPackingScore(node: GpuNode, _takes: readonly GpuTake[], _res: NodeResources, pod: PodResources): number {
  if (pod.numGpu <= 0) return 0;
  const free = gpuFree(node);
  let idle = 0;
  for (const g of free) if (g.idle) idle++;
  if (idle === free.length) return Math.max(Math.trunc(100 / 3) - idle, idle);
  const order = free.map((g, i) => i).sort((a, b) => free[a].threadMilli - free[b].threadMilli);
  let need = pod.numGpu;
  let idleUsed = 0;
  let freePctOnUsed = 0;
  for (const i of order) {
    if (need === 0) break;
    if (pod.gpuMilli <= free[i].threadMilli) {
      need--;
      if (free[i].idle) idleUsed++;
      freePctOnUsed += Math.trunc((free[i].threadMilli * 100) / 1000);
    }
  }
  if (need > 0) return -Infinity;
  if (idleUsed > 0) return Math.max(50 - idleUsed, Math.trunc(100 / 3));
  return Math.max(100 - Math.trunc(freePctOnUsed / 10), 50);
}

/** The paper's GPU choice for share pods under BestFit/packing: the tightest GPU that fits. */
export function tightestGpu(node: GpuNode, candidates: readonly number[]): number {
  const free = gpuFree(node);
  let best = candidates[0];
  for (const i of candidates) if (free[i].threadMilli < free[best].threadMilli) best = i;
  return best;
}

/** Whole-GPU pods take the lowest-index free GPUs (the paper's rule for FGD and others). */
export function lowestGpu(_node: GpuNode, candidates: readonly number[]): number {
  let best = candidates[0];
  for (const i of candidates) if (i < best) best = i;
  return best;
}

