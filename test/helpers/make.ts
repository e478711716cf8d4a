// Builders for model values in tests that exercise the ledger/fit rules directly (without the
// parsers). Scenario tests that start from YAML use the real parsers instead.

import type { GpuClient, NodeInventory, PodDemand, ReplicaPlacement, SharingMode } from '../../src/model/types.js';

export const GiB = 2 ** 30;
export const MiB = 2 ** 20;

export interface NodeSpec {
  name: string;
  mode?: SharingMode;
  gpus?: number;
  memoryBytes?: number;
  replicas?: number;
  placement?: ReplicaPlacement;
  mpsDaemonLimits?: boolean;
  computeOvercommit?: number;
  mpsMaxClients?: number;
  reservedMemoryBytes?: number;
  tier?: string | null;
  mig?: Record<string, { count: number; memoryBytes: number }>;
}

export function node(spec: NodeSpec): NodeInventory {
  const gpus = spec.gpus ?? 1;
  const mode = spec.mode ?? 'mps';
  const migProfiles = new Map(
    Object.entries(spec.mig ?? {}).map(([name, p]) => [
      name,
      { name, resource: `nvidia.com/mig-${name}`, memoryBytes: p.memoryBytes, slices: Number(name.split('g')[0]) },
    ]),
  );
  return {
    name: spec.name,
    model: 'test-gpu',
    cpuMilli: 0,
    mode,
    migStrategy: spec.mig ? 'mixed' : 'none',
    gpus: Array.from({ length: gpus }, (_, index) => ({
      index,
      memoryBytes: spec.memoryBytes ?? 16 * GiB,
      replicas: spec.replicas ?? (mode === 'mig' || mode === 'none' ? 1 : 4),
      mig: new Map(Object.entries(spec.mig ?? {}).map(([n, p]) => [n, Math.floor(p.count / gpus)])),
    })),
    resource: 'nvidia.com/gpu',
    perGpuResources: false,
    migProfiles,
    memoryBytes: spec.memoryBytes ?? 16 * GiB,
    memorySource: 'label',
    mpsDaemonLimits: spec.mpsDaemonLimits ?? false,
    reservedMemoryBytes: spec.reservedMemoryBytes ?? 0,
    computeOvercommit: spec.computeOvercommit ?? 1,
    mpsMaxClients: spec.mpsMaxClients ?? 48,
    tier: spec.tier ?? null,
    placement: spec.placement ?? 'distributed',
    labels: {},
    problems: [],
  };
}

export function client(c: Partial<GpuClient> & { replicas?: number }): GpuClient {
  return {
    container: c.container ?? 'main',
    replicas: c.replicas ?? 0,
    gpuTokens: c.gpuTokens ?? new Map(),
    mig: c.mig ?? new Map(),
    memLimitByOrdinal: c.memLimitByOrdinal ?? new Map(),
    memLimitByUuid: c.memLimitByUuid ?? new Map(),
    threadMilli: c.threadMilli ?? null,
  };
}

let seq = 0;

/** A pod with one MPS client: `memGiB` pinned on ordinal 0 and `pct` thread percentage. */
export function mpsPod(memGiB: number | null, pct: number | null, extra: Partial<PodDemand> = {}, replicas = 1): PodDemand {
  return pod(
    [
      client({
        replicas,
        memLimitByOrdinal: memGiB === null ? new Map() : new Map([[0, memGiB * GiB]]),
        threadMilli: pct === null ? null : pct * 10,
      }),
    ],
    extra,
  );
}

export function pod(clients: GpuClient[], extra: Partial<PodDemand> = {}): PodDemand {
  const uid = extra.uid ?? `uid-${++seq}`;
  const requests = new Map<string, number>();
  for (const c of clients) {
    if (c.replicas > 0) requests.set('nvidia.com/gpu', (requests.get('nvidia.com/gpu') ?? 0) + c.replicas);
    for (const [g, n] of c.gpuTokens) requests.set(`nvidia.com/gpu${g}`, (requests.get(`nvidia.com/gpu${g}`) ?? 0) + n);
    for (const [r, n] of c.mig) requests.set(r, (requests.get(r) ?? 0) + n);
  }
  return {
    uid,
    namespace: 'default',
    name: extra.name ?? uid,
    resourceVersion: '1',
    managed: true,
    requests,
    clients,
    declaredMemoryBytes: null,
    declaredThreadMilli: null,
    isolation: 'shared',
    tier: null,
    cpuMilli: 0,
    nodeName: null,
    assignedGpus: null,
    priority: 0,
    preemptionPolicy: 'PreemptLowerPriority',
    startTime: null,
    labels: {},
    errors: [],
    ...extra,
  };
}
