// The part of a pod's demand the GPU rules read, and the one key that identifies it. `fit` takes a
// FitShape, not a PodDemand, so it cannot read a field the key leaves out: FIT_FIELDS must name
// every field of FitShape (checked by the compiler below), and fitKey serialises exactly those.

import type { DemandError, GpuClient, Isolation, PodDemand } from '../model/types.js';

export interface FitShape {
  readonly requests: ReadonlyMap<string, number>;
  readonly clients: readonly GpuClient[];
  /** Pod-level memory per GPU: `gpu-ledger.io/gpu-memory`, else the tier's. */
  readonly declaredMemoryBytes: number | null;
  /** Pod-level thread share per GPU from the tier, when no container sets it. */
  readonly declaredThreadMilli: number | null;
  readonly isolation: Isolation;
  readonly errors: readonly DemandError[];
}

const FIT_FIELDS = ['requests', 'clients', 'declaredMemoryBytes', 'declaredThreadMilli', 'isolation', 'errors'] as const;
// Compile-time guard: a field added to FitShape but not to FIT_FIELDS fails here.
type Missing = Exclude<keyof FitShape, (typeof FIT_FIELDS)[number]>;
const exhaustive: Missing extends never ? true : never = true;
void exhaustive;

/** JSON with Maps as entry lists (Maps are how the demand keeps per-resource and per-device values). */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : v));
}

/**
 * A key function over the named fields of an object, in a fixed order, computed once per object
 * (a pod's demand is asked about across every candidate node) and interned.
 */
export function keyOver<T extends object>(fields: readonly (keyof T)[]): (obj: T) => string {
  const keys = new WeakMap<T, string>();
  return (obj) => {
    let k = keys.get(obj);
    if (k === undefined) {
      k = intern(stableJson(fields.map((f) => obj[f])));
      keys.set(obj, k);
    }
    return k;
  };
}

/**
 * One string object per distinct key text (bounded): each request parses its pod anew, and the
 * memos compare keys once per candidate node — equal texts that are the same object compare by
 * pointer instead of character by character.
 */
const interned = new Map<string, string>();
export function intern(key: string): string {
  const known = interned.get(key);
  if (known !== undefined) return known;
  if (interned.size >= 4096) interned.clear();
  interned.set(key, key);
  return key;
}

/** The fit cache's key: every field fit reads, nothing else (not the pod's identity). */
export const fitKey: (shape: FitShape) => string = keyOver<FitShape>(FIT_FIELDS);

/** A PodDemand is a FitShape (structurally); this names the conversion where it happens. */
export function fitShapeOf(d: PodDemand): FitShape {
  return d;
}

/** Memory per GPU the pod states where no MPS daemon enforces it: its declaration, else the largest env entry. */
export function declaredMemory(shape: FitShape): number | null {
  if (shape.declaredMemoryBytes !== null) return shape.declaredMemoryBytes;
  return planOf(shape).largestEnvMemory;
}

/**
 * What the rules read of a shape on every candidate node, derived once per shape object (a shape
 * is never changed after parsing, and the filter asks about one shape across thousands of nodes):
 * the requests as arrays, so no Map iterator is made per node, and the largest env memory entry.
 */
export interface FitPlan {
  readonly resources: readonly string[];
  readonly counts: readonly number[];
  /** The largest CUDA_MPS_PINNED_DEVICE_MEM_LIMIT entry of any client, null when none sets one. */
  readonly largestEnvMemory: number | null;
  /**
   * The pod's one client when the pod is one replica of the node's shared resource and nothing
   * else (one client, `replicas` 1, no per-GPU tokens, no MIG instances, env entries for device 0
   * only): most pods. fit answers these from a per-kind plan (place.ts). Null otherwise.
   */
  readonly oneReplica: GpuClient | null;
}

const plans = new WeakMap<FitShape, FitPlan>();

export function planOf(shape: FitShape): FitPlan {
  let p = plans.get(shape);
  if (p === undefined) {
    let max: number | null = null;
    for (const c of shape.clients) {
      for (const v of c.memLimitByOrdinal.values()) max = Math.max(max ?? 0, v);
      for (const v of c.memLimitByUuid.values()) max = Math.max(max ?? 0, v);
    }
    p = { resources: [...shape.requests.keys()], counts: [...shape.requests.values()], largestEnvMemory: max, oneReplica: oneReplicaClient(shape) };
    plans.set(shape, p);
  }
  return p;
}

function oneReplicaClient(shape: FitShape): GpuClient | null {
  if (shape.clients.length !== 1) return null;
  const c = shape.clients[0];
  if (c.replicas !== 1 || c.gpuTokens.size > 0 || c.mig.size > 0) return null;
  for (const o of c.memLimitByOrdinal.keys()) if (o !== 0) return null;
  return c;
}

/** True when a container sets CUDA_MPS_* itself. */
export function usesMpsEnv(shape: FitShape): boolean {
  for (const c of shape.clients) if (c.memLimitByOrdinal.size > 0 || c.memLimitByUuid.size > 0 || c.threadMilli !== null) return true;
  return false;
}

/** True when a container names a GPU UUID in CUDA_MPS_PINNED_DEVICE_MEM_LIMIT. */
export function usesUuidLimits(shape: FitShape): boolean {
  for (const c of shape.clients) if (c.memLimitByUuid.size > 0) return true;
  return false;
}
