// The config file (`--config`): node pools by label selector, tiers, scoring weights, server
// settings. Strict: unknown keys and bad values are errors naming the file, the field and the value.
//
// ```yaml
// tiers:                      # replaces the defaults when given
//   - {name: small,  memory: 8Gi,  threads: 10}   # threads = CUDA_MPS_ACTIVE_THREAD_PERCENTAGE
//   - {name: medium, memory: 32Gi, threads: 25}
//   - {name: large,  memory: 64Gi, threads: 50}
// defaults: {reservedMemory: 0, computeOvercommit: 1, mpsMaxClients: 48, placement: distributed}
// pools:                      # in order; for each setting the first matching pool that sets it wins
//   - name: dgx-spark
//     selector: {matchLabels: {nvidia.com/gpu.product: NVIDIA-GB10}}
//     gpuMemory: 128Gi
//     reservedMemory: 2Gi
//     computeOvercommit: 1
//     mpsMaxClients: 48
//     tier: large
//     placement: distributed   # distributed | packed | extender
//     sharing: mps             # only when labels do not say
//     replicas: 10             # only when labels/capacity do not say
//     mpsDaemonLimits: false
// scoring: {weights: {tierFit: 1, fragmentation: 2, binpack: 0}}
// preemption: false
// server: {host: 127.0.0.1, port: 8888, statusHost: 127.0.0.1, statusPort: 8889, maxBody: 64mb, reservationTtl: 120s, logLevel: info}
// ```

import { readFileSync } from 'node:fs';
import { defaultConfig, type LabelSelector, type LedgerConfig, type PoolConfig } from './config-types.js';
import { MAX_COMPUTE_OVERCOMMIT, MAX_GPU_MEMORY_BYTES, MAX_MPS_CLIENTS, MAX_REPLICAS_PER_GPU } from './limits.js';
import { parseMemoryQuantity } from './quantity.js';
import type { ReplicaPlacement, SharingMode, Tier } from './types.js';
import { parseYaml } from './yaml.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Rec = Record<string, unknown>;

function isRec(v: unknown): v is Rec {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
}

const MODES: readonly SharingMode[] = ['mps', 'time-slicing', 'mig', 'none'];
const PLACEMENTS: readonly ReplicaPlacement[] = ['distributed', 'packed', 'extender'];
const POOL_KEYS = ['name', 'selector', 'gpuMemory', 'reservedMemory', 'computeOvercommit', 'mpsMaxClients', 'tier', 'placement', 'sharing', 'replicas', 'mpsDaemonLimits'];
const SERVER_KEYS = ['host', 'port', 'statusHost', 'statusPort', 'maxBody', 'bodyBudget', 'maxConnections', 'apiTimeout', 'bindTimeout', 'reservationTtl', 'resyncPeriod', 'logLevel', 'tlsCert', 'tlsKey', 'clientCa', 'kubeconfig', 'preemption', 'preemptionTtl', 'preemptionMaxEvictions', 'preemptionCooldown', 'logFormat', 'podMetrics'];

export function matchesSelector(labels: Readonly<Record<string, string>>, selector: LabelSelector): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const val = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(val)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(val)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

