// Node → GPU inventory. Sources in order of precedence: gpu-ledger.io/ annotations, config pools,
// GPU Feature Discovery labels, capacity/allocatable, defaults. Never throws: an unusable
// inventory is returned with `problems`, and the filter rejects the node with their messages.

import type { LedgerConfig, PoolSettings } from './config-types.js';
import { matchesSelector } from './config.js';
import { formatBytes, parseCpuMilli, parseMemoryQuantity, parseQuantity } from './quantity.js';
import {
  PREFIX,
  type GpuInventory,
  type MigProfile,
  type MigStrategy,
  type NodeInventory,
  type NodeProblem,
  type ReplicaPlacement,
  type SharingMode,
  type Source,
} from './types.js';

export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { capacity?: Record<string, string>; allocatable?: Record<string, string> };
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const PER_GPU_RE = /^nvidia\.com\/gpu(\d+)$/;
const MIG_RES_RE = /^nvidia\.com\/mig-(.+)$/;
const MIG_LABEL_RE = /^nvidia\.com\/mig-(.+)\.count$/;
const MODES: readonly SharingMode[] = ['mps', 'time-slicing', 'mig', 'none'];
const PLACEMENTS: readonly ReplicaPlacement[] = ['distributed', 'packed', 'extender'];

function strMap(v: unknown, field: string, problems: NodeProblem[]): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    problems.push({ field, value: String(v), message: `${field} is not a map` });
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
  }
  return out;
}

