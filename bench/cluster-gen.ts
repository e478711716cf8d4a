// Synthetic clusters for the benchmarks: a realistic mix of the seed setups (MPS single-GPU,
// MPS 4-GPU aggregate and individual, MIG mixed 8-GPU, time-sliced 4- and 8-GPU nodes) with
// about `podsPerNode` pods bound on every node: GPU pods, and a share of pods without GPUs (a
// GPU node also runs agents, sidecar services, web frontends: the ledger keeps their CPU).
// Output is plain v1 JSON, exactly what a snapshot file or an informer would deliver, so the
// benchmarks run the real parsers too.

export interface GeneratedCluster {
  nodes: Record<string, unknown>[];
  pods: Record<string, unknown>[];
  names: string[];
}

/** Small deterministic PRNG (mulberry32): the same cluster on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'spark' | 'mps4' | 'mps4-ind' | 'mig8' | 'ts4' | 'ts8';
const MIX: Kind[] = ['spark', 'spark', 'mps4', 'mps4', 'mps4-ind', 'mig8', 'ts4', 'ts4', 'ts8', 'mps4'];

function nodeObject(name: string, kind: Kind): Record<string, unknown> {
  const labels: Record<string, string> = { 'kubernetes.io/hostname': name };
  const annotations: Record<string, string> = {};
  const capacity: Record<string, string> = { cpu: '64', memory: '512Gi', pods: '110' };
  switch (kind) {
    case 'spark':
      Object.assign(labels, { 'nvidia.com/gpu.product': 'NVIDIA-GB10', 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.replicas': '10', 'nvidia.com/gpu.sharing-strategy': 'mps' });
      annotations['gpu-ledger.io/gpu-memory'] = '128Gi';
      capacity['nvidia.com/gpu'] = '10';
      break;
    case 'mps4':
    case 'mps4-ind':
      Object.assign(labels, { 'nvidia.com/gpu.product': 'Tesla-V100-SXM2-32GB-SHARED', 'nvidia.com/gpu.count': '4', 'nvidia.com/gpu.memory': '32604', 'nvidia.com/gpu.replicas': '20', 'nvidia.com/gpu.sharing-strategy': 'mps' });
      if (kind === 'mps4') capacity['nvidia.com/gpu'] = '80';
      else for (let g = 0; g < 4; g++) capacity[`nvidia.com/gpu${g}`] = '20';
      break;
    case 'mig8':
      Object.assign(labels, {
        'nvidia.com/gpu.product': 'A100-SXM4-80GB',
        'nvidia.com/gpu.count': '8',
        'nvidia.com/gpu.memory': '81920',
        'nvidia.com/mig.strategy': 'mixed',
        'nvidia.com/mig-3g.40gb.count': '8',
        'nvidia.com/mig-3g.40gb.memory': '40192',
        'nvidia.com/mig-2g.20gb.count': '16',
        'nvidia.com/mig-2g.20gb.memory': '19968',
      });
      capacity['nvidia.com/mig-3g.40gb'] = '8';
      capacity['nvidia.com/mig-2g.20gb'] = '16';
      break;
    case 'ts4':
    case 'ts8': {
      const gpus = kind === 'ts4' ? 4 : 8;
      Object.assign(labels, { 'nvidia.com/gpu.product': 'NVIDIA-A10-SHARED', 'nvidia.com/gpu.count': String(gpus), 'nvidia.com/gpu.memory': '23028', 'nvidia.com/gpu.replicas': '4', 'nvidia.com/gpu.sharing-strategy': 'time-slicing' });
      capacity['nvidia.com/gpu'] = String(gpus * 4);
      break;
    }
  }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `node-${name}`, resourceVersion: '1', labels, annotations },
    status: { capacity, allocatable: capacity },
  };
}

/** A pod shaped for a node kind (so it is realistic that it runs there). */
export function podFor(kind: Kind, name: string, uid: string, nodeName: string | null, r: () => number): Record<string, unknown> {
  const limits: Record<string, string> = {};
  const env: { name: string; value: string }[] = [];
  const annotations: Record<string, string> = {};
  switch (kind) {
    case 'spark': {
      const tier = [
        ['10', '0=8G'],
        ['25', '0=32G'],
        ['10', '0=12G'],
      ][Math.floor(r() * 3)];
      limits['nvidia.com/gpu'] = '1';
      env.push({ name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: tier[0] }, { name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: tier[1] });
      break;
    }
    case 'mps4':
      limits['nvidia.com/gpu'] = String(1 + Math.floor(r() * 2));
      break;
    case 'mps4-ind':
      limits[`nvidia.com/gpu${Math.floor(r() * 4)}`] = String(1 + Math.floor(r() * 3));
      break;
    case 'mig8':
      limits[r() < 0.3 ? 'nvidia.com/mig-3g.40gb' : 'nvidia.com/mig-2g.20gb'] = '1';
      break;
    case 'ts4':
    case 'ts8':
      limits['nvidia.com/gpu'] = '1';
      annotations['gpu-ledger.io/gpu-memory'] = `${2 + Math.floor(r() * 4)}Gi`;
      break;
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'bench', uid, resourceVersion: '1', annotations },
    spec: {
      schedulerName: 'gpu-ledger',
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: 'main', image: 'example/model:1', env, resources: { limits, requests: { ...limits, cpu: '1', memory: '4Gi' } } }],
    },
    status: { phase: nodeName ? 'Running' : 'Pending' },
  };
}

