// Value types shared by every layer. Memory is always in bytes, compute in "milli-GPU"
// (1000 = 100% of one GPU's SMs, the unit of CUDA_MPS_ACTIVE_THREAD_PERCENTAGE × 10),
// so arithmetic never mixes units and 100/3 % stays an integer (333).

export const PREFIX = 'gpu-ledger.io/';

/**
 * The MIG counts of everything without MIG instances — most GPUs' inventory, their usage, their
 * capacity: one shared empty map, never written (usage gets a map of its own on its first instance).
 */
export const NO_MIG: ReadonlyMap<string, number> = new Map();

export type SharingMode = 'mps' | 'time-slicing' | 'mig' | 'none';
export type MigStrategy = 'none' | 'single' | 'mixed';
/**
 * How a shared replica lands on a physical GPU of a multi-GPU node when the pod cannot name
 * the GPU itself. `distributed` and `packed` emulate the NVIDIA device plugin's policies
 * (the kubelet, not the scheduler, picks); `extender` means the GPU chosen by gpu-ledger at
 * bind time is honoured (single-GPU nodes, per-GPU resources, or a device plugin that reads
 * the `gpu-ledger.io/gpus` annotation).
 */
export type ReplicaPlacement = 'distributed' | 'packed' | 'extender';

/** Where a value of the inventory came from; shown by explain. */
export type Source = 'annotation' | 'config' | 'label' | 'capacity' | 'default';

export interface MigProfile {
  /** e.g. `3g.40gb` (media variants `1g.10gb+me` are written `1g.10gb.me` by the plugin). */
  name: string;
  /** Resource name requested by pods: `nvidia.com/mig-3g.40gb` (mixed) or `nvidia.com/gpu` (single). */
  resource: string;
  /** Memory of one instance in bytes (label `.memory` when known, else from the profile name). */
  memoryBytes: number;
  /** Compute slices (the `3` of `3g`). */
  slices: number;
}

export interface GpuInventory {
  index: number;
  /** Total memory of this GPU in bytes; 0 when unknown. */
  memoryBytes: number;
  /** Shared replicas this GPU advertises (1 when not shared). */
  replicas: number;
  /** MIG instances per profile name on this GPU. */
  mig: ReadonlyMap<string, number>;
}

export interface NodeProblem {
  field: string;
  value: string;
  message: string;
}

export interface NodeInventory {
  name: string;
  model: string;
  mode: SharingMode;
  migStrategy: MigStrategy;
  gpus: readonly GpuInventory[];
  /** Resource name that carries shared or whole-GPU replicas: `nvidia.com/gpu` or `nvidia.com/gpu.shared`. */
  resource: string;
  /** Seed 001 "individual mode": per-GPU token resources `nvidia.com/gpu0`…; the GPU is then always known. */
  perGpuResources: boolean;
  /** MIG profiles offered on this node, by name. */
  migProfiles: ReadonlyMap<string, MigProfile>;
  /** Memory per GPU (bytes) and where it came from. 0 = unknown. */
  memoryBytes: number;
  memorySource: Source;
  /**
   * True when the MPS control daemon enforces per-replica defaults (memory/replicas and
   * 100/replicas %): the NVIDIA plugin does that only when NVML reports the memory, i.e. not on
   * GB10. A client's env can then only lower its limit.
   */
  mpsDaemonLimits: boolean;
  reservedMemoryBytes: number;
  /** Allowed Σ MPS thread % per GPU as a ratio of 100 % (1 = no oversubscription). */
  computeOvercommit: number;
  mpsMaxClients: number;
  tier: string | null;
  placement: ReplicaPlacement;
  /**
   * Allocatable CPU of the node (milli), 0 when unknown. Not a filter input (kube-scheduler's
   * NodeResourcesFit owns CPU); the fragmentation scorer uses it to see GPUs that CPU exhaustion
   * would strand.
   */
  cpuMilli: number;
  labels: Readonly<Record<string, string>>;
  problems: readonly NodeProblem[];
}

export type Isolation = 'shared' | 'exclusive';

/** One container that uses the GPU: one MPS client, its own replicas and limits. */
export interface GpuClient {
  container: string;
  /** Replicas of the node's shared/whole-GPU resource (`nvidia.com/gpu` or `.shared`). */
  replicas: number;
  /** Per-GPU tokens, `nvidia.com/gpuN` → N → count (individual mode). */
  gpuTokens: ReadonlyMap<number, number>;
  /** MIG instances this container asks for: profile resource name → count. */
  mig: ReadonlyMap<string, number>;
  /** CUDA_MPS_PINNED_DEVICE_MEM_LIMIT: by visible ordinal. */
  memLimitByOrdinal: ReadonlyMap<number, number>;
  /** CUDA_MPS_PINNED_DEVICE_MEM_LIMIT entries naming a GPU UUID (resolved against the node, if it knows UUIDs). */
  memLimitByUuid: ReadonlyMap<string, number>;
  /** CUDA_MPS_ACTIVE_THREAD_PERCENTAGE in milli-GPU (10 % → 100), null when unset. */
  threadMilli: number | null;
}