export function parseConfig(text: string, sourceName: string): LedgerConfig {
  const fail = (field: string, value: unknown, why: string): never => {
    throw new ConfigError(`${sourceName}: ${field}: ${show(value)} ${why}`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${sourceName}: not valid YAML or JSON: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  const cfg = defaultConfig();
  if (doc === null || doc === undefined) return cfg;
  if (!isRec(doc)) return fail('(top level)', doc, 'must be a map');
  const known = ['tiers', 'defaults', 'pools', 'scoring', 'preemption', 'server'];
  for (const k of Object.keys(doc)) if (!known.includes(k)) fail(k, k, `is not a known key (known: ${known.join(', ')})`);

  const memory = (field: string, v: unknown): number => {
    const b = typeof v === 'number' || typeof v === 'string' ? parseMemoryQuantity(typeof v === 'string' ? v.trim() : v, MAX_GPU_MEMORY_BYTES) : null;
    return b === null || !b.ok ? fail(field, v, 'is not a memory quantity up to 4Ti (e.g. 128Gi)') : b.value;
  };
  const posNumber = (field: string, v: unknown, max: number): number =>
    typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= max ? v : fail(field, v, `must be a positive number up to ${max}`);
  const posInt = (field: string, v: unknown, max: number): number =>
    typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= max ? v : fail(field, v, `must be a whole number from 1 to ${max}`);
  const oneOf = <T extends string>(field: string, v: unknown, options: readonly T[]): T =>
    typeof v === 'string' && (options as readonly string[]).includes(v) ? (v as T) : fail(field, v, `must be one of ${options.join(', ')}`);

  if (doc.tiers !== undefined) {
    if (!Array.isArray(doc.tiers) || doc.tiers.length === 0) fail('tiers', doc.tiers, 'must be a non-empty list');
    const tiers: Tier[] = [];
    (doc.tiers as unknown[]).forEach((t, i) => {
      const f = `tiers[${i}]`;
      if (!isRec(t)) return fail(f, t, 'must be a map {name, memory, threads}');
      for (const k of Object.keys(t)) if (!['name', 'memory', 'threads'].includes(k)) fail(`${f}.${k}`, k, 'is not a known key (name, memory, threads)');
      if (typeof t.name !== 'string' || t.name === '') fail(`${f}.name`, t.name, 'must be a non-empty string');
      const threads = t.threads;
      if (typeof threads !== 'number' || threads < 1 || threads > 100) fail(`${f}.threads`, threads, 'must be a percentage from 1 to 100');
      tiers.push({ name: t.name as string, memoryBytes: memory(`${f}.memory`, t.memory), threadMilli: Math.round((threads as number) * 10) });
    });
    const names = new Set(tiers.map((t) => t.name));
    if (names.size !== tiers.length) fail('tiers', tiers.map((t) => t.name), 'has duplicate names');
    cfg.tiers = tiers;
  }

  if (doc.defaults !== undefined) {
    const d = doc.defaults;
    if (!isRec(d)) fail('defaults', d, 'must be a map');
    const r = d as Rec;
    for (const k of Object.keys(r)) if (!['reservedMemory', 'computeOvercommit', 'mpsMaxClients', 'placement'].includes(k)) fail(`defaults.${k}`, k, 'is not a known key');
    if (r.reservedMemory !== undefined) cfg.defaults.reservedMemoryBytes = memory('defaults.reservedMemory', r.reservedMemory);
    if (r.computeOvercommit !== undefined) cfg.defaults.computeOvercommit = posNumber('defaults.computeOvercommit', r.computeOvercommit, MAX_COMPUTE_OVERCOMMIT);
    if (r.mpsMaxClients !== undefined) cfg.defaults.mpsMaxClients = posInt('defaults.mpsMaxClients', r.mpsMaxClients, MAX_MPS_CLIENTS);
    if (r.placement !== undefined) cfg.defaults.placement = oneOf('defaults.placement', r.placement, PLACEMENTS);
  }

  if (doc.pools !== undefined) {
    if (!Array.isArray(doc.pools)) fail('pools', doc.pools, 'must be a list');
    (doc.pools as unknown[]).forEach((p, i) => {
      const f = `pools[${i}]`;
      if (!isRec(p)) return fail(f, p, 'must be a map');
      for (const k of Object.keys(p)) if (!POOL_KEYS.includes(k)) fail(`${f}.${k}`, k, `is not a known key (known: ${POOL_KEYS.join(', ')})`);
      if (typeof p.name !== 'string' || p.name === '') fail(`${f}.name`, p.name, 'must be a non-empty string');
      const pool: PoolConfig = { name: p.name as string, selector: parseSelector(`${f}.selector`, p.selector, fail) };
      if (p.gpuMemory !== undefined) pool.gpuMemoryBytes = memory(`${f}.gpuMemory`, p.gpuMemory);
      if (p.reservedMemory !== undefined) pool.reservedMemoryBytes = memory(`${f}.reservedMemory`, p.reservedMemory);
      if (p.computeOvercommit !== undefined) pool.computeOvercommit = posNumber(`${f}.computeOvercommit`, p.computeOvercommit, MAX_COMPUTE_OVERCOMMIT);
      if (p.mpsMaxClients !== undefined) pool.mpsMaxClients = posInt(`${f}.mpsMaxClients`, p.mpsMaxClients, MAX_MPS_CLIENTS);
      if (p.replicas !== undefined) pool.replicas = posInt(`${f}.replicas`, p.replicas, MAX_REPLICAS_PER_GPU);
      if (p.placement !== undefined) pool.placement = oneOf(`${f}.placement`, p.placement, PLACEMENTS);
      if (p.sharing !== undefined) pool.sharing = oneOf(`${f}.sharing`, p.sharing, MODES);
      if (p.mpsDaemonLimits !== undefined) pool.mpsDaemonLimits = typeof p.mpsDaemonLimits === 'boolean' ? p.mpsDaemonLimits : fail(`${f}.mpsDaemonLimits`, p.mpsDaemonLimits, 'must be true or false');
      if (p.tier !== undefined) pool.tier = typeof p.tier === 'string' ? p.tier : fail(`${f}.tier`, p.tier, 'must be a string');
      cfg.pools.push(pool);
    });
    for (const [i, pool] of cfg.pools.entries()) {
      if (pool.tier !== undefined && !cfg.tiers.some((t) => t.name === pool.tier)) fail(`pools[${i}].tier`, pool.tier, `is not a defined tier (${cfg.tiers.map((t) => t.name).join(', ')})`);
    }
  }

  if (doc.scoring !== undefined) {
    const s = doc.scoring;
    if (!isRec(s)) return fail('scoring', s, 'must be a map');
    for (const k of Object.keys(s)) if (k !== 'weights') fail(`scoring.${k}`, k, 'is not a known key (weights)');
    if (s.weights !== undefined) {
      if (!isRec(s.weights)) return fail('scoring.weights', s.weights, 'must be a map');
      for (const [k, v] of Object.entries(s.weights)) {
        if (!(k in cfg.scoring.weights)) fail(`scoring.weights.${k}`, k, `is not a scorer (${Object.keys(cfg.scoring.weights).join(', ')})`);
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`scoring.weights.${k}`, v, 'must be a number ≥ 0');
        cfg.scoring.weights[k as keyof typeof cfg.scoring.weights] = v as number;
      }
    }
  }

  if (doc.preemption !== undefined) cfg.preemption = typeof doc.preemption === 'boolean' ? doc.preemption : fail('preemption', doc.preemption, 'must be true or false');

  if (doc.server !== undefined) {
    const s = doc.server;
    if (!isRec(s)) return fail('server', s, 'must be a map');
    const server: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(s)) {
      if (!SERVER_KEYS.includes(k)) fail(`server.${k}`, k, `is not a known key (known: ${SERVER_KEYS.join(', ')})`);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`server.${k}`, v, 'must be a string, number or boolean');
      server[k] = v as string | number | boolean;
    }
    cfg.server = server;
  }
  return cfg;
}

