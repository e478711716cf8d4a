// The ledger list: every node of the page and, under it, one row per GPU with a bar per accounted
// dimension and the pods on that GPU. Rendered on the server for the first load and for every live
// refresh (GET part/ledger), so there is one renderer and one place that escapes.

import type { GpuView, LedgerView, NodeView, PodOnGpu } from '../../explain/ledger-view.js';
import { queryParams, type LedgerQuery } from '../../explain/ledger-query.js';
import { formatBytes, formatMilli } from '../../model/quantity.js';
import { bar } from './bars.js';
import { html, query, type Html } from './html.js';

export function showNodeHref(name: string): string {
  return `node/${encodeURIComponent(name)}`;
}

export function showPodHref(namespace: string, name: string): string {
  return `pod/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

/** A link that opens a view in the detail pane: the script loads it in place, without the script it reloads the page. */
export function showLink(cls: string, show: string, q: LedgerQuery, label: Html | string, attrs: Html = html``): Html {
  const p = queryParams(q);
  p.set('show', show);
  return html`<a class="${cls}" href="${query(p)}" data-show="${show}"${attrs}>${label}</a>`;
}

function podChip(p: PodOnGpu, q: LedgerQuery): Html {
  const title = `${p.namespace}/${p.name}: ${p.state}${p.exclusive ? ', exclusive' : ''}; ${p.replicas} replica(s)${p.memoryBytes ? `, ${formatBytes(p.memoryBytes)}` : ''}${p.threads ? `, ${formatMilli(p.threads * 1000)} threads` : ''}${Object.keys(p.mig).length ? `, ${Object.entries(p.mig).map(([k, v]) => `${v}× ${k}`).join(', ')}` : ''}`;
  const attrs = html` data-pod="${p.namespace}/${p.name}" data-state="${p.state}" title="${title}"`;
  return showLink(`pod ${p.state}${p.exclusive ? ' exclusive' : ''}`, showPodHref(p.namespace, p.name), q, html`${p.exclusive ? html`<span class="excl" title="exclusive">EXCL</span> ` : ''}${p.namespace}/${p.name}${p.state !== 'bound' ? html` <em>${p.state}</em>` : ''}`, attrs);
}

function gpuRow(g: GpuView, q: LedgerQuery): Html {
  const more = g.podCount - g.pods.length;
  return html`<tr class="gpu" data-gpu="${g.index}"><td class="gpu-id">GPU ${g.index}${g.exclusive ? html` <span class="badge excl">exclusive</span>` : ''}${g.idle ? html` <span class="badge idle">idle</span>` : ''}</td><td class="bars"><div class="bar-grid">${g.dimensions.map(bar)}</div>${g.memoryUnknown ? html`<div class="note">memory unknown: not checked</div>` : ''}</td><td class="pods" data-count="${g.podCount}">${g.pods.map((p) => podChip(p, q))}${more > 0 ? html`<span class="more">+${more} more</span>` : ''}</td></tr>`;
}

const cores = (milli: number) => String(Math.round(milli / 100) / 10);

export function cpuText(n: NodeView): string {
  return n.cpu.allocatableMilli > 0 ? `CPU ${cores(n.cpu.requestedMilli)} of ${cores(n.cpu.allocatableMilli)} cores requested` : `CPU ${cores(n.cpu.requestedMilli)} cores requested`;
}

export function fragText(n: NodeView): string {
  return `fragmentation ${n.fragmentation.unusableGpus.toFixed(2)} of ${n.fragmentation.freeGpus.toFixed(2)} free GPUs unusable by typical pods`;
}

function nodeBody(n: NodeView, q: LedgerQuery): Html {
  const facts = [`${n.mode}`, `${n.gpus.length}× ${n.model}`, n.pool ? `pool ${n.pool}` : null, n.tier ? `tier ${n.tier}` : null, cpuText(n), fragText(n)].filter((x): x is string => x !== null);
  return html`<tbody class="node${n.problems.length ? ' has-problems' : ''}" data-node="${n.name}" data-mode="${n.mode}"><tr class="node-head"><th colspan="3">${showLink('node-link', showNodeHref(n.name), q, n.name)} <span class="facts">${facts.join(' · ')}</span>${n.problems.length ? html`<ul class="problems">${n.problems.map((p) => html`<li>${p}</li>`)}</ul>` : ''}<div class="room">room: ${n.room}</div></th></tr>${n.gpus.length ? n.gpus.map((g) => gpuRow(g, q)) : html`<tr><td colspan="3" class="note">no usable GPU</td></tr>`}</tbody>`;
}

function pager(v: LedgerView, q: LedgerQuery): Html {
  if (v.matched <= v.limit && v.offset === 0) return html``;
  const prev = v.offset > 0 ? html`<a class="page" href="${query(queryParams(q, { offset: Math.max(0, v.offset - v.limit) }))}" data-offset="${Math.max(0, v.offset - v.limit)}">← previous</a>` : '';
  const next = v.nextOffset !== null ? html`<a class="page" href="${query(queryParams(q, { offset: v.nextOffset }))}" data-offset="${v.nextOffset}">next →</a>` : '';
  return html`<nav class="pages">${prev} nodes ${v.offset + 1}–${Math.min(v.matched, v.offset + v.limit)} of ${v.matched} ${next}</nav>`;
}

export function summaryText(v: LedgerView): string {
  const t = v.totals;
  return `${t.gpuNodes} GPU nodes, ${t.gpus} GPUs, ${t.pods.bound} pods bound, ${t.pods.reserved} reserved${t.problemNodes ? `, ${t.problemNodes} node(s) with problems` : ''}`;
}

/** The ledger fragment (the #ledger element's content). */
export function renderLedger(v: LedgerView, q: LedgerQuery): Html {
  const filtered = v.matched !== v.totals.gpuNodes;
  return html`<p class="summary" data-ready="${v.ready}"><span class="state ${v.ready ? 'ok' : 'bad'}">${v.ready ? 'in sync' : 'NOT in sync: the verbs place nothing'}</span> ${summaryText(v)}${filtered ? ` · ${v.matched} match the filters` : ''}</p>${v.nodes.length ? html`<table class="ledger"><thead><tr><th>GPU</th><th>accounted (used / capacity)</th><th>pods</th></tr></thead>${v.nodes.map((n) => nodeBody(n, q))}</table>` : html`<p class="empty">no GPU node matches these filters</p>`}${pager(v, q)}<p class="legend">pods: <span class="pod bound">bound</span> <span class="pod reserved">reserved</span> <span class="pod exclusive"><span class="excl">EXCL</span> exclusive</span> · click a node or a pod for details</p>`;
}
