// A node's own view (the detail pane): its GPUs with bars, every pod with what it holds on each
// GPU, the free room per GPU and the largest pod that fits, problems, and the inventory settings
// behind the numbers.

import type { NodeDetail } from '../../explain/ledger-view.js';
import type { LedgerQuery } from '../../explain/ledger-query.js';
import { formatBytes, formatMilli } from '../../model/quantity.js';
import { bar } from './bars.js';
import { html, type Html } from './html.js';
import { cpuText, fragText, showLink, showPodHref } from './ledger-html.js';

function room(n: NodeDetail): Html {
  const cell = (v: number | null, f: (x: number) => string) => (v === null ? '–' : f(v));
  return html`<table class="room-table"><thead><tr><th>GPU</th><th>replicas</th><th>memory</th><th>threads</th><th>clients</th><th>MIG</th></tr></thead><tbody>${n.roomPerGpu.map(
    (g) =>
      html`<tr><td>${g.gpu}${g.exclusive ? ' (exclusive)' : ''}${g.idle ? ' (idle)' : ''}</td><td>${cell(g.replicas, String)}</td><td>${cell(g.memoryBytes, formatBytes)}</td><td>${cell(g.threadMilli, formatMilli)}</td><td>${cell(g.clients, String)}</td><td>${Object.entries(g.mig).map(([p, c]) => `${c}× ${p}`).join(', ') || '–'}</td></tr>`,
  )}</tbody></table>`;
}

export function renderNode(n: NodeDetail, q: LedgerQuery): Html {
  const inv = n.inventory;
  return html`<section class="node-detail" data-node="${n.name}"><h2>node ${n.name}</h2><p class="facts">${n.mode} · ${n.gpus.length}× ${n.model}${n.pool ? ` · pool ${n.pool}` : ''}${n.tier ? ` · tier ${n.tier}` : ''} · placement ${n.placement} · ${cpuText(n)}</p><p>${fragText(n)}</p>${
    n.problems.length ? html`<ul class="problems">${n.problems.map((p) => html`<li>${p}</li>`)}</ul>` : ''
  }${n.gpus.map(
    (g) =>
      html`<div class="gpu-card" data-gpu="${g.index}"><h3>GPU ${g.index}${g.exclusive ? ' — held exclusively' : ''}</h3>${g.dimensions.map(bar)}${
        g.pods.length
          ? html`<table class="pod-table"><thead><tr><th>pod</th><th>state</th><th>replicas</th><th>memory</th><th>threads</th><th>MIG</th></tr></thead><tbody>${g.pods.map(
              (p) =>
                html`<tr data-pod="${p.namespace}/${p.name}"><td>${showLink('pod-link', showPodHref(p.namespace, p.name), q, `${p.namespace}/${p.name}`)}${p.exclusive ? ' (exclusive)' : ''}${p.unaccounted ? ' (not accounted)' : ''}</td><td>${p.state}</td><td>${p.replicas}</td><td>${p.memoryBytes ? formatBytes(p.memoryBytes) : '–'}</td><td>${p.threads ? formatMilli(p.threads * 1000) : '–'}</td><td>${Object.entries(p.mig).map(([k, v]) => `${v}× ${k}`).join(', ') || '–'}</td></tr>`,
            )}</tbody></table>${g.podCount > g.pods.length ? html`<p class="more">+${g.podCount - g.pods.length} more pods</p>` : ''}`
          : html`<p class="note">no pod</p>`
      }</div>`,
  )}<h3>free room</h3><p class="room">largest pod that fits now: ${n.room}</p>${room(n)}<h3>inventory</h3><dl class="inventory"><dt>resource</dt><dd>${inv.resource}${inv.perGpuResources ? ' (per-GPU tokens)' : ''}</dd><dt>memory from</dt><dd>${inv.memorySource}</dd><dt>reserved memory</dt><dd>${inv.reservedMemory}</dd><dt>compute overcommit</dt><dd>${inv.computeOvercommit}</dd><dt>MPS clients per GPU</dt><dd>${inv.mpsMaxClients}</dd><dt>MPS daemon limits</dt><dd>${String(inv.mpsDaemonLimits)}</dd><dt>MIG strategy</dt><dd>${inv.migStrategy}</dd></dl><details><summary>labels</summary><dl class="labels">${Object.entries(inv.labels).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></details></section>`;
}