const PODS_PER_KIND: Record<Kind, number> = { spark: 4, 'mps4': 14, 'mps4-ind': 12, mig8: 10, ts4: 10, ts8: 16 };
/** Mean of PODS_PER_KIND over MIX: GPU pods per node at podsPerNode = 10 without CPU pods. */
const MEAN_PER_KIND = MIX.reduce((a, k) => a + PODS_PER_KIND[k], 0) / MIX.length;

/** A pod without GPUs: CPU and memory only (kube-scheduler's own business; the ledger keeps its CPU). */
export function cpuPod(name: string, uid: string, nodeName: string | null, r: () => number): Record<string, unknown> {
  const cpu = ['250m', '500m', '1', '2'][Math.floor(r() * 4)];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'bench', uid, resourceVersion: '1', labels: { app: 'web' } },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: 'web', image: 'example/web:1', resources: { requests: { cpu, memory: '512Mi' } } }],
    },
    status: { phase: nodeName ? 'Running' : 'Pending' },
  };
}

/**
 * `nodes` nodes; about `podsPerNode` pods each on average, `cpuShare` of them without GPUs (the GPU
 * pods scaled per kind to what fits). The default, 10 pods per node with 20 % CPU-only, makes the
 * 15,000-node / 150,000-pod cluster of the memory benchmark.
 */
export function generateCluster(nodes: number, podsPerNode = 10, seed = 1, cpuShare = 0.2): GeneratedCluster {
  const r = rng(seed);
  const out: GeneratedCluster = { nodes: [], pods: [], names: [] };
  let podSeq = 0;
  const cpuPods = podsPerNode * cpuShare;
  // Fractional counts are carried over to the next node, so the totals come out exact.
  let gpuDue = 0;
  let cpuDue = 0;
  for (let i = 0; i < nodes; i++) {
    const kind = MIX[i % MIX.length];
    const name = `gpu-${kind}-${String(i).padStart(5, '0')}`;
    out.nodes.push(nodeObject(name, kind));
    out.names.push(name);
    gpuDue += (PODS_PER_KIND[kind] * podsPerNode * (1 - cpuShare)) / MEAN_PER_KIND;
    const n = Math.floor(gpuDue + 1e-9);
    gpuDue -= n;
    for (let p = 0; p < n; p++) {
      podSeq++;
      out.pods.push(podFor(kind, `pod-${podSeq}`, `pod-uid-${podSeq}`, name, r));
    }
    cpuDue += cpuPods;
    for (; cpuDue >= 1 - 1e-9; cpuDue--) {
      podSeq++;
      out.pods.push(cpuPod(`web-${podSeq}`, `pod-uid-${podSeq}`, name, r));
    }
  }
  return out;
}

/** The pod the benchmarks ask about: a medium MPS pod (fits many nodes, fails on others). */
export function probePod(uid: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `probe-${uid}`, namespace: 'bench', uid, resourceVersion: '7' },
    spec: {
      schedulerName: 'gpu-ledger',
      containers: [
        {
          name: 'inference',
          image: 'vllm/vllm-openai:latest',
          env: [
            { name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: '10' },
            { name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: '0=1G' },
          ],
          resources: { limits: { 'nvidia.com/gpu': '1' } },
        },
      ],
    },
    status: { phase: 'Pending' },
  };
}
