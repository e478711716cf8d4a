// Pod → GPU demand. Total: any input yields a PodDemand; problems become DemandErrors whose
// message names the container, the variable and the value, so kube-scheduler can show them.
// Effective requests follow Kubernetes (app + sidecars vs init peaks); each container that uses
// the GPU is its own MPS client.

import { PREFIX, type DemandError, type GpuClient, type Isolation, type PodDemand, type Tier } from './types.js';
import { parseCpuMilli, parseMemoryQuantity, parseMpsSize } from './quantity.js';

const MEM_LIMIT = 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT';
const THREADS = 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE';
const PER_GPU_RE = /^nvidia\.com\/gpu(\d+)$/;
const MIG_RE = /^nvidia\.com\/mig-(.+)$/;
const UUID_RE = /^(GPU|MIG)-[0-9A-Za-z-/]+$/;
const MAX_VALUE = 100;

export type PodLike = unknown;

/** The NVIDIA resource names gpu-ledger accounts. */
export function isGpuResourceName(name: string): boolean {
  return name === 'nvidia.com/gpu' || name === 'nvidia.com/gpu.shared' || PER_GPU_RE.test(name) || MIG_RE.test(name);
}

type Rec = Record<string, unknown>;

function rec(v: unknown): Rec | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : null;
}

function short(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
}

interface ContainerView {
  name: string;
  kind: 'app' | 'sidecar' | 'init';
  gpu: Map<string, number>;
  /** CPU request in milli (the limit when only a limit is set, as the API server defaults it). */
  cpu: number;
  env: Map<string, { value: string | null; from: boolean }>;
  path: string;
}

function readResources(c: Rec, path: string, cname: string, errors: DemandError[]): Map<string, number> {
  const out = new Map<string, number>();
  const res = rec(c.resources);
  if (!res) return out;
  const limits = rec(res.limits) ?? {};
  const requests = rec(res.requests) ?? {};
  const names = new Set([...Object.keys(limits), ...Object.keys(requests)].filter(isGpuResourceName));
  for (const name of names) {
    const parse = (raw: unknown, which: string): number | null => {
      if (raw === undefined) return null;
      const text = typeof raw === 'number' ? String(raw) : raw;
      if (typeof text !== 'string' || !/^\d+$/.test(text.trim())) {
        errors.push({
          field: `${path}.resources.${which}.${name}`,
          value: short(raw),
          message: `container "${cname}": ${name} ${which} "${short(raw)}" must be a whole number (extended resources are integers)`,
        });
        return null;
      }
      return Number(text.trim());
    };
    const lim = parse(limits[name], 'limits');
    const req = parse(requests[name], 'requests');
    if (lim !== null && req !== null && lim !== req) {
      errors.push({
        field: `${path}.resources.requests.${name}`,
        value: String(req),
        message: `container "${cname}": ${name} requests (${req}) must equal limits (${lim}) for an extended resource`,
      });
    }
    const n = lim ?? req;
    if (n !== null && n > 0) out.set(name, n);
  }
  return out;
}

/** CPU is validated by the API server, not here: an unreadable value counts as no request. */
function readCpu(c: Rec): number {
  const res = rec(c.resources);
  if (!res) return 0;
  const raw = rec(res.requests)?.cpu ?? rec(res.limits)?.cpu;
  return parseCpuMilli(raw);
}

function readEnv(c: Rec): Map<string, { value: string | null; from: boolean }> {
  const env = new Map<string, { value: string | null; from: boolean }>();
  if (!Array.isArray(c.env)) return env;
  for (const e of c.env) {
    const r = rec(e);
    if (!r || typeof r.name !== 'string') continue;
    if (r.name !== MEM_LIMIT && r.name !== THREADS) continue;
    // Kubernetes: the last definition of a variable wins.
    if (r.valueFrom !== undefined && r.valueFrom !== null) env.set(r.name, { value: null, from: true });
    else env.set(r.name, { value: typeof r.value === 'string' ? r.value : r.value === undefined ? '' : short(r.value), from: false });
  }
  return env;
}

function containers(spec: Rec, errors: DemandError[]): ContainerView[] {
  const out: ContainerView[] = [];
  const add = (list: unknown, field: string, init: boolean) => {
    if (!Array.isArray(list)) return;
    list.forEach((raw, i) => {
      const c = rec(raw);
      if (!c) return;
      const name = typeof c.name === 'string' && c.name ? c.name : `#${i}`;
      const path = `spec.${field}[${name}]`;
      const kind = !init ? 'app' : c.restartPolicy === 'Always' ? 'sidecar' : 'init';
      out.push({ name, kind, gpu: readResources(c, path, name, errors), cpu: readCpu(c), env: readEnv(c), path });
    });
  };
  add(spec.initContainers, 'initContainers', true);
  add(spec.containers, 'containers', false);
  return out;
}

