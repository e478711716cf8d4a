// A pod's explanation as HTML (the pod view): why not on each node, and what would fit — the
// reasons' suggestions and each node's free room. Rendered from explainPod's PodExplanation, the
// same data `gpu-ledger explain` prints.

import type { NodeExplanation, PodExplanation } from '../../explain/explain.js';
import { html, type Html } from './html.js';

function score(n: NodeExplanation): string {
  if (!n.score) return n.placed ?? '–';
  const c = n.score.components;
  const f = (v: number | null) => (v === null ? '–' : v.toFixed(2));
  return `${n.score.score} (tier ${f(c.tierFit)}, frag ${f(c.fragmentation)}, pack ${f(c.pack)})`;
}

function what(n: NodeExplanation): Html {
  if (n.fits) {
    return html`<ul class="takes">${n.takes.map(
      (t) => html`<li>GPU ${t.gpu}: ${Object.keys(t.mig).length ? Object.entries(t.mig).map(([p, c]) => `${c}× ${p}`).join(', ') : `${t.replicas} replica(s), ${t.memory}, ${t.threads}`}${t.exclusive ? ' (exclusive)' : ''}</li>`,
    )}</ul>`;
  }
  return html`<ul class="reasons">${n.reasons.map((r) => html`<li data-code="${r.code}">${r.detail}${r.suggestion ? html`<div class="suggestion">would fit: ${r.suggestion}</div>` : ''}${r.preemptionCouldHelp ? html`<div class="note">evicting pods could help</div>` : ''}</li>`)}</ul>`;
}

export function renderExplanationHtml(e: PodExplanation): Html {
  const containers = e.demand.containers.map((c) => {
    const mem = Object.entries(c.memLimit).map(([k, v]) => `${k}=${v}`).join(',');
    const tokens = Object.entries(c.gpuTokens).map(([k, v]) => `${k}=${v}`).join(',');
    return `${c.name}: replicas ${c.replicas}${tokens ? `, tokens ${tokens}` : ''}${mem ? `, MPS memory ${mem}` : ''}${c.threads ? `, MPS threads ${c.threads}` : ''}`;
  });
  const requests = Object.entries(e.demand.requests).map(([k, v]) => `${k}=${v}`).join(', ') || 'none';
  return html`<section class="explain" data-pod="${e.pod.namespace}/${e.pod.name}" data-fits="${e.fitsSomewhere}"><h2>pod ${e.pod.namespace}/${e.pod.name}</h2><p class="verdict ${e.fitsSomewhere ? 'ok' : 'bad'}">${e.summary}</p><p class="facts">requests: ${requests} · isolation ${e.demand.isolation}${e.demand.tier ? ` · tier ${e.demand.tier}` : ''}${e.demand.declaredMemory ? ` · declared memory ${e.demand.declaredMemory}/GPU` : ''} · CPU ${e.demand.cpu}</p>${
    containers.length ? html`<ul class="containers">${containers.map((c) => html`<li>${c}</li>`)}</ul>` : ''
  }${e.errors.length ? html`<ul class="problems">${e.errors.map((x) => html`<li>${x.field}: ${x.message}</li>`)}</ul>` : ''}<table class="explain-table"><thead><tr><th>node</th><th>fits</th><th>score</th><th>GPUs taken / why not, and what would fit</th></tr></thead><tbody>${e.nodes.map(
    (n) =>
      html`<tr class="${n.fits ? 'fits' : 'no-fit'}" data-node="${n.node}"><td>${n.node}<div class="note">${n.mode} ${n.gpus}× ${n.model}</div></td><td>${n.placed ? n.placed : n.fits ? 'yes' : 'no'}</td><td>${score(n)}</td><td>${what(n)}${n.warnings.map((w) => html`<div class="note">note: ${w}</div>`)}${n.problems.map((p) => html`<div class="problem">problem: ${p}</div>`)}<div class="room">room: ${n.room.largest}</div></td></tr>`,
  )}</tbody></table><p class="legend">${e.legend}</p></section>`;
}