export interface DemandError {
  /** Field path, e.g. `spec.containers[inference].env.CUDA_MPS_PINNED_DEVICE_MEM_LIMIT`. */
  field: string;
  value: string;
  message: string;
}

export interface PodRef {
  uid: string;
  namespace: string;
  name: string;
}

export interface PodDemand extends PodRef {
  /** Resource version the demand was parsed from (cache key with uid). */
  resourceVersion: string;
  /** True if the pod names any NVIDIA resource: otherwise gpu-ledger passes it through. */
  managed: boolean;
  /** Effective request per NVIDIA resource name (Kubernetes rules: init containers, sidecars). */
  requests: ReadonlyMap<string, number>;
  /**
   * The GPU-using containers that are alive at the same time as the app containers (app
   * containers and sidecars). Init containers are checked separately: they run before and
   * their peak is covered by `requests`.
   */
  clients: readonly GpuClient[];
  /** `gpu-ledger.io/gpu-memory`: declared memory per GPU in bytes, null when unset. */
  declaredMemoryBytes: number | null;
  /** Compute declared via tier annotation, per GPU, milli; null when unset. */
  declaredThreadMilli: number | null;
  isolation: Isolation;
  tier: string | null;
  /** Effective CPU request (milli, Kubernetes rules incl. init containers, sidecars, overhead); 0 when none. */
  cpuMilli: number;
  /** Node the pod is bound to (spec.nodeName), if any. */
  nodeName: string | null;
  /** GPUs recorded on the pod by gpu-ledger's bind (annotation `gpu-ledger.io/gpus`), if any. */
  assignedGpus: readonly number[] | null;
  /** `spec.priority` (set by the API server from the PriorityClass); 0 when unset. */
  priority: number;
  /** `spec.preemptionPolicy`: `Never` pods wait instead of preempting. */
  preemptionPolicy: 'PreemptLowerPriority' | 'Never';
  /** `status.startTime` as epoch ms, null when unknown (victim order: latest start first). */
  startTime: number | null;
  /** The pod's `metadata.labels` (PodDisruptionBudget selectors); empty when none. */
  labels: Readonly<Record<string, string>>;
  errors: readonly DemandError[];
}

/** What a pod takes on one GPU. All amounts are already resolved for that node. */
export interface GpuTake {
  gpu: number;
  replicas: number;
  /** MPS pinned memory (bytes) — counts against memory on MPS GPUs. */
  memoryBytes: number;
  /** MPS thread share in milli-GPU. */
  threadMilli: number;
  /** MPS clients (containers) on this GPU. */
  clients: number;
  /** MIG instances per profile name. */
  mig: ReadonlyMap<string, number> | null;
  exclusive: boolean;
}

export interface Placement {
  node: string;
  takes: readonly GpuTake[];
}

export type ReasonCode =
  | 'node-unknown'
  | 'no-gpu'
  | 'node-problem'
  | 'node-saturated'
  | 'invalid-pod'
  | 'resource-missing'
  | 'replicas'
  | 'gpu-tokens'
  | 'mps-memory'
  | 'mps-threads'
  | 'mps-clients'
  | 'token-memory'
  | 'gpu-too-small'
  | 'too-few-gpus'
  | 'timeslice-memory'
  | 'mig-instances'
  | 'mig-memory'
  | 'exclusive-busy'
  | 'held-exclusive';

export type Unit = 'bytes' | 'milli' | 'count' | 'none';

/** Why a node does not fit: data, rendered at the edge (see explain/render.ts). */
export interface Reason {
  code: ReasonCode;
  /** Resource or quantity concerned, e.g. `nvidia.com/gpu`, `memory`, `nvidia.com/mig-3g.40gb`. */
  resource: string;
  /** GPU index the reason is about, or null for node-wide reasons. */
  gpu: number | null;
  requested: number;
  used: number;
  capacity: number;
  unit: Unit;
  /** Could evicting pods from the node make room? (false for spec/inventory problems). */
  resolvable: boolean;
  /** Extra human detail (node problem message, pod error message, ...). */
  detail?: string;
  /** Pods concerned, `namespace/name` (who holds a GPU exclusively, who is on a GPU). */
  pods?: readonly string[];
  /** Replicas/tokens concerned: e.g. how many tokens would hold the declared memory. */
  tokens?: { asked: number; needed: number; resource: string; each: number };
}

export interface Tier {
  name: string;
  memoryBytes: number;
  threadMilli: number;
}