/** Kubernetes' effective request of one amount: max(Σ app + Σ sidecars, max_i(init_i + Σ sidecars before i)). */
function effective(views: ContainerView[], amount: (v: ContainerView) => number): number {
  let regular = 0;
  let initPeak = 0;
  let sidecarsSoFar = 0;
  for (const v of views) {
    const n = amount(v);
    if (v.kind === 'init') initPeak = Math.max(initPeak, n + sidecarsSoFar);
    else {
      if (v.kind === 'sidecar') sidecarsSoFar += n;
      regular += n;
    }
  }
  return Math.max(regular, initPeak);
}

/** The effective request per NVIDIA resource the containers name. */
function effectiveRequests(views: ContainerView[]): Map<string, number> {
  const names = new Set<string>();
  for (const v of views) for (const k of v.gpu.keys()) names.add(k);
  const out = new Map<string, number>();
  for (const name of names) {
    const total = effective(views, (v) => v.gpu.get(name) ?? 0);
    if (total > 0) out.set(name, total);
  }
  return out;
}

/** The effective CPU request, plus the pod overhead (RuntimeClass). */
function effectiveCpu(views: ContainerView[], overhead: unknown): number {
  return effective(views, (v) => v.cpu) + parseCpuMilli(rec(overhead)?.cpu);
}

function parseMemLimit(v: ContainerView, raw: string, errors: DemandError[]): { byOrdinal: Map<number, number>; byUuid: Map<string, number> } {
  const byOrdinal = new Map<number, number>();
  const byUuid = new Map<string, number>();
  const field = `${v.path}.env.${MEM_LIMIT}`;
  const fail = (why: string) =>
    errors.push({ field, value: short(raw), message: `container "${v.name}": ${MEM_LIMIT} "${short(raw)}": ${why} (use e.g. 0=16G or 0=1G,1=512M)` });
  if (raw.trim() === '') {
    fail('is empty');
    return { byOrdinal, byUuid };
  }
  for (const entry of raw.split(',')) {
    const e = entry.trim();
    const eq = e.indexOf('=');
    if (e === '') {
      fail('has an empty entry');
      continue;
    }
    if (eq < 0) {
      fail(`entry "${short(e)}" has no "=" between device and size`);
      continue;
    }
    const device = e.slice(0, eq).trim();
    const size = e.slice(eq + 1).trim();
    if (device === '') {
      fail(`entry "${short(e)}" names no device`);
      continue;
    }
    const bytes = parseMpsSize(size);
    if (size === '' || bytes === null) {
      fail(`"${short(size)}" is not a size`);
      continue;
    }
    if (/^\d+$/.test(device)) {
      const ord = Number(device);
      if (byOrdinal.has(ord)) fail(`device ${ord} is listed twice`);
      else byOrdinal.set(ord, bytes);
    } else if (UUID_RE.test(device)) {
      if (byUuid.has(device)) fail(`device ${device} is listed twice`);
      else byUuid.set(device, bytes);
    } else {
      fail(`"${short(device)}" is neither a device ordinal nor a GPU UUID`);
    }
  }
  return { byOrdinal, byUuid };
}

function parseThreads(v: ContainerView, raw: string, errors: DemandError[]): number | null {
  const t = raw.trim();
  const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || n < 1 || n > 100) {
    errors.push({
      field: `${v.path}.env.${THREADS}`,
      value: short(raw),
      message: `container "${v.name}": ${THREADS} "${short(raw)}" must be a percentage from 1 to 100`,
    });
    return null;
  }
  return Math.round(n * 10);
}

