// A strict checker for component-config files, modelled on kube-scheduler's decoder
// (sigs.k8s.io/yaml → JSON → strict, case-sensitive unmarshalling into the v1 Go types):
// unknown keys are errors (including keys that differ only in case), values must have the
// field's type, durations are Go duration strings. Returns every problem, as "path: message".

import { KUBE_SCHEDULER_API_VERSION, KUBE_SCHEDULER_CONFIGURATION_V1, KUBE_SCHEDULER_KIND, type FieldSpec } from './kubescheduler-schema.js';
import { isRec } from './files.js';

/** Go's time.ParseDuration grammar: "0", or one or more <number><unit>, optionally signed. */
const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v));
}

export function checkStrict(value: unknown, spec: FieldSpec, path = ''): string[] {
  const at = path === '' ? '(top level)' : path;
  // JSON null decodes to the zero value / nil pointer for every field type.
  if (value === null) return [];
  switch (spec.type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${at}: expected string, got ${show(value)}`];
    case 'bool':
      return typeof value === 'boolean' ? [] : [`${at}: expected bool, got ${show(value)}`];
    case 'int32':
    case 'int64': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return [`${at}: expected ${spec.type}, got ${show(value)}`];
      if (spec.type === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31)) return [`${at}: ${value} overflows int32`];
      return [];
    }
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? [] : [`${at}: expected number, got ${show(value)}`];
    case 'duration':
      return typeof value === 'string' && GO_DURATION.test(value) ? [] : [`${at}: expected duration, got ${show(value)}`];
    case 'bytes':
      return typeof value === 'string' && BASE64.test(value) ? [] : [`${at}: expected base64 bytes, got ${show(value)}`];
    case 'map':
      return isRec(value) ? [] : [`${at}: expected map, got ${show(value)}`];
    case 'list':
      if (!Array.isArray(value)) return [`${at}: expected list, got ${show(value)}`];
      return value.flatMap((item, i) => checkStrict(item, spec.items, `${path}[${i}]`));
    case 'object': {
      if (!isRec(value)) return [`${at}: expected object, got ${show(value)}`];
      const errors: string[] = [];
      for (const [key, v] of Object.entries(value)) {
        const child = path === '' ? key : `${path}.${key}`;
        const field = spec.fields[key];
        if (field === undefined) {
          const near = Object.keys(spec.fields).find((k) => k.toLowerCase() === key.toLowerCase()) ?? Object.keys(spec.fields).find((k) => editDistance(k, key) <= 2);
          errors.push(`${child}: unknown field${near ? ` (did you mean "${near}"?)` : ''}`);
          continue;
        }
        errors.push(...checkStrict(v, field, child));
      }
      return errors;
    }
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Strict decoding of a whole KubeSchedulerConfiguration document, TypeMeta included. */
export function checkKubeSchedulerConfiguration(doc: unknown): string[] {
  const errors = checkStrict(doc, KUBE_SCHEDULER_CONFIGURATION_V1);
  if (isRec(doc)) {
    if (doc.apiVersion !== KUBE_SCHEDULER_API_VERSION) errors.push(`apiVersion: expected ${KUBE_SCHEDULER_API_VERSION}, got ${show(doc.apiVersion)}`);
    if (doc.kind !== KUBE_SCHEDULER_KIND) errors.push(`kind: expected ${KUBE_SCHEDULER_KIND}, got ${show(doc.kind)}`);
  }
  return errors.sort();
}

/** Go duration string → milliseconds (for the semantic checks). */
export function goDurationMs(text: string): number {
  if (!GO_DURATION.test(text)) throw new Error(`not a Go duration: ${text}`);
  if (/^[-+]?0$/.test(text)) return 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of text.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]];
  return sign * total;
}

/**
 * k8s.io/kubernetes pkg/apis/core/v1/helper IsExtendedResourceName: fully qualified, not in the
 * kubernetes.io namespace, not prefixed "requests.", and "requests.<name>" a qualified name.
 * kube-scheduler's validation rejects managedResources names that fail it.
 */
export function isExtendedResourceName(name: string): boolean {
  if (!name.includes('/') || name.includes('kubernetes.io/')) return false;
  if (name.startsWith('requests.')) return false;
  const [prefix, local, ...rest] = `requests.${name}`.split('/');
  if (rest.length > 0) return false;
  const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  const qualifiedLocal = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
  return prefix.length <= 253 && dnsSubdomain.test(prefix) && local.length <= 63 && qualifiedLocal.test(local);
}

/**
 * The parts of kube-scheduler's ValidateKubeSchedulerConfiguration (pkg/scheduler/apis/config/
 * validation) that apply to the fields these files use. Assumes checkKubeSchedulerConfiguration
 * passed.
 */
export function validateKubeSchedulerConfiguration(doc: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const pct = (v: unknown, path: string) => {
    const n = num(v);
    if (n !== undefined && (n < 0 || n > 100)) errors.push(`${path}: ${n} not in 0..100`);
  };
  if (num(doc.parallelism) !== undefined && num(doc.parallelism)! <= 0) errors.push('parallelism: must be > 0');
  pct(doc.percentageOfNodesToScore, 'percentageOfNodesToScore');
  const initial = num(doc.podInitialBackoffSeconds) ?? 1;
  const max = num(doc.podMaxBackoffSeconds) ?? 10;
  if (initial <= 0) errors.push('podInitialBackoffSeconds: must be > 0');
  if (max < initial) errors.push('podMaxBackoffSeconds: must be >= podInitialBackoffSeconds');

  const le = isRec(doc.leaderElection) ? doc.leaderElection : {};
  if (le.leaderElect !== false) {
    const lease = goDurationMs(typeof le.leaseDuration === 'string' ? le.leaseDuration : '15s');
    const renew = goDurationMs(typeof le.renewDeadline === 'string' ? le.renewDeadline : '10s');
    const retry = goDurationMs(typeof le.retryPeriod === 'string' ? le.retryPeriod : '2s');
    if (lease <= 0 || renew <= 0 || retry <= 0) errors.push('leaderElection: durations must be > 0');
    if (lease <= renew) errors.push('leaderElection.leaseDuration: must be greater than renewDeadline');
    if (le.resourceLock !== undefined && le.resourceLock !== 'leases') errors.push(`leaderElection.resourceLock: ${String(le.resourceLock)} (only "leases" is supported)`);
  }

  const profiles = Array.isArray(doc.profiles) ? doc.profiles : [];
  const names = new Set<string>();
  profiles.forEach((p, i) => {
    const prof = isRec(p) ? p : {};
    const name = typeof prof.schedulerName === 'string' ? prof.schedulerName : 'default-scheduler';
    if (name === '') errors.push(`profiles[${i}].schedulerName: must not be empty`);
    if (names.has(name)) errors.push(`profiles[${i}].schedulerName: duplicate ${name}`);
    names.add(name);
    pct(prof.percentageOfNodesToScore, `profiles[${i}].percentageOfNodesToScore`);
  });

  const extenders = Array.isArray(doc.extenders) ? doc.extenders : [];
  let binders = 0;
  extenders.forEach((e, i) => {
    const ext = isRec(e) ? e : {};
    const at = `extenders[${i}]`;
    if (typeof ext.prioritizeVerb === 'string' && ext.prioritizeVerb !== '' && !((num(ext.weight) ?? 0) > 0)) errors.push(`${at}.weight: must be positive when prioritizeVerb is set`);
    if (typeof ext.bindVerb === 'string' && ext.bindVerb !== '') binders++;
    const managed = Array.isArray(ext.managedResources) ? ext.managedResources : [];
    managed.forEach((m, j) => {
      const name = isRec(m) && typeof m.name === 'string' ? m.name : '';
      if (!isExtendedResourceName(name)) errors.push(`${at}.managedResources[${j}].name: ${JSON.stringify(name)} is not a valid extended resource name`);
    });
  });
  if (binders > 1) errors.push(`extenders: found ${binders} extenders implementing bind (at most one)`);
  return errors;
}
