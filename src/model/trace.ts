// Alibaba's GPU-sharing trace ("openb", USENIX ATC '23) converted to gpu-ledger's model: a trace
// GPU is a shareable GPU (MPS-style); a pod's gpu_milli is its fraction of one GPU, as compute and,
// proportionally, memory (1 milli = 1 MiB of a 1000 MiB GPU). CPU, memory and gpu_spec stay
// node-level constraints checked by the replay harness (kube-scheduler's own filters' job).


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

/**
 * A trace node as the Node object a cluster would show: an MPS node (the env sets each client's
 * limits, as on GB10) whose GPU gpu-ledger chooses, with 1000 MiB per GPU so that 1 milli = 1 MiB,
 * and enough replicas and MPS clients that only memory and threads limit it.
 */
export function traceNodeObject(n: TraceNode): Record<string, unknown> {
  const capacity = { cpu: `${n.cpuMilli}m`, memory: `${n.memoryMiB}Mi`, pods: '100000', 'nvidia.com/gpu': String(n.gpus * TRACE_REPLICAS) };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: {
        'nvidia.com/gpu.product': n.model,
        'nvidia.com/gpu.count': String(n.gpus),
        'nvidia.com/gpu.replicas': String(TRACE_REPLICAS),
        'nvidia.com/gpu.sharing-strategy': 'mps',
      },
      annotations: {
        'gpu-ledger.io/gpu-memory': '1000Mi',
        'gpu-ledger.io/mps-daemon-limits': 'false',
        'gpu-ledger.io/mps-max-clients': '1024',
        'gpu-ledger.io/placement': 'extender',
      },
    },
    status: { capacity, allocatable: capacity },
  };
}

/** Replicas per trace GPU: more than the smallest share pods (50 milli) can use, within gpu-ledger's bounds. */
export const TRACE_REPLICAS = 1000;

/**
 * A trace pod as the Pod object a user would write: one container whose CUDA_MPS_* env asks for
 * `gpuMilli` of each of its `numGpu` GPUs (memory in MiB, threads in %), and the CPU and memory
 * requests; pods without GPUs request CPU and memory only.
 */
export function tracePodObject(p: TracePod, uid: string): Record<string, unknown> {
  const requests: Record<string, string> = { cpu: `${p.cpuMilli}m`, memory: `${p.memoryMiB}Mi` };
  const container: Record<string, unknown> = { name: 'main', image: 'trace', resources: { requests } };
  if (p.numGpu > 0) {
    const milli = Math.max(10, p.gpuMilli);
    container.env = [
      { name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: String(milli / 10) },
      { name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: Array.from({ length: p.numGpu }, (_, i) => `${i}=${p.gpuMilli}M`).join(',') },
    ];
    container.resources = { requests: { ...requests, 'nvidia.com/gpu': String(p.numGpu) }, limits: { 'nvidia.com/gpu': String(p.numGpu) } };
  }
  const spec: Record<string, unknown> = { containers: [container] };
  if (p.gpuSpec.length > 0) {
    spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'nvidia.com/gpu.product', operator: 'In', values: [...p.gpuSpec] }] }] } } };
  }
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: 'trace', uid, resourceVersion: '1' }, spec, status: { phase: 'Pending' } };
}