function clientOf(v: ContainerView, errors: DemandError[]): GpuClient {
  let replicas = 0;
  const gpuTokens = new Map<number, number>();
  const mig = new Map<string, number>();
  for (const [name, n] of v.gpu) {
    const perGpu = PER_GPU_RE.exec(name);
    if (name === 'nvidia.com/gpu' || name === 'nvidia.com/gpu.shared') replicas += n;
    else if (perGpu) gpuTokens.set(Number(perGpu[1]), n);
    else mig.set(name, n);
  }
  let memLimitByOrdinal = new Map<number, number>();
  let memLimitByUuid = new Map<string, number>();
  let threadMilli: number | null = null;
  for (const [name, e] of v.env) {
    if (e.from || (e.value !== null && /\$\(/.test(e.value))) {
      errors.push({
        field: `${v.path}.env.${name}`,
        value: e.from ? 'valueFrom' : short(e.value),
        message: `container "${v.name}": ${name} uses ${e.from ? 'valueFrom' : 'a $(VAR) reference'}, which gpu-ledger cannot resolve at scheduling time; set a literal value or the ${PREFIX}gpu-memory annotation`,
      });
      continue;
    }
    if (name === MEM_LIMIT) ({ byOrdinal: memLimitByOrdinal, byUuid: memLimitByUuid } = parseMemLimit(v, e.value ?? '', errors));
    else threadMilli = parseThreads(v, e.value ?? '', errors);
  }
  return { container: v.name, replicas, gpuTokens, mig, memLimitByOrdinal, memLimitByUuid, threadMilli };
}

/** Parses a pod's GPU demand. Never throws. */
export function parsePodDemand(pod: unknown, tiers: readonly Tier[]): PodDemand {
  const errors: DemandError[] = [];
  const p = rec(pod) ?? {};
  const md = rec(p.metadata) ?? {};
  const spec = rec(p.spec) ?? {};
  const ann = rec(md.annotations) ?? {};
  const views = containers(spec, errors);
  const requests = effectiveRequests(views);
  const clients: GpuClient[] = [];
  for (const v of views) {
    if (v.kind === 'init' || v.gpu.size === 0) continue;
    clients.push(clientOf(v, errors));
  }
  // Init containers' env is still validated: a bad value there is a bug the user wants to hear about.
  for (const v of views) if (v.kind === 'init' && v.gpu.size > 0) clientOf(v, errors);

  const annotation = (key: string): string | null => {
    const v = ann[PREFIX + key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') {
      errors.push({ field: `metadata.annotations.${PREFIX}${key}`, value: short(v), message: `annotation ${PREFIX}${key} must be a string, got ${short(v)}` });
      return null;
    }
    return v;
  };

  let declaredMemoryBytes: number | null = null;
  const memText = annotation('gpu-memory');
  if (memText !== null) {
    const b = parseMemoryQuantity(memText);
    if (b === null || b <= 0) {
      errors.push({ field: `metadata.annotations.${PREFIX}gpu-memory`, value: short(memText), message: `annotation ${PREFIX}gpu-memory "${short(memText)}" is not a positive memory quantity (e.g. 20Gi)` });
    } else declaredMemoryBytes = b;
  }

  let isolation: Isolation = 'shared';
  const iso = annotation('isolation');
  if (iso !== null) {
    if (iso === 'shared' || iso === 'exclusive') isolation = iso;
    else errors.push({ field: `metadata.annotations.${PREFIX}isolation`, value: short(iso), message: `annotation ${PREFIX}isolation "${short(iso)}" must be "shared" or "exclusive"` });
  }

  let tier: string | null = null;
  let declaredThreadMilli: number | null = null;
  const tierText = annotation('tier');
  if (tierText !== null) {
    const t = tiers.find((x) => x.name === tierText);
    if (!t) {
      errors.push({ field: `metadata.annotations.${PREFIX}tier`, value: short(tierText), message: `annotation ${PREFIX}tier "${short(tierText)}" is not a tier (known: ${tiers.map((x) => x.name).join(', ')})` });
    } else {
      tier = t.name;
      const envMemory = clients.some((c) => c.memLimitByOrdinal.size > 0 || c.memLimitByUuid.size > 0);
      if (declaredMemoryBytes === null && !envMemory) declaredMemoryBytes = t.memoryBytes;
      if (!clients.some((c) => c.threadMilli !== null)) declaredThreadMilli = t.threadMilli;
    }
  }

  let assignedGpus: number[] | null = null;
  const gpusText = annotation('gpus');
  if (gpusText !== null && gpusText.trim() !== '') {
    const parts = gpusText.split(',').map((s) => s.trim());
    if (parts.every((s) => /^\d{1,3}$/.test(s))) assignedGpus = parts.map(Number);
    else errors.push({ field: `metadata.annotations.${PREFIX}gpus`, value: short(gpusText), message: `annotation ${PREFIX}gpus "${short(gpusText)}" must be comma-separated GPU indexes (written by gpu-ledger's bind)` });
  }

  const str = (v: unknown, dflt: string) => (typeof v === 'string' && v !== '' ? v : dflt);
  return {
    uid: str(md.uid, ''),
    namespace: str(md.namespace, 'default'),
    name: str(md.name, ''),
    resourceVersion: str(md.resourceVersion, ''),
    managed: requests.size > 0,
    requests,
    clients,
    declaredMemoryBytes,
    declaredThreadMilli,
    isolation,
    tier,
    cpuMilli: effectiveCpu(views, spec.overhead),
    nodeName: typeof spec.nodeName === 'string' && spec.nodeName !== '' ? spec.nodeName : null,
    assignedGpus,
    errors,
  };
}
