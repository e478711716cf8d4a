// What the ledger holds, as the tests observe it: the per-GPU gauges of gpu-ledger's own /metrics
// (the documented view of the ledger) and the pods it accounts, by UID, with their state and GPUs.
// Reading the pods is the one place the tests look inside the server; keep it here.

import type { Ledger } from './gpu-ledger.js';

/** `gpu_ledger_*` gauges of one family group, as "name{labels} value" lines, sorted. */
export async function gauges(ledger: Ledger, prefix = 'gpu_ledger_gpu_|gpu_ledger_mig_'): Promise<string[]> {
  const text = await (await fetch(`${ledger.statusUrl}/metrics`)).text();
  const re = new RegExp(`^(?:${prefix})`);
  return text
    .split('\n')
    .filter((l) => re.test(l))
    .sort();
}

/** One GPU gauge's value, e.g. gauge(l, 'gpu_memory_allocated_bytes', {node: 'spark-01', gpu: '0'}). */
export async function gauge(ledger: Ledger, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of await gauges(ledger, `gpu_ledger_${name}`)) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== `gpu_ledger_${name}`) continue;
    const have = m[2].split(',');
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return undefined;
}

export interface PodView {
  uid: string;
  pod: string;
  node: string;
  state: string;
  gpus: number[];
}

/** The GPU pods the ledger accounts (not the CPU-only ones), sorted by namespace/name. */
export function pods(ledger: Ledger): PodView[] {
  return [...ledger.running.state.ledger.pods.values()]
    .filter((a) => !a.cpuOnly)
    .map((a) => ({ uid: a.uid, pod: `${a.namespace}/${a.name}`, node: a.node, state: a.state, gpus: a.takes.map((t) => t.gpu) }))
    .sort((a, b) => a.pod.localeCompare(b.pod));
}

/** A canonical dump: equal dumps mean equal ledgers (per node and GPU counters, pods and states). */
export async function dump(ledger: Ledger): Promise<{ gauges: string[]; pods: PodView[] }> {
  return { gauges: await gauges(ledger), pods: pods(ledger) };
}