function parseSelector(field: string, v: unknown, fail: (f: string, v: unknown, why: string) => never): LabelSelector {
  if (v === undefined) return {};
  if (!isRec(v)) return fail(field, v, 'must be a label selector {matchLabels, matchExpressions}');
  for (const k of Object.keys(v)) if (k !== 'matchLabels' && k !== 'matchExpressions') fail(`${field}.${k}`, k, 'is not a known key (matchLabels, matchExpressions)');
  const sel: LabelSelector = {};
  if (v.matchLabels !== undefined) {
    if (!isRec(v.matchLabels)) fail(`${field}.matchLabels`, v.matchLabels, 'must be a map of strings');
    sel.matchLabels = {};
    for (const [k, val] of Object.entries(v.matchLabels as Rec)) {
      if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') fail(`${field}.matchLabels.${k}`, val, 'must be a string');
      sel.matchLabels[k] = String(val);
    }
  }
  if (v.matchExpressions !== undefined) {
    if (!Array.isArray(v.matchExpressions)) fail(`${field}.matchExpressions`, v.matchExpressions, 'must be a list');
    sel.matchExpressions = (v.matchExpressions as unknown[]).map((e, i) => {
      const f = `${field}.matchExpressions[${i}]`;
      if (!isRec(e) || typeof e.key !== 'string') return fail(f, e, 'must be {key, operator, values}');
      const op = e.operator;
      if (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist') return fail(`${f}.operator`, op, 'must be In, NotIn, Exists or DoesNotExist');
      const values = e.values === undefined ? undefined : Array.isArray(e.values) ? e.values.map(String) : fail(`${f}.values`, e.values, 'must be a list');
      if ((op === 'In' || op === 'NotIn') && (!values || values.length === 0)) fail(`${f}.values`, e.values, `must be non-empty for ${op}`);
      return { key: e.key, operator: op, values };
    });
  }
  return sel;
}

export function loadConfigFile(path: string): LedgerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseConfig(text, path);
}
