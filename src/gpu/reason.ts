// Named constructors for every reason a node does not fit (kube-scheduler's noderesources idea:
// reasons are data — code, GPU, requested, in use, capacity — rendered at the edge by
// explain/render.ts). No other file builds a Reason literal.

import type { DemandError, NodeProblem, Reason } from '../model/types.js';

interface Amounts {
  requested: number;
  used: number;
  capacity: number;
}

function make(r: Reason): Reason {
  return r;
}

/** `container "<name>"`, made once per container name (reasons are built for every candidate node). Bounded. */
const details = new Map<string, string>();
function containerDetail(container: string): string {
  let d = details.get(container);
  if (d === undefined) {
    d = `container "${container}"`;
    if (details.size >= 1024) details.clear();
    details.set(container, d);
  }
  return d;
}

const none = { requested: 0, used: 0, capacity: 0, unit: 'none' as const };

/** Shared, immutable: the filter hands them out for many nodes without allocating. */
export const NODE_UNKNOWN: Reason = Object.freeze(make({ code: 'node-unknown', resource: 'node', gpu: null, ...none, resolvable: false }));
export const NO_GPU: Reason = Object.freeze(make({ code: 'no-gpu', resource: 'nvidia.com/gpu', gpu: null, ...none, resolvable: false }));

/**
 * The last invalid-pod and resource-missing reasons: both say nothing about the node they are
 * given for, and a filter gives one of them to every node of a kind (every node, for an invalid
 * pod) — one object, not one per node, kept by the memo and the reply for the whole request. A
 * Reason is never changed once made (NODE_UNKNOWN and NO_GPU are shared the same way).
 */
let lastInvalid: { error: DemandError; reason: Reason } | null = null;
let lastMissing: Reason | null = null;

export const reasons = {
  nodeProblem: (p: NodeProblem): Reason => make({ code: 'node-problem', resource: p.field, gpu: null, ...none, resolvable: false, detail: p.message }),

  /** More pods on a GPU than the ledger can account exactly: pods bypassed scheduling. */
  nodeSaturated: (gpu: number, pods: number, limit: number): Reason =>
    make({ code: 'node-saturated', resource: 'pods', gpu, requested: 1, used: pods, capacity: limit, unit: 'count', resolvable: false }),

  invalidPod: (e: DemandError): Reason => {
    if (lastInvalid !== null && lastInvalid.error === e) return lastInvalid.reason;
    const reason = make({ code: 'invalid-pod', resource: 'pod', gpu: null, ...none, resolvable: false, detail: e.message });
    lastInvalid = { error: e, reason };
    return reason;
  },

  resourceMissing: (resource: string, requested: number): Reason => {
    if (lastMissing !== null && lastMissing.resource === resource && lastMissing.requested === requested) return lastMissing;
    return (lastMissing = make({ code: 'resource-missing', resource, gpu: null, requested, used: 0, capacity: 0, unit: 'count', resolvable: false }));
  },

  /** Shared or whole-GPU replicas; node-wide when `gpu` is null. */
  replicas: (resource: string, gpu: number | null, a: Amounts): Reason => make({ code: 'replicas', resource, gpu, ...a, unit: 'count', resolvable: true }),

  /** Per-GPU tokens (`nvidia.com/gpuN`, seed 001 individual mode). */
  gpuTokens: (resource: string, gpu: number, a: Amounts): Reason => make({ code: 'gpu-tokens', resource, gpu, ...a, unit: 'count', resolvable: true }),

  mpsMemory: (gpu: number, a: Amounts): Reason => make({ code: 'mps-memory', resource: 'memory', gpu, ...a, unit: 'bytes', resolvable: true }),
  mpsThreads: (gpu: number, a: Amounts): Reason => make({ code: 'mps-threads', resource: 'threads', gpu, ...a, unit: 'milli', resolvable: true }),
  mpsClients: (gpu: number, a: Amounts): Reason => make({ code: 'mps-clients', resource: 'clients', gpu, ...a, unit: 'count', resolvable: true }),
  timesliceMemory: (gpu: number, a: Amounts): Reason => make({ code: 'timeslice-memory', resource: 'memory', gpu, ...a, unit: 'bytes', resolvable: true }),

  /**
   * The MPS daemon caps each client at memory/replicas per replica it holds, and an env limit can
   * only lower that: a pod declaring more than its tokens give cannot get it on this node.
   */
  tokenMemory: (gpu: number, declared: number, granted: number, tokens: { asked: number; needed: number; resource: string; each: number }, container: string | null): Reason =>
    make({
      code: 'token-memory',
      resource: tokens.resource,
      gpu,
      requested: declared,
      used: 0,
      capacity: granted,
      unit: 'bytes',
      resolvable: false,
      tokens,
      ...(container ? { detail: containerDetail(container) } : {}),
    }),

  /** Declared memory above what one GPU (or MIG instance) of this node has at all. */
  gpuTooSmall: (gpu: number | null, declared: number, capacity: number): Reason =>
    make({ code: 'gpu-too-small', resource: 'memory', gpu, requested: declared, used: 0, capacity, unit: 'bytes', resolvable: false }),

  /**
   * A client's CUDA_MPS_PINNED_DEVICE_MEM_LIMIT names devices 0..needed−1, but its replicas land on
   * only `visible` distinct GPUs of this node (a container sees one device per GPU it gets), so the
   * entries beyond them would limit devices it never sees and the memory would not be there.
   */
  tooFewGpus: (container: string, needed: number, visible: number, gpus: number): Reason =>
    make({ code: 'too-few-gpus', resource: 'nvidia.com/gpu', gpu: null, requested: needed, used: 0, capacity: visible, unit: 'count', resolvable: gpus >= needed, detail: containerDetail(container) }),

  migInstances: (resource: string, gpu: number | null, a: Amounts): Reason => make({ code: 'mig-instances', resource, gpu, ...a, unit: 'count', resolvable: true }),
  migMemory: (resource: string, declared: number, capacity: number): Reason =>
    make({ code: 'mig-memory', resource, gpu: null, requested: declared, used: 0, capacity, unit: 'bytes', resolvable: false }),

  /** An exclusive pod needs idle GPUs: `busy` pods are on the GPU (or on every GPU, node-wide). */
  exclusiveBusy: (gpu: number | null, busy: number, pods: readonly string[]): Reason =>
    make({ code: 'exclusive-busy', resource: 'gpu', gpu, requested: 1, used: busy, capacity: 0, unit: 'count', resolvable: true, pods }),

  /** A shared pod avoids GPUs held by an exclusive pod; `a` are the replicas in use of the GPU(s). */
  heldExclusive: (gpu: number | null, holders: readonly string[], a: Amounts): Reason =>
    make({ code: 'held-exclusive', resource: 'gpu', gpu, ...a, unit: 'count', resolvable: true, pods: holders }),
};
