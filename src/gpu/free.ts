// What is free on each GPU of a node — now, or after a hypothetical placement — and which
// dimensions are over capacity (pods that bypassed the scheduler). Scorers, explain, metrics and
// the page read free capacity only through here.

import type { GpuTake } from '../model/types.js';
import type { GpuFree, ModeRules } from './mode.js';
import { rulesFor } from './modes.js';
import { usageAfter, type GpuNode } from './usage.js';

export type { GpuFree } from './mode.js';

/**
 * Free capacity per GPU, optionally after adding `takes`. With `now` (this function's answer for
 * the node as it is), only the GPUs the takes touch are computed anew: the others are `now`'s
 * (the scorers and the chooser ask about one placement after another on the same node).
 */
export function gpuFree(node: GpuNode, takes: readonly GpuTake[] | null = null, now: readonly GpuFree[] | null = null): GpuFree[] {
  const rules = rulesFor(node.inventory);
  const usage = takes && takes.length > 0 ? usageAfter(node, takes) : node.gpus;
  const out: GpuFree[] = new Array(node.inventory.gpus.length);
  const reuse = now !== null && now.length === out.length;
  // usageAfter copies only the GPUs the takes change: the same object means the same usage.
  for (let i = 0; i < out.length; i++) out[i] = reuse && usage[i] === node.gpus[i] ? now[i] : rules.free(node.inventory, i, usage[i]);
  return out;
}

/** Free fraction of GPU i in its tightest dimension (0 = full, 1 = idle). */
export function gpuFreeFraction(node: GpuNode, i: number): number {
  return rulesFor(node.inventory).free(node.inventory, i, node.gpus[i]).fraction;
}

/** Whether free capacity on this node can be split among other pod shapes (fragmentation applies). */
export function shareable(node: GpuNode): boolean {
  return rulesFor(node.inventory).shareable;
}

/** Capacity of GPU i per dimension, and which dimensions are limits there (metrics, the page). */
export function gpuCapacity(node: GpuNode, i: number): { capacity: ReturnType<ModeRules['capacity']>; limits: ModeRules['limits'] } {
  const rules = rulesFor(node.inventory);
  return { capacity: rules.capacity(node.inventory, i), limits: rules.limits };
}

export interface Overcommit {
  gpu: number;
  dimension: 'replicas' | 'memory' | 'threads' | 'clients' | 'mig';
  used: number;
  capacity: number;
}

/** Dimensions in use beyond capacity (only pods that bypassed the scheduler can cause this). */
export function overcommits(node: GpuNode): Overcommit[] {
  const inv = node.inventory;
  const rules = rulesFor(inv);
  const out: Overcommit[] = [];
  for (let i = 0; i < inv.gpus.length; i++) {
    const cap = rules.capacity(inv, i);
    const u = node.gpus[i];
    if (!u) continue;
    if (cap.replicas > 0 && u.replicas > cap.replicas) out.push({ gpu: i, dimension: 'replicas', used: u.replicas, capacity: cap.replicas });
    if (rules.limits.memory && cap.memoryBytes > 0 && u.memoryBytes > cap.memoryBytes) out.push({ gpu: i, dimension: 'memory', used: u.memoryBytes, capacity: cap.memoryBytes });
    if (rules.limits.threads && u.threadMilli > cap.threadMilli) out.push({ gpu: i, dimension: 'threads', used: u.threadMilli, capacity: cap.threadMilli });
    if (rules.limits.clients && u.clients > cap.clients) out.push({ gpu: i, dimension: 'clients', used: u.clients, capacity: cap.clients });
    for (const [p, n] of u.mig) if (n > (cap.mig.get(p) ?? 0)) out.push({ gpu: i, dimension: 'mig', used: n, capacity: cap.mig.get(p) ?? 0 });
  }
  return out;
}
