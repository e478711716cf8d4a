// Pod → GPU demand. Total: any input yields a PodDemand; problems become DemandErrors whose
// message names the container, the variable and the value, so kube-scheduler can show them.
// Effective requests follow Kubernetes (app + sidecars vs init peaks); each container that uses
// the GPU is its own MPS client. Every number is bounded (see limits.ts): beyond a bound the pod
// is invalid, and the value it carries is clamped so that accounting a running pod stays bounded.

import { PREFIX, type DemandError, type GpuClient, type Isolation, type PodDemand, type Tier } from './types.js';
import { parseCount, parseCpuMilli, parseMemoryQuantity, parseMpsSize } from './quantity.js';
import {
  MAX_CONTAINERS,
  MAX_ENV_PER_CONTAINER,
  MAX_ENV_VALUE,
  MAX_GPU_MEMORY_BYTES,
  MAX_GPU_RESOURCE_NAMES,
  MAX_GPUS_PER_NODE,
  MAX_LABEL_VALUE,
  MAX_NAME,
  MAX_REQUEST_PER_RESOURCE,
} from './limits.js';

const MEM_LIMIT = 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT';
const THREADS = 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE';
const PER_GPU_RE = /^nvidia\.com\/gpu(\d{1,9})$/;
const MIG_RE = /^nvidia\.com\/mig-(.{1,63})$/;
const UUID_RE = /^(GPU|MIG)-[0-9A-Za-z-/]{1,80}$/;
const MAX_VALUE = 100;
/** A pod with more problems than this is reported with the first ones. */
const MAX_ERRORS = 16;

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

