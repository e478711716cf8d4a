// Words for preemption: what victims free, for events, logs and explain. One place, so the Event on
// a victim, the Event on the preemptor, the log line and explain say the same thing.

import { formatBytes, formatMilli } from '../model/quantity.js';
import type { GpuTake, PodRef } from '../model/types.js';
import { applyTake, emptyUsage, type GpuUsage } from '../gpu/usage.js';

export function podName(p: PodRef): string {
  return `${p.namespace}/${p.name}`;
}

/** What one GPU's freed usage amounts to: memory / threads where the GPU counts them, else instances or replicas. */
function amount(u: GpuUsage): string {
  if (u.mig.size > 0) return [...u.mig].map(([profile, n]) => `${n}× ${profile}`).join(' + ');
  const parts: string[] = [];
  if (u.memoryBytes > 0) parts.push(formatBytes(u.memoryBytes));
  if (u.threadMilli > 0) parts.push(formatMilli(u.threadMilli));
  if (parts.length === 0) parts.push(`${u.replicas} replica${u.replicas === 1 ? '' : 's'}`);
  return `${u.exclusive > 0 ? 'exclusive use, ' : ''}${parts.join(' / ')}`;
}

/** "64Gi / 50% on spark-9533 GPU 0" (per GPU, comma-separated): what these pods hold on the node. */
export function freesText(node: string, pods: readonly { takes: readonly GpuTake[] }[]): string {
  const byGpu = new Map<number, GpuUsage>();
  for (const p of pods) {
    for (const t of p.takes) {
      let u = byGpu.get(t.gpu);
      if (!u) byGpu.set(t.gpu, (u = emptyUsage()));
      applyTake(u, t, +1);
    }
  }
  if (byGpu.size === 0) return `no GPU share on ${node}`;
  return [...byGpu]
    .sort(([a], [b]) => a - b)
    .map(([gpu, u]) => `${amount(u)} on ${node} GPU ${gpu}`)
    .join(', ');
}

/** "ns/a, ns/b" (at most `max` names, then "and N more"). */
export function podList(pods: readonly PodRef[], max = 10): string {
  const names = pods.slice(0, max).map(podName);
  return pods.length > max ? `${names.join(', ')} and ${pods.length - max} more` : names.join(', ');
}
