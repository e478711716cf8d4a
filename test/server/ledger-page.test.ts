// The ledger page over loopback (its behaviour in a real browser is test/browser/ledger-page.test.ts):
// what the server renders, the fragments the script refreshes, escaping of hostile cluster data, and
// the security headers.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.js';
import { esc, html } from '../../src/server/page/html.js';
import { CSP } from '../../src/server/page/routes.js';
import { serve } from './harness.js';

async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe('html``', () => {
  it('escapes every interpolated value, keeps Html as is, joins arrays, drops null and prints booleans', () => {
    expect(esc(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    const name = '"><script>alert(1)</script>';
    expect(html`<td title="${name}">${name}</td>`.text).toBe('<td title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>');
    expect(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>${null}${undefined}${0}<p data-x="${false}">`.text).toBe('<ul><li>a&lt;</li><li>b</li></ul>0<p data-x="false">');
  });
});

describe('the ledger page on the demo cluster', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve(['examples/demo-cluster.yaml']);
  });
  afterAll(() => s.close());

  it('/ and /ui redirect (relative, so a path prefix survives) to /ui/', async () => {
    for (const [path, location] of [['/', 'ui/'], ['/ui', 'ui/'], ['/ui?node=spark', 'ui/?node=spark']]) {
      const r = await get(`${s.statusUrl}${path}`);
      expect([r.status, r.headers.get('location')], path).toEqual([302, location]);
    }
  });

  it('renders every node, GPU bars and pods on the server, under a strict CSP', async () => {
    const r = await get(`${s.statusUrl}/ui/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('content-security-policy')).toBe(CSP);
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).not.toContain('unsafe-inline');
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    for (const n of ['spark-01', 'mps-agg-01', 'mps-ind-01', 'a100-mig-01', 't4-01', 'homelab-3090']) expect(r.text).toContain(`data-node="${n}"`);
    expect(r.text).not.toContain('data-node="cpu-01"');
    expect(r.text).toMatch(/data-dim="memory" role="meter" aria-label="memory" aria-valuemin="0" aria-valuemax="137438953472" aria-valuenow="68719476736">.*?64Gi \/ 128Gi/);
    expect(r.text).toContain('data-dim="mig-3g.40gb"');
    expect(r.text).toContain('data-pod="ai/llama-70b" data-state="bound"');
    // No inline script or style anywhere (the CSP would block them).
    expect(r.text).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(r.text).not.toMatch(/\sstyle=/);
    expect(r.text).not.toMatch(/\son[a-z]+=/);
    // Every link is relative.
    expect(r.text).not.toMatch(/(?:href|src|action)="\//);
  });

  it('filters in the URL, a node or a pod opened with ?show=, and the fragments the script loads', async () => {
    const filtered = await get(`${s.statusUrl}/ui/?mode=mig&show=node/a100-mig-01`);
    expect(filtered.text).toContain('data-node="a100-mig-small-01"');
    expect(filtered.text).not.toContain('data-node="spark-01"');
    expect(filtered.text).toContain('<option value="mig" selected>mig</option>');
    expect(filtered.text).toContain('<section class="node-detail" data-node="a100-mig-01"><h2>node a100-mig-01</h2>');
    const pod = await get(`${s.statusUrl}/ui/?show=pod/ai/llama-70b`);
    expect(pod.text).toContain('<p class="verdict ok">bound on spark-01;');
    const part = await get(`${s.statusUrl}/ui/part/ledger?namespace=ml`);
    expect(part.text.startsWith('<p class="summary"')).toBe(true);
    expect(part.text).toContain('data-node="mps-agg-01"');
    expect(part.text).not.toContain('data-node="spark-01"');
    const nodePart = await get(`${s.statusUrl}/ui/part/node/t4-01`);
    expect(nodePart.text).toContain('data-pod="research/notebook-a"');
    expect(nodePart.text).toContain('largest pod that fits now: on GPU 0: 7 replica(s) of nvidia.com/gpu, 11Gi');
    const unknown = await get(`${s.statusUrl}/ui/part/node/nope`);
    expect([unknown.status, JSON.parse(unknown.text)]).toEqual([404, { Error: 'node "nope" is not a GPU node in the ledger' }]);
    const bad = await get(`${s.statusUrl}/ui/part/ledger?limit=9999`);
    expect([bad.status, JSON.parse(bad.text)]).toEqual([400, { Error: 'limit "9999" must be a whole number from 1 to 500' }]);
    // A bad ?show= never breaks the page: the detail pane says what it could not show.
    const badShow = await get(`${s.statusUrl}/ui/?show=nodes/t4-01`);
    expect(badShow.status).toBe(200);
    expect(badShow.text).toContain('<p class="error">cannot show &quot;nodes/t4-01&quot;: expected node/&lt;name&gt; or pod/&lt;namespace&gt;/&lt;name&gt;</p>');
    expect((await get(`${s.statusUrl}/ui/?show=node/${'%25E0'.repeat(3)}`)).status).toBe(200);
    expect((await get(`${s.statusUrl}/ui/?show=pod/ai/nobody`)).text).toContain('<p class="error">pod ai/nobody is not known to gpu-ledger (POST it to /explain instead)</p>');
  });

  it('explains a pasted pod as HTML: why not on each node, and what would fit', async () => {
    const body = 'apiVersion: v1\nkind: Pod\nmetadata: {name: big, namespace: ai}\nspec:\n  containers:\n  - name: c\n    env: [{name: CUDA_MPS_PINNED_DEVICE_MEM_LIMIT, value: "0=100G"}]\n    resources: {limits: {nvidia.com/gpu: "1"}}\n';
    const r = await get(`${s.statusUrl}/explain?format=html`, { method: 'POST', body });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toBe(CSP);
    expect(r.text).toContain('<section class="explain" data-pod="ai/big" data-fits="false">');
    expect(r.text).toContain('<tr class="no-fit" data-node="spark-01">');
    expect(r.text).toContain('GPU 0: MPS memory: needs 100Gi, 64Gi in use of 128Gi (64Gi free)<div class="suggestion">would fit: fits with at most 64Gi on GPU 0</div>');
    expect(r.text).toContain('<div class="room">room: on GPU 0: 9 replica(s) of nvidia.com/gpu, 64Gi, 50% threads</div>');
    const bad = await get(`${s.statusUrl}/explain?format=html`, { method: 'POST', body: 'kind: Node' });
    expect([bad.status, JSON.parse(bad.text).Error]).toEqual([400, 'body must be a Pod (kind: Pod) in JSON or YAML']);
  });

  it('serves its script and stylesheet from the status port (nothing from elsewhere)', async () => {
    const js = await get(`${s.statusUrl}/ui/ledger.js`);
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(js.text).toContain("fetch(url, { headers: { accept: 'text/html' }");
    expect(js.text).not.toMatch(/https?:\/\//);
    const css = await get(`${s.statusUrl}/ui/ledger.css`);
    expect([css.status, css.headers.get('content-type')]).toEqual([200, 'text/css; charset=utf-8']);
    expect(css.text).toContain('.w100{width:100%}');
    expect(css.text).not.toMatch(/url\(|@import/);
  });
});

describe('hostile cluster data on the page', () => {
  let s: RunningServer;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-page-'));
    const evil = '<img src=x onerror=alert(1)>';
    writeFileSync(
      join(dir, 'cluster.yaml'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'Node', metadata: { name: 'gpu-a', labels: { 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.replicas': '4', 'nvidia.com/gpu.sharing-strategy': 'mps', 'x"><b': 'y' }, annotations: { 'gpu-ledger.io/gpu-memory': evil } }, status: { allocatable: { 'nvidia.com/gpu': '4' } } },
          { apiVersion: 'v1', kind: 'Node', metadata: { name: 'gpu-b', labels: { 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.memory': '16384', 'nvidia.com/gpu.replicas': '4', 'nvidia.com/gpu.sharing-strategy': 'time-slicing', 'nvidia.com/gpu.product': `"><script>alert(2)</script>` } }, status: { allocatable: { 'nvidia.com/gpu': '4' } } },
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p"'<x>`, namespace: `ns<script>`, uid: 'u1' }, spec: { nodeName: 'gpu-b', containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] }, status: { phase: 'Running' } },
        ],
      }),
    );
    s = await serve([join(dir, 'cluster.yaml')]);
  });
  afterAll(() => s.close());

  it('escapes names, labels, models and problem messages everywhere they appear', async () => {
    const pages = [
      (await get(`${s.statusUrl}/ui/`)).text,
      (await get(`${s.statusUrl}/ui/?show=node/gpu-a`)).text,
      (await get(`${s.statusUrl}/ui/part/node/gpu-b`)).text,
      (await get(`${s.statusUrl}/ui/?show=${encodeURIComponent(`pod/${encodeURIComponent('ns<script>')}/${encodeURIComponent(`p"'<x>`)}`)}`)).text,
    ];
    const all = pages.join('\n');
    expect(all).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(all).toContain('&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(all).toContain('ns&lt;script&gt;/p&quot;&#39;&lt;x&gt;');
    expect(all).toContain('x&quot;&gt;&lt;b');
    expect(all).not.toContain('<img src=x');
    expect(all).not.toContain('<script>alert');
    expect(all).not.toContain('<x>');
    expect(all).not.toContain('"><b');
  });
});
