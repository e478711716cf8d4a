// "What would fit": per node, the largest pod that fits right now, and for a refused pod the
// smallest change that would make it fit there. Built from the same capacities and free amounts
// the rules decide with, rendered as data plus one line of text for explain.

import { formatBytes, formatMilli } from '../model/quantity.js';
import type { Reason } from '../model/types.js';
import type { GpuFree } from './mode.js';
import { memoryPerReplica, usableMemory } from './mode.js';
import { rulesFor } from './modes.js';
import { gpuFree } from './free.js';
import { offersResource } from './resources.js';
import type { GpuNode } from './usage.js';

export interface GpuRoom {
  gpu: number;
  /** Free amounts in the dimensions this node limits (null where it does not). */
  memoryBytes: number | null;
  threadMilli: number | null;
  replicas: number | null;
  clients: number | null;
  /** Free instances per MIG profile (MIG nodes). */
  mig: Record<string, number>;
  idle: boolean;
  exclusive: boolean;
}

export interface NodeRoom {
  gpus: GpuRoom[];
  /** The largest single pod that fits now, in words. */
  largest: string;
}

/** Free room per GPU and the largest pod that fits now. */
export function nodeRoom(node: GpuNode): NodeRoom {
  const inv = node.inventory;
  const rules = rulesFor(inv);
  const free = gpuFree(node);
  const gpus: GpuRoom[] = free.map((f, i) => ({
    gpu: i,
    memoryBytes: rules.limits.memory && usableMemory(inv, i) > 0 ? f.memoryBytes : null,
    threadMilli: rules.limits.threads ? f.threadMilli : null,
    replicas: rules.shareable ? f.replicas : null,
    clients: rules.limits.clients ? f.clients : null,
    mig: Object.fromEntries(f.mig),
    idle: f.idle,
    exclusive: node.gpus[i]?.exclusive > 0,
  }));
  return { gpus, largest: largest(node, free) };
}

function largest(node: GpuNode, free: readonly GpuFree[]): string {
  const inv = node.inventory;
  const rules = rulesFor(inv);
  if (inv.gpus.length === 0) return 'nothing: no GPU';
  if (!rules.shareable) {
    const total = new Map<string, number>();
    for (const f of free) for (const [p, n] of f.mig) total.set(p, (total.get(p) ?? 0) + n);
    const parts = [...total].filter(([, n]) => n > 0).map(([p, n]) => `${n}× ${inv.migProfiles.get(p)?.resource ?? p}`);
    return parts.length ? `one instance of: ${parts.join(', ')}` : 'nothing: every MIG instance is in use';
  }
  // The GPU with the most room in its tightest dimension.
  let best = -1;
  for (let i = 0; i < free.length; i++) if (!free[i].blocked && free[i].replicas > 0 && (best < 0 || free[i].fraction > free[best].fraction)) best = i;
  if (best < 0) return 'nothing: no GPU has a free replica (or every free one is held exclusively)';
  const f = free[best];
  const idle = free.filter((g) => g.idle && !g.blocked).length;
  const parts: string[] = [`${f.replicas} replica(s) of ${inv.perGpuResources ? `nvidia.com/gpu${best}` : inv.resource}`];
  if (rules.limits.memory && usableMemory(inv, best) > 0) {
    if (inv.mpsDaemonLimits && rules.limits.threads) {
      const each = memoryPerReplica(inv, best);
      parts.push(`${formatBytes(Math.min(f.memoryBytes, f.replicas * each))} (${formatBytes(each)} per token)`);
    } else parts.push(formatBytes(f.memoryBytes));
  }
  if (rules.limits.threads) parts.push(`${formatMilli(f.threadMilli)} threads`);
  return `on GPU ${best}: ${parts.join(', ')}${idle > 0 ? `; ${idle} idle GPU(s) for an exclusive pod` : ''}`;
}

/** The smallest change to the pod that would make this reason go away on this node, or null. */
export function suggestion(r: Reason, node: GpuNode): string | null {
  const inv = node.inventory;
  const free = Math.max(0, r.capacity - r.used);
  switch (r.code) {
    case 'mps-memory':
    case 'timeslice-memory':
      return free > 0 ? `fits with at most ${formatBytes(free)} on GPU ${r.gpu}` : `GPU ${r.gpu} has no memory left: only evicting pods there would help`;
    case 'mps-threads':
      return free > 0 ? `fits with at most ${formatMilli(free)} threads on GPU ${r.gpu}` : `GPU ${r.gpu} has no thread share left`;
    case 'mps-clients':
      return `GPU ${r.gpu} has no MPS client slot left: fewer containers using the GPU, or another GPU`;
    case 'replicas':
    case 'gpu-tokens':
    case 'mig-instances':
      return free > 0 ? `fits with at most ${free} of ${r.resource}` : `no ${r.resource} free here`;
    case 'token-memory': {
      const t = r.tokens!;
      const replicas = r.gpu !== null ? (inv.gpus[r.gpu]?.replicas ?? 0) : 0;
      if (t.needed > replicas) return `not on this node: even all ${replicas} replicas of a GPU give ${formatBytes(replicas * t.each)}`;
      return `ask for ${t.needed} of ${t.resource} (${formatBytes(t.each)} each), or declare at most ${formatBytes(r.capacity)}`;
    }
    case 'too-few-gpus':
      return r.resolvable
        ? `needs ${r.requested} GPUs with a free replica each; ${r.capacity} have one now (evicting pods could free more)`
        : `not on this node: it has ${inv.gpus.length} GPU(s); use a node with at least ${r.requested}, or name only devices 0..${Math.max(0, inv.gpus.length - 1)}`;
    case 'gpu-too-small':
      return `declare at most ${formatBytes(r.capacity)} (all of one GPU here), or use a node with larger GPUs`;
    case 'mig-memory': {
      const larger = [...inv.migProfiles.values()].filter((p) => p.memoryBytes >= r.requested).map((p) => p.resource);
      return larger.length ? `request ${larger.join(' or ')} instead` : `declare at most ${formatBytes(r.capacity)}, or use a node with larger MIG profiles`;
    }
    case 'exclusive-busy':
      return `needs an idle GPU${r.pods?.length ? `; in use by ${r.pods.join(', ')}` : ''} (or drop gpu-ledger.io/isolation: exclusive)`;
    case 'held-exclusive':
      return `wait for ${r.pods?.length ? r.pods.join(', ') : 'the exclusive pod'} to finish, or use another node`;
    case 'resource-missing': {
      const names = [inv.resource, 'nvidia.com/gpu', ...inv.gpus.map((_, i) => `nvidia.com/gpu${i}`), ...[...inv.migProfiles.values()].map((p) => p.resource)];
      const offered = [...new Set(names)].filter((n) => offersResource(inv, n));
      return offered.length ? `request what this node offers: ${offered.join(', ')}` : null;
    }
    default:
      return null;
  }
}