class Errors {
  readonly list: DemandError[] = [];
  /** A GPU resource was named with an unusable value: the pod is still gpu-ledger's to judge. */
  gpuResource = false;
  push(e: DemandError): void {
    if (this.list.length < MAX_ERRORS) this.list.push(e);
  }
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

function readResources(c: Rec, path: string, cname: string, errors: Errors): Map<string, number> {
  const out = new Map<string, number>();
  const res = rec(c.resources);
  if (!res) return out;
  const limits = rec(res.limits) ?? {};
  const requests = rec(res.requests) ?? {};
  const names = new Set<string>();
  for (const k of Object.keys(limits)) if (isGpuResourceName(k)) names.add(k);
  for (const k of Object.keys(requests)) if (isGpuResourceName(k)) names.add(k);
  for (const name of names) {
    const perGpu = PER_GPU_RE.exec(name);
    if (perGpu && Number(perGpu[1]) >= MAX_GPUS_PER_NODE) {
      errors.push({ field: `${path}.resources.limits.${name}`, value: name, message: `container "${cname}": ${name} names GPU ${perGpu[1]}; nodes have at most ${MAX_GPUS_PER_NODE} GPUs` });
      errors.gpuResource = true;
      continue;
    }
    const parse = (raw: unknown, which: string): number | null => {
      if (raw === undefined) return null;
      const r = parseCount(raw, MAX_REQUEST_PER_RESOURCE);
      if (r.ok) return r.value;
      errors.gpuResource = true;
      errors.push({
        field: `${path}.resources.${which}.${name}`,
        value: short(raw),
        message: `container "${cname}": ${name} ${which} "${short(raw)}" ${r.why === 'is not a quantity' ? 'is not a quantity' : r.why} (extended resources are whole numbers)`,
      });
      // Clamped so that a running pod with an absurd request is accounted at most at the bound.
      return r.why.startsWith('exceeds') ? MAX_REQUEST_PER_RESOURCE : 0;
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
    const n = lim ?? req ?? 0;
    if (n > 0) out.set(name, n);
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

function readEnv(c: Rec, path: string, cname: string, errors: Errors): Map<string, { value: string | null; from: boolean }> {
  const env = new Map<string, { value: string | null; from: boolean }>();
  if (!Array.isArray(c.env)) return env;
  if (c.env.length > MAX_ENV_PER_CONTAINER) {
    errors.push({ field: `${path}.env`, value: String(c.env.length), message: `container "${cname}" has ${c.env.length} env entries; gpu-ledger reads at most ${MAX_ENV_PER_CONTAINER}` });
  }
  const n = Math.min(c.env.length, MAX_ENV_PER_CONTAINER);
  for (let i = 0; i < n; i++) {
    const r = rec(c.env[i]);
    if (!r || typeof r.name !== 'string') continue;
    if (r.name !== MEM_LIMIT && r.name !== THREADS) continue;
    // Kubernetes: the last definition of a variable wins.
    if (r.valueFrom !== undefined && r.valueFrom !== null) env.set(r.name, { value: null, from: true });
    else env.set(r.name, { value: typeof r.value === 'string' ? r.value : r.value === undefined ? '' : short(r.value), from: false });
  }
  return env;
}

function containers(spec: Rec, errors: Errors): ContainerView[] {
  const out: ContainerView[] = [];
  const add = (list: unknown, field: string, init: boolean) => {
    if (!Array.isArray(list)) return;
    if (list.length + out.length > MAX_CONTAINERS) {
      errors.push({ field: `spec.${field}`, value: String(list.length), message: `pod has more than ${MAX_CONTAINERS} containers; gpu-ledger reads at most ${MAX_CONTAINERS}` });
    }
    const n = Math.min(list.length, MAX_CONTAINERS - out.length);
    for (let i = 0; i < n; i++) {
      const c = rec(list[i]);
      if (!c) continue;
      const name = typeof c.name === 'string' && c.name ? short(c.name) : `#${i}`;
      const path = `spec.${field}[${name}]`;
      const kind = !init ? 'app' : c.restartPolicy === 'Always' ? 'sidecar' : 'init';
      out.push({ name, kind, gpu: readResources(c, path, name, errors), cpu: readCpu(c), env: readEnv(c, path, name, errors), path });
    }
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

/** The effective request per NVIDIA resource the containers name (0 for a named but unusable one). */
function effectiveRequests(views: ContainerView[]): Map<string, number> {
  const names = new Set<string>();
  for (const v of views) for (const k of v.gpu.keys()) names.add(k);
  const out = new Map<string, number>();
  for (const name of names) {
    const n = Math.min(MAX_REQUEST_PER_RESOURCE, effective(views, (v) => v.gpu.get(name) ?? 0));
    if (n > 0) out.set(name, n);
  }
  return out;
}

/** The effective CPU request, plus the pod overhead (RuntimeClass). */
function effectiveCpu(views: ContainerView[], overhead: unknown): number {
  return effective(views, (v) => v.cpu) + parseCpuMilli(rec(overhead)?.cpu);
}

/** Devices the container will see: one per shared replica at most, one per named GPU, one per MIG instance. */
function visibleDevices(v: ContainerView): number {
  let n = 0;
  for (const [name, k] of v.gpu) n += PER_GPU_RE.test(name) ? (k > 0 ? 1 : 0) : k;
  return n;
}

function parseMemLimit(v: ContainerView, raw: string, errors: Errors): { byOrdinal: Map<number, number>; byUuid: Map<string, number> } {
  const byOrdinal = new Map<number, number>();
  const byUuid = new Map<string, number>();
  const field = `${v.path}.env.${MEM_LIMIT}`;
  const fail = (why: string) =>
    errors.push({ field, value: short(raw), message: `container "${v.name}": ${MEM_LIMIT} "${short(raw)}": ${why} (use e.g. 0=16G or 0=1G,1=512M)` });
  if (raw.trim() === '') {
    fail('is empty');
    return { byOrdinal, byUuid };
  }
  if (raw.length > MAX_ENV_VALUE) {
    fail(`is longer than ${MAX_ENV_VALUE} characters`);
    return { byOrdinal, byUuid };
  }
  const devices = visibleDevices(v);
  const entries = raw.split(',');
  if (entries.length > MAX_GPUS_PER_NODE) {
    fail(`has ${entries.length} entries; a container sees at most ${MAX_GPUS_PER_NODE} GPUs`);
    return { byOrdinal, byUuid };
  }
  for (const entry of entries) {
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
    const bytes = size === '' ? ({ ok: false, why: 'is not a size' } as const) : parseMpsSize(size, MAX_GPU_MEMORY_BYTES);
    if (!bytes.ok) {
      fail(`"${short(size)}" ${bytes.why === 'is not a size' ? 'is not a size' : bytes.why}`);
      continue;
    }
    if (/^\d{1,9}$/.test(device)) {
      const ord = Number(device);
      if (byOrdinal.has(ord)) fail(`device ${ord} is listed twice`);
      else if (ord >= devices) {
        fail(devices === 0 ? `names device ${ord}, but the container requests no GPU` : `names device ${ord}, but the container gets at most ${devices} GPU device(s) (ordinals 0..${devices - 1})`);
      } else byOrdinal.set(ord, bytes.value);
    } else if (UUID_RE.test(device)) {
      if (byUuid.has(device)) fail(`device ${device} is listed twice`);
      else byUuid.set(device, bytes.value);
    } else {
      fail(`"${short(device)}" is neither a device ordinal nor a GPU UUID`);
    }
  }
  return { byOrdinal, byUuid };
}

function parseThreads(v: ContainerView, raw: string, errors: Errors): number | null {
  const t = raw.trim();
  const m = /^(\d{1,3})(?:\.(\d{1,6}))?$/.exec(t);
  // Thread % in milli-GPU, rounded up to the next tenth of a percent.
  const milli = m ? Number(m[1]) * 10 + Math.ceil(Number(`0.${m[2] ?? '0'}`) * 10) : NaN;
  if (!Number.isFinite(milli) || milli < 10 || milli > 1000) {
    errors.push({
      field: `${v.path}.env.${THREADS}`,
      value: short(raw),
      message: `container "${v.name}": ${THREADS} "${short(raw)}" must be a percentage from 1 to 100`,
    });
    return null;
  }
  return milli;
}

function clientOf(v: ContainerView, errors: Errors): GpuClient {
  let replicas = 0;
  const gpuTokens = new Map<number, number>();
  const mig = new Map<string, number>();
  for (const [name, n] of v.gpu) {
    if (n <= 0) continue;
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

function strings(v: unknown, field: string, max: number, errors: Errors): Record<string, string> {
  const r = rec(v);
  if (!r) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(r)) {
    if (typeof val !== 'string') continue;
    if (k.length > MAX_NAME + 1 + MAX_LABEL_VALUE || val.length > max) {
      errors.push({ field: `${field}.${short(k)}`, value: short(val), message: `${field} "${short(k)}" is longer than Kubernetes allows` });
      continue;
    }
    out[k] = val;
  }
  return out;
}

/** Parses a pod's GPU demand. Never throws. */
export function parsePodDemand(pod: unknown, tiers: readonly Tier[]): PodDemand {
  const errors = new Errors();
  const p = rec(pod) ?? {};
  const md = rec(p.metadata) ?? {};
  const spec = rec(p.spec) ?? {};
  const status = rec(p.status) ?? {};
  const ann = rec(md.annotations) ?? {};
  const views = containers(spec, errors);
  const requests = effectiveRequests(views);
  if (requests.size > MAX_GPU_RESOURCE_NAMES) {
    errors.push({ field: 'spec.containers[*].resources', value: String(requests.size), message: `pod names ${requests.size} distinct NVIDIA resources; at most ${MAX_GPU_RESOURCE_NAMES} are accepted` });
  }
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
    const b = parseMemoryQuantity(memText.trim(), MAX_GPU_MEMORY_BYTES);
    if (!b.ok || b.value <= 0) {
      const why = !b.ok && b.why.startsWith('exceeds') ? `exceeds the largest GPU gpu-ledger accepts (4Ti)` : 'is not a positive memory quantity (e.g. 20Gi)';
      errors.push({ field: `metadata.annotations.${PREFIX}gpu-memory`, value: short(memText), message: `annotation ${PREFIX}gpu-memory "${short(memText)}" ${why}` });
    } else declaredMemoryBytes = b.value;
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
    const parts = gpusText.length <= 8 * MAX_REQUEST_PER_RESOURCE ? gpusText.split(',').map((s) => s.trim()) : [];
    if (parts.length > 0 && parts.length <= MAX_REQUEST_PER_RESOURCE && parts.every((s) => /^\d{1,3}$/.test(s) && Number(s) < MAX_GPUS_PER_NODE)) assignedGpus = parts.map(Number);
    else errors.push({ field: `metadata.annotations.${PREFIX}gpus`, value: short(gpusText), message: `annotation ${PREFIX}gpus "${short(gpusText)}" must be comma-separated GPU indexes (written by gpu-ledger's bind)` });
  }

  const priority = typeof spec.priority === 'number' && Number.isInteger(spec.priority) && Math.abs(spec.priority) <= 2 ** 31 ? spec.priority : 0;
  const start = typeof status.startTime === 'string' ? Date.parse(status.startTime) : NaN;
  const str = (v: unknown, dflt: string) => (typeof v === 'string' && v !== '' ? v : dflt);
  return {
    uid: str(md.uid, ''),
    namespace: str(md.namespace, 'default'),
    name: str(md.name, ''),
    resourceVersion: str(md.resourceVersion, ''),
    managed: requests.size > 0 || errors.gpuResource,
    requests,
    clients,
    declaredMemoryBytes,
    declaredThreadMilli,
    isolation,
    tier,
    cpuMilli: effectiveCpu(views, spec.overhead),
    nodeName: typeof spec.nodeName === 'string' && spec.nodeName !== '' ? spec.nodeName : null,
    assignedGpus,
    priority,
    preemptionPolicy: spec.preemptionPolicy === 'Never' ? 'Never' : 'PreemptLowerPriority',
    startTime: Number.isFinite(start) ? start : null,
    labels: strings(md.labels, 'metadata.labels', MAX_LABEL_VALUE, errors),
    errors: errors.list,
  };
}
