// `kubectl gpu-ledger top`: one row per node and GPU, used/total in every dimension the node's mode
// accounts ("-" where it accounts none), like `kubectl inspect gpushare`; -o wide adds the model,
// pool, tier, MPS clients, fragmentation and the pods' names. Node problems follow the table.

import type { Dimension, LedgerView, NodeView } from '../../explain/ledger-view.js';
import { formatBytes, formatMilli } from '../../model/quantity.js';

function cell(dims: readonly Dimension[], name: Dimension['name']): string {
  const d = dims.find((x) => x.name === name);
  if (!d) return '-';
  if (d.unit === 'bytes') return `${formatBytes(d.used)}/${formatBytes(d.capacity)}`;
  if (d.unit === 'ratio') return `${formatMilli(Math.round(d.used * 1000))}/${formatMilli(Math.round(d.capacity * 1000))}`;
  return `${d.used}/${d.capacity}`;
}

function migCell(dims: readonly Dimension[]): string {
  const mig = dims.filter((d) => d.name === 'mig');
  return mig.length ? mig.map((d) => `${d.profile}:${d.used}/${d.capacity}`).join(',') : '-';
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd()).join('\n');
}

export function renderTop(v: LedgerView, wide: boolean): string {
  const head = ['NODE', 'GPU', 'MODE', 'REPLICAS', 'MEMORY', 'THREADS', 'MIG', 'PODS', 'EXCLUSIVE', 'PROBLEMS'];
  const rows: string[][] = [wide ? [...head.slice(0, 3), 'MODEL', 'POOL', 'TIER', ...head.slice(3, 6), 'CLIENTS', ...head.slice(6), 'FRAG', 'POD NAMES'] : head];
  const problemLines: string[] = [];
  for (const n of v.nodes) {
    for (const p of n.problems) problemLines.push(`  ${n.name}: ${p}`);
    const gpus = n.gpus.length ? n.gpus : [null];
    for (const g of gpus) {
      const dims = g?.dimensions ?? [];
      const base = [n.name, g ? String(g.index) : '-', n.mode];
      const mid = [cell(dims, 'replicas'), cell(dims, 'memory') === '-' && g?.memoryUnknown ? 'unknown' : cell(dims, 'memory'), cell(dims, 'threads')];
      const tail = [migCell(dims), String(g?.podCount ?? 0), g?.exclusive ? 'yes' : '-', n.problems.length ? String(n.problems.length) : '-'];
      if (!wide) rows.push([...base, ...mid, ...tail]);
      else {
        const names = g ? g.pods.map((p) => `${p.namespace}/${p.name}${p.state !== 'bound' ? `(${p.state})` : ''}${p.exclusive ? '(exclusive)' : ''}`).join(',') + (g.podCount > g.pods.length ? `,+${g.podCount - g.pods.length}` : '') : '';
        rows.push([...base, n.model, n.pool ?? '-', n.tier ?? '-', ...mid, cell(dims, 'clients'), ...tail, frag(n), names || '-']);
      }
    }
  }
  let out = v.nodes.length ? table(rows) : 'No GPU nodes match.';
  if (v.matched > v.nodes.length) out += `\n(${v.nodes.length} of ${v.matched} nodes)`;
  if (problemLines.length) out += `\n\nPROBLEMS\n${problemLines.join('\n')}`;
  return out + '\n';
}

function frag(n: NodeView): string {
  return n.fragmentation.freeGpus > 0 ? `${n.fragmentation.unusableGpus.toFixed(2)}/${n.fragmentation.freeGpus.toFixed(2)}` : '-';
}
