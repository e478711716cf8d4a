// The whole page: header, filters, the ledger list and the detail pane, server-rendered so it reads
// without the script too (links reload the page). The script (assets/ledger.js) then refreshes the
// list and the open detail in place, and sends pasted pods to explain. Every URL is relative: the
// page also works behind a path prefix (kubectl proxy, the API server's service proxy).

import type { LedgerView } from '../../explain/ledger-view.js';
import type { LedgerQuery } from '../../explain/ledger-query.js';
import { html, type Html } from './html.js';
import { renderLedger } from './ledger-html.js';

function select(name: string, label: string, values: readonly string[], chosen: string | null, truncated = false): Html {
  return html`<label>${label} <select name="${name}"><option value="">all</option>${values.map((v) => html`<option value="${v}"${v === chosen ? html` selected` : ''}>${v}</option>`)}${
    chosen !== null && !values.includes(chosen) ? html`<option value="${chosen}" selected>${chosen}</option>` : ''
  }${truncated ? html`<option disabled>…</option>` : ''}</select></label>`;
}

export const EXAMPLE_POD = `apiVersion: v1
kind: Pod
metadata: {name: my-model, namespace: ai}
spec:
  containers:
  - name: inference
    image: vllm/vllm-openai:latest
    env:
    - {name: CUDA_MPS_PINNED_DEVICE_MEM_LIMIT, value: "0=40G"}
    - {name: CUDA_MPS_ACTIVE_THREAD_PERCENTAGE, value: "25"}
    resources:
      limits: {nvidia.com/gpu: "1"}
`;

export function renderPage(v: LedgerView, q: LedgerQuery, show: string | null, detail: Html | null): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>gpu-ledger</title><link rel="stylesheet" href="ledger.css"><script type="module" src="ledger.js"></script></head>
<body><header class="top"><h1>gpu-ledger</h1><span class="sub">shared GPU ledger</span><span class="spacer"></span><label class="live"><input type="checkbox" id="live" checked> live refresh</label><span id="updated" aria-live="polite"></span></header>
<form id="filters" method="get" action="./"><label>node <input type="search" name="node" value="${q.node ?? ''}" placeholder="name contains…" maxlength="253"></label>${select('pool', 'pool', v.facets.pools, q.pool)}${select('mode', 'mode', v.facets.modes, q.mode)}${select('namespace', 'namespace', v.facets.namespaces, q.namespace, v.facets.namespacesTruncated)}${
    q.limit !== 100 ? html`<input type="hidden" name="limit" value="${q.limit}">` : ''
  }<button type="submit">filter</button></form>
<div class="layout"><main id="ledger">${renderLedger(v, q)}</main>
<aside><div id="detail" data-show="${show ?? ''}">${detail ?? html`<p class="hint">Click a node or a pod to see it here, or paste a pod below to ask why it does not fit and what would.</p>`}</div>
<form id="explain-form"><h2>explain a pod</h2><label for="pod-yaml">pod (YAML or JSON)</label><textarea id="pod-yaml" name="pod" rows="14" spellcheck="false">${EXAMPLE_POD}</textarea><button type="submit">explain</button><p class="note">needs the page script; or: curl --data-binary @pod.yaml …/explain?format=text</p></form></aside></div>
</body></html>
`;
}
