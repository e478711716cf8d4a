// Alibaba's GPU-sharing trace ("openb", USENIX ATC '23) converted to gpu-ledger's model: a trace
// GPU is a shareable GPU (MPS-style); a pod's gpu_milli is its fraction of one GPU, as compute and,
// proportionally, memory (1 milli = 1 MiB of a 1000 MiB GPU). CPU, memory and gpu_spec stay
// node-level constraints checked by the replay harness (kube-scheduler's own filters' job).

import type { GpuClient, NodeInventory, PodDemand } from './types.js';

export const MILLI_BYTES = 2 ** 20;

export interface TraceNode {
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  gpus: number;
  model: string;
}

export interface TracePod {
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  numGpu: number;
  /** Share of each GPU, (0, 1000]; 0 for CPU-only pods. */
  gpuMilli: number;
  /** Allowed GPU models; empty = any. */
  gpuSpec: readonly string[];
}

export class TraceError extends Error {}

function rows(text: string, source: string, required: string[]): Record<string, string>[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new TraceError(`${source}: empty file`);
  const header = lines[0].split(',').map((h) => h.trim());
  for (const r of required) if (!header.includes(r)) throw new TraceError(`${source}: missing column "${r}" (header: ${header.join(',')})`);
  return lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    const row: Record<string, string> = {};
    header.forEach((h, j) => (row[h] = (cells[j] ?? '').trim()));
    row.__line = String(i + 2);
    return row;
  });
}

function num(row: Record<string, string>, col: string, source: string): number {
  const v = Number(row[col]);
  if (row[col] === '' || !Number.isFinite(v)) throw new TraceError(`${source}:${row.__line}: ${col} "${row[col]}" is not a number`);
  return v;
}

export function parseTraceNodes(text: string, source: string): TraceNode[] {
  return rows(text, source, ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model']).map((r) => ({
    name: r.sn,
    cpuMilli: num(r, 'cpu_milli', source),
    memoryMiB: num(r, 'memory_mib', source),
    gpus: Math.max(0, Math.floor(num(r, 'gpu', source))),
    model: r.model,
  }));
}

/** Pods sorted by name (the experiment's first step). multigpu files carry only the first five columns. */
export function parseTracePods(text: string, source: string): TracePod[] {
  const pods = rows(text, source, ['name', 'cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli']).map((r) => {
    const numGpu = Math.max(0, Math.floor(num(r, 'num_gpu', source)));
    let milli = num(r, 'gpu_milli', source);
    // The trace README: keep (0, 1000], clamp larger to 1000, treat ≤ 0 as 0.
    milli = milli <= 0 ? 0 : Math.min(1000, milli);
    const spec = (r.gpu_spec ?? '').split('|').map((s) => s.trim()).filter((s) => s !== '');
    return { name: r.name, cpuMilli: num(r, 'cpu_milli', source), memoryMiB: num(r, 'memory_mib', source), numGpu: milli === 0 ? 0 : numGpu, gpuMilli: numGpu === 0 ? 0 : milli, gpuSpec: spec };
  });
  return pods.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A trace node as an MPS node whose GPU the extender chooses; replicas and clients never bind. */
export function traceNodeInventory(n: TraceNode): NodeInventory {
  return {
    name: n.name,
    model: n.model,
    mode: 'mps',
    migStrategy: 'none',
    gpus: Array.from({ length: n.gpus }, (_, index) => ({ index, memoryBytes: 1000 * MILLI_BYTES, replicas: 1000, mig: new Map() })),
    resource: 'nvidia.com/gpu',
    perGpuResources: false,
    migProfiles: new Map(),
    memoryBytes: 1000 * MILLI_BYTES,
    memorySource: 'config',
    mpsDaemonLimits: false,
    reservedMemoryBytes: 0,
    computeOvercommit: 1,
    mpsMaxClients: 1_000_000,
    tier: null,
    placement: 'extender',
    cpuMilli: n.cpuMilli,
    labels: { 'nvidia.com/gpu.product': n.model },
    problems: [],
  };
}

/** A trace pod's GPU demand: one MPS client on `numGpu` distinct GPUs with `gpuMilli` of each. */
export function tracePodDemand(p: TracePod, uid: string): PodDemand {
  const clients: GpuClient[] =
    p.numGpu === 0
      ? []
      : [
          {
            container: 'main',
            replicas: p.numGpu,
            gpuTokens: new Map(),
            mig: new Map(),
            memLimitByOrdinal: new Map(Array.from({ length: p.numGpu }, (_, i) => [i, p.gpuMilli * MILLI_BYTES] as [number, number])),
            memLimitByUuid: new Map(),
            threadMilli: p.gpuMilli,
          },
        ];
  return {
    uid,
    namespace: 'trace',
    name: p.name,
    resourceVersion: '1',
    managed: p.numGpu > 0,
    requests: p.numGpu > 0 ? new Map([['nvidia.com/gpu', p.numGpu]]) : new Map(),
    clients,
    declaredMemoryBytes: null,
    declaredThreadMilli: null,
    isolation: 'shared',
    tier: null,
    cpuMilli: p.cpuMilli,
    nodeName: null,
    assignedGpus: null,
    errors: [],
  };
}