function intOf(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** Profile memory from its name ("3g.40gb" → 40 GiB) when no label says it. */
function memoryFromProfileName(profile: string): number {
  const m = /(\d+)gb/.exec(profile);
  return m ? Number(m[1]) * GiB : 0;
}

function slicesOf(profile: string): number {
  const m = /^(\d+)g/.exec(profile);
  return m ? Number(m[1]) : 0;
}

/** Pools in file order; for each setting the first matching pool that sets it wins. */
function poolSettings(labels: Record<string, string>, config: LedgerConfig): PoolSettings {
  const out: PoolSettings = {};
  for (const pool of config.pools) {
    if (!matchesSelector(labels, pool.selector)) continue;
    for (const [k, v] of Object.entries(pool) as [keyof PoolSettings, unknown][]) {
      if (k === ('name' as string) || k === ('selector' as string) || v === undefined) continue;
      if (out[k] === undefined) (out as Record<string, unknown>)[k] = v;
    }
  }
  return out;
}

export function parseNodeInventory(node: NodeLike, config: LedgerConfig): NodeInventory | null {
  const problems: NodeProblem[] = [];
  const raw = (node ?? {}) as { metadata?: unknown; status?: unknown };
  const md = (raw.metadata && typeof raw.metadata === 'object' ? raw.metadata : {}) as Record<string, unknown>;
  const st = (raw.status && typeof raw.status === 'object' ? raw.status : {}) as Record<string, unknown>;
  const name = typeof md.name === 'string' ? md.name : '';
  const labels = strMap(md.labels, 'metadata.labels', problems);
  const ann = strMap(md.annotations, 'metadata.annotations', problems);
  const capacity = strMap(st.capacity, 'status.capacity', problems);
  const allocatable = strMap(st.allocatable, 'status.allocatable', problems);
  const res: Record<string, string> = { ...capacity, ...allocatable };
  const count = (resource: string): number | null => {
    const v = res[resource];
    if (v === undefined) return null;
    const q = parseQuantity(v);
    return q === null ? null : Math.floor(q);
  };

  const nvidiaResources = Object.keys(res).filter((k) => k.startsWith('nvidia.com/') && (count(k) ?? 0) > 0);
  const labelCount = intOf(labels['nvidia.com/gpu.count']);
  if (nvidiaResources.length === 0 && !labelCount) return null;

  const pool = poolSettings(labels, config);
  const annotation = <T>(key: string, parse: (s: string) => T | null, hint: string): T | undefined => {
    const v = ann[PREFIX + key];
    if (v === undefined) return undefined;
    const p = parse(v);
    if (p === null) {
      problems.push({ field: `metadata.annotations.${PREFIX}${key}`, value: v, message: `annotation ${PREFIX}${key} "${v}" ${hint}` });
      return undefined;
    }
    return p;
  };
  const positiveNumber = (s: string) => {
    const n = Number(s.trim());
    return s.trim() !== '' && Number.isFinite(n) && n > 0 ? n : null;
  };
  const positiveInt = (s: string) => {
    const n = intOf(s);
    return n !== null && n > 0 ? n : null;
  };

  // --- per-GPU resources (seed 001 individual mode) and MIG profiles
  const perGpu = new Map<number, number>();
  for (const k of Object.keys(res)) {
    const m = PER_GPU_RE.exec(k);
    if (m) perGpu.set(Number(m[1]), Math.max(0, count(k) ?? 0));
  }
  const perGpuResources = perGpu.size > 0;

  const migStrategyLabel = labels['nvidia.com/mig.strategy'];
  const migCounts = new Map<string, number>();
  const migMemory = new Map<string, number>();
  for (const [k, v] of Object.entries(labels)) {
    const m = MIG_LABEL_RE.exec(k);
    if (m) {
      const n = intOf(v);
      if (n !== null) migCounts.set(m[1], n);
      const mem = intOf(labels[`nvidia.com/mig-${m[1]}.memory`]);
      if (mem !== null) migMemory.set(m[1], mem * MiB);
    }
  }
  for (const k of Object.keys(res)) {
    const m = MIG_RES_RE.exec(k);
    if (m) migCounts.set(m[1], Math.max(0, count(k) ?? 0)); // allocatable wins over labels
  }
  let migStrategy: MigStrategy = migStrategyLabel === 'single' || migStrategyLabel === 'mixed' ? migStrategyLabel : 'none';
  if (migStrategy === 'none' && [...Object.keys(res)].some((k) => MIG_RES_RE.test(k))) migStrategy = 'mixed';
  const productRaw = labels['nvidia.com/gpu.product'] ?? '';
  if (migStrategy === 'none' && /-MIG-(\d+g\.\d+gb)/.test(productRaw)) migStrategy = 'single';
  if (migStrategy === 'single' && migCounts.size === 0) {
    const m = /-MIG-(\d+g\.\d+gb(?:\.me)?)/.exec(productRaw);
    const n = count('nvidia.com/gpu') ?? labelCount ?? 0;
    if (m) migCounts.set(m[1], n);
  }
  if (migCounts.size === 0) migStrategy = 'none';

  // --- sharing mode
  const strategyLabel = labels['nvidia.com/gpu.sharing-strategy'];
  const modeOverride =
    annotation('sharing', (s) => ((MODES as readonly string[]).includes(s) ? (s as SharingMode) : null), `must be one of ${MODES.join(', ')}`) ?? pool.sharing;
  let mode: SharingMode;
  if (modeOverride) mode = modeOverride;
  else if (migStrategy !== 'none') mode = 'mig';
  else if (strategyLabel === 'mps' || strategyLabel === 'time-slicing' || strategyLabel === 'none') mode = strategyLabel;
  else mode = 'none'; // refined below once replicas are known

  // --- resource name and GPU count
  const resource = res['nvidia.com/gpu.shared'] !== undefined ? 'nvidia.com/gpu.shared' : 'nvidia.com/gpu';
  const replicaCapacity = count(resource);
  const replicasOverride = annotation('replicas', positiveInt, 'must be a positive whole number') ?? pool.replicas;
  const replicasLabel = intOf(labels['nvidia.com/gpu.replicas']);

  let gpuCount: number;
  if (mode === 'mig' && migStrategy === 'single') {
    gpuCount = [...migCounts.values()].reduce((a, b) => a + b, 0);
  } else if (labelCount !== null && labelCount > 0) gpuCount = labelCount;
  else if (perGpuResources) gpuCount = Math.max(...perGpu.keys()) + 1;
  else if (replicaCapacity !== null && replicaCapacity > 0) {
    const r = replicasOverride ?? replicasLabel ?? 1;
    gpuCount = Math.max(1, Math.floor(replicaCapacity / Math.max(1, r)));
  } else gpuCount = mode === 'mig' ? 1 : 0;

  // --- replicas per GPU
  let replicas = replicasOverride ?? replicasLabel ?? null;
  if (replicas === null) {
    if (perGpuResources) replicas = Math.max(...perGpu.values());
    else if (replicaCapacity !== null && gpuCount > 0 && replicaCapacity % gpuCount === 0) replicas = replicaCapacity / gpuCount;
    else replicas = 1;
  }
  if (replicas < 1) {
    problems.push({ field: 'nvidia.com/gpu.replicas', value: String(replicas), message: `replicas per GPU must be at least 1, got ${replicas}` });
    replicas = 1;
  }
  if (!modeOverride && mode === 'none' && !strategyLabel && replicas > 1) mode = 'time-slicing';
  if (mode === 'mig') replicas = 1;
  if (
    mode !== 'mig' &&
    !perGpuResources &&
    replicaCapacity !== null &&
    gpuCount > 0 &&
    replicaCapacity !== gpuCount * replicas &&
    replicaCapacity % replicas !== 0
  ) {
    problems.push({
      field: `status.allocatable.${resource}`,
      value: String(replicaCapacity),
      message: `${resource} ${replicaCapacity} is not a multiple of ${replicas} replicas per GPU`,
    });
  }

  // --- memory
  let memoryBytes = 0;
  let memorySource: Source = 'default';
  const memAnn = annotation('gpu-memory', (s) => {
    const b = parseMemoryQuantity(s);
    return b !== null && b > 0 ? b : null;
  }, 'is not a memory quantity (e.g. 128Gi)');
  const memLabel = intOf(labels['nvidia.com/gpu.memory']);
  if (memAnn !== undefined) {
    memoryBytes = memAnn;
    memorySource = 'annotation';
  } else if (pool.gpuMemoryBytes !== undefined) {
    memoryBytes = pool.gpuMemoryBytes;
    memorySource = 'config';
  } else if (memLabel !== null && memLabel > 0) {
    memoryBytes = memLabel * MiB;
    memorySource = 'label';
  }
  const reservedMemoryBytes =
    annotation('reserved-memory', (s) => parseMemoryQuantity(s), 'is not a memory quantity (e.g. 2Gi)') ??
    pool.reservedMemoryBytes ??
    config.defaults.reservedMemoryBytes;
  if (memoryBytes > 0 && reservedMemoryBytes >= memoryBytes) {
    problems.push({
      field: `${PREFIX}reserved-memory`,
      value: formatBytes(reservedMemoryBytes),
      message: `reserved memory ${formatBytes(reservedMemoryBytes)} leaves nothing of the GPU's ${formatBytes(memoryBytes)}`,
    });
  }
  if (mode === 'mps' && memoryBytes <= 0) {
    problems.push({
      field: `metadata.annotations.${PREFIX}gpu-memory`,
      value: '',
      message: `MPS needs the GPU memory: set annotation ${PREFIX}gpu-memory (e.g. 128Gi) or a config pool gpuMemory`,
    });
  }

  const computeOvercommit =
    annotation('compute-overcommit', positiveNumber, 'must be a positive ratio (1 = 100 %)') ?? pool.computeOvercommit ?? config.defaults.computeOvercommit;
  const mpsMaxClients = annotation('mps-max-clients', positiveInt, 'must be a positive whole number') ?? pool.mpsMaxClients ?? config.defaults.mpsMaxClients;
  const tierText = ann[PREFIX + 'tier'] ?? pool.tier ?? null;
  let tier: string | null = null;
  if (tierText !== null) {
    if (config.tiers.some((t) => t.name === tierText)) tier = tierText;
    else problems.push({ field: `metadata.annotations.${PREFIX}tier`, value: tierText, message: `tier "${tierText}" is not defined (known: ${config.tiers.map((t) => t.name).join(', ')})` });
  }
  const placement =
    annotation('placement', (s) => ((PLACEMENTS as readonly string[]).includes(s) ? (s as ReplicaPlacement) : null), `must be one of ${PLACEMENTS.join(', ')}`) ??
    pool.placement ??
    config.defaults.placement;
  const mpsDaemonLimits =
    annotation('mps-daemon-limits', (s) => (s === 'true' ? true : s === 'false' ? false : null), 'must be "true" or "false"') ?? pool.mpsDaemonLimits ?? memorySource === 'label';

  // --- MIG profiles and per-GPU layout
  const migProfiles = new Map<string, MigProfile>();
  for (const [profile, n] of migCounts) {
    if (n <= 0) continue;
    migProfiles.set(profile, {
      name: profile,
      resource: migStrategy === 'single' ? 'nvidia.com/gpu' : `nvidia.com/mig-${profile}`,
      memoryBytes: migMemory.get(profile) ?? memoryFromProfileName(profile),
      slices: slicesOf(profile),
    });
  }

  const gpus: GpuInventory[] = [];
  if (mode === 'mig' && migStrategy === 'single') {
    // Each MIG device is advertised as one nvidia.com/gpu: model each as its own "GPU".
    for (const [profile, n] of migCounts) {
      for (let i = 0; i < n; i++) {
        gpus.push({ index: gpus.length, memoryBytes: migProfiles.get(profile)?.memoryBytes ?? 0, replicas: 1, mig: new Map([[profile, 1]]) });
      }
    }
  } else {
    const physical = Math.max(gpuCount, 0);
    for (let i = 0; i < physical; i++) {
      const mig = new Map<string, number>();
      if (mode === 'mig') {
        for (const [profile, n] of migCounts) {
          const each = Math.floor(n / physical) + (i < n % physical ? 1 : 0);
          if (each > 0) mig.set(profile, each);
        }
      }
      gpus.push({ index: i, memoryBytes, replicas: perGpuResources ? (perGpu.get(i) ?? 0) : replicas, mig });
    }
  }

  const product = productRaw.replace(/-SHARED$/, '') || 'unknown';
  return {
    name,
    model: product,
    mode,
    migStrategy,
    gpus,
    resource,
    perGpuResources,
    migProfiles,
    memoryBytes,
    memorySource,
    mpsDaemonLimits,
    reservedMemoryBytes,
    computeOvercommit,
    mpsMaxClients,
    tier,
    placement,
    // Allocatable (else capacity) CPU; 0 when missing or unusable (CPU is advisory here).
    cpuMilli: parseCpuMilli(res.cpu),
    labels,
    problems,
  };
}
