// Free capacity of each GPU of a node, before or after a hypothetical placement, in the units the
// scorers compare: free memory (bytes), free threads (milli), free replicas, free fraction.

import type { GpuTake } from '../model/types.js';
import type { NodeLedger } from '../state/ledger.js';

export interface GpuFree {
  memoryBytes: number;
  threadMilli: number;
  replicas: number;
  clients: number;
  /** Tightest dimension, 0..1 (1 = idle GPU). */
  fraction: number;
  /** No pod at all on this GPU. */
  idle: boolean;
  /** Held by an exclusive pod, or MIG: nothing shareable. */
  blocked: boolean;
}

/** Free capacity per GPU, optionally after adding `takes`. Allocates one small array. */
export function gpuFree(node: NodeLedger, takes: readonly GpuTake[] | null = null): GpuFree[] {
  const inv = node.inventory;
  const out: GpuFree[] = new Array(inv.gpus.length);
  for (let i = 0; i < inv.gpus.length; i++) {
    const g = inv.gpus[i];
    const u = node.gpus[i];
    let replicas = u.replicas;
    let mem = u.memoryBytes;
    let thr = u.threadMilli;
    let clients = u.clients;
    let pods = u.pods;
    let exclusive = u.exclusive;
    let migUsed = 0;
    if (takes) {
      for (const t of takes) {
        if (t.gpu !== i) continue;
        replicas += t.replicas;
        mem += t.memoryBytes;
        thr += t.threadMilli;
        clients += t.clients;
        pods += 1;
        if (t.exclusive) exclusive += 1;
        if (t.mig) for (const n of t.mig.values()) migUsed += n;
      }
    }
    const memCap = g.memoryBytes - inv.reservedMemoryBytes;
    const thrCap = 1000 * inv.computeOvercommit;
    let usedFrac = g.replicas > 0 ? replicas / g.replicas : 1;
    if (inv.mode === 'mps' || inv.mode === 'time-slicing') {
      if (memCap > 0) usedFrac = Math.max(usedFrac, mem / memCap);
      if (inv.mode === 'mps') usedFrac = Math.max(usedFrac, thr / thrCap, clients / inv.mpsMaxClients);
    } else if (inv.mode === 'mig') {
      let cap = 0;
      let use = migUsed;
      for (const [p, n] of g.mig) {
        cap += n;
        use += u.mig.get(p) ?? 0;
      }
      usedFrac = cap > 0 ? use / cap : 1;
    }
    if (exclusive > 0) usedFrac = 1;
    out[i] = {
      memoryBytes: memCap > 0 ? Math.max(0, memCap - mem) : 0,
      threadMilli: Math.max(0, thrCap - thr),
      replicas: Math.max(0, g.replicas - replicas),
      clients: Math.max(0, inv.mpsMaxClients - clients),
      fraction: Math.min(1, Math.max(0, 1 - usedFrac)),
      idle: pods === 0,
      blocked: exclusive > 0 || inv.mode === 'mig',
    };
  }
  return out;
}
