// The ledger page in a real browser: Debian's Chromium, headless, driven by playwright-core, against
// the real server on the demo cluster (snapshot mode). What a person sees: the nodes, the bars, the
// pods; filtering; a click into a node and into a pod; a pasted pod explained; the list refreshing
// by itself when the ledger changes. It keeps docs/ledger-page.png (the README's screenshot).
//
// Without /usr/bin/chromium the suite skips with one line; GPU_LEDGER_BROWSER_REQUIRED=1 (set by
// .ci/run once it has installed Chromium) turns that into a failure.

import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.js';
import { parseYaml } from '../../src/model/yaml.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';
import { CHROMIUM, hasChromium as present, launchChromium } from '../helpers/chromium.js';
import { serve } from '../server/harness.js';

if (!present) {
  const line = `browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`;
  if (process.env.GPU_LEDGER_BROWSER_REQUIRED === '1') throw new Error(line.replace('skipped', 'required'));
  console.warn(line);
}

/** Waits (polling, with a deadline) until `read` returns what `ok` accepts; no fixed sleeps. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const PASTED = `apiVersion: v1
kind: Pod
metadata: {name: too-big, namespace: ai}
spec:
  containers:
  - name: inference
    env:
    - {name: CUDA_MPS_PINNED_DEVICE_MEM_LIMIT, value: "0=100G"}
    resources:
      limits: {nvidia.com/gpu: "1"}
`;

describe.skipIf(!present)('the ledger page in headless Chromium', () => {
  let s: RunningServer;
  let ctx: BrowserContext;
  let page: Page;
  let closeBrowser: (() => Promise<void>) | undefined;
  const problems: string[] = [];
  const failed: string[] = [];

  beforeAll(async () => {
    s = await serve(['examples/demo-cluster.yaml']);
    const browser = await launchChromium();
    ctx = browser.ctx;
    closeBrowser = browser.close;
    page = await ctx.newPage();
    // Script errors and CSP violations (reported as console errors) fail the suite.
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // Failed requests are checked one by one below (`failed`), not through the console.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.request().method()} ${r.url().slice(s.statusUrl.length)}`);
    });
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    // Nothing may be fetched from anywhere but the status port.
    await ctx.route('**/*', (route) => (route.request().url().startsWith(s.statusUrl) ? route.continue() : (problems.push(`outside request: ${route.request().url()}`), route.abort())));
  }, 60_000);

  afterAll(async () => {
    await closeBrowser?.();
    await s?.close();
  });

  const nodes = () => page.locator('#ledger tbody.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')));
  const detailText = () => page.locator('#detail').innerText();

  it('shows every GPU node, a bar per accounted dimension and the pods on each GPU', async () => {
    await page.goto(`${s.statusUrl}/`);
    expect(page.url()).toBe(`${s.statusUrl}/ui/`);
    expect(await nodes()).toEqual(['a100-mig-01', 'a100-mig-large-01', 'a100-mig-small-01', 'a100-ts-01', 'h100-ts-01', 'homelab-3090', 'mps-agg-01', 'mps-ind-01', 'spark-01', 't4-01']);
    const spark = page.locator('tbody[data-node="spark-01"] tr.gpu[data-gpu="0"]');
    expect(await spark.locator('.bar').evaluateAll((els) => els.map((e) => e.getAttribute('data-dim')))).toEqual(['replicas', 'memory', 'threads', 'clients']);
    expect(await spark.locator('.bar[data-dim="memory"] .val').innerText()).toBe('64Gi / 128Gi');
    expect(await spark.locator('.bar[data-dim="memory"] .fill').getAttribute('class')).toBe('fill w50');
    expect(await spark.locator('a.pod').innerText()).toBe('ai/llama-70b');
    const t4 = page.locator('tbody[data-node="t4-01"] .bar');
    expect(await t4.evaluateAll((els) => els.map((e) => e.getAttribute('data-dim')))).toEqual(['replicas', 'memory']);
    expect(await page.locator('tbody[data-node="a100-mig-01"] tr.gpu[data-gpu="0"] .bar[data-dim="mig-3g.40gb"] .val').innerText()).toBe('1 / 1');
    expect(await page.locator('.summary').innerText()).toContain('10 GPU nodes, 27 GPUs, 6 pods bound, 0 reserved');
  });

  it('filters by mode and namespace in place', async () => {
    await page.selectOption('select[name="mode"]', 'mig');
    await until(nodes, (n) => n.length === 3, 'nodes after mode=mig');
    expect(page.url()).toContain('mode=mig');
    await page.selectOption('select[name="mode"]', '');
    await page.selectOption('select[name="namespace"]', 'research');
    expect(await until(nodes, (n) => n.length === 2, 'nodes after namespace=research')).toEqual(['a100-ts-01', 't4-01']);
    await page.fill('input[name="node"]', 't4');
    await page.press('input[name="node"]', 'Enter');
    expect(await until(nodes, (n) => n.length === 1, 'nodes after node=t4')).toEqual(['t4-01']);
    await page.fill('input[name="node"]', '');
    await page.selectOption('select[name="namespace"]', '');
    await until(nodes, (n) => n.length === 10, 'every node again');
  });

  it('opens a node, then a pod, in the detail pane', async () => {
    await page.click('a.node-link[data-show="node/t4-01"]');
    const node = await until(detailText, (t) => t.includes('node t4-01'), 'node detail');
    expect(node).toContain('research/notebook-a');
    expect(node).toContain('largest pod that fits now: on GPU 0: 7 replica(s) of nvidia.com/gpu, 11Gi');
    expect(page.url()).toContain('show=node%2Ft4-01');
    await page.click('tbody[data-node="spark-01"] a.pod[data-pod="ai/llama-70b"]');
    const pod = await until(detailText, (t) => t.includes('pod ai/llama-70b'), 'pod view');
    expect(pod).toContain('bound on spark-01');
    expect(await page.locator('#detail tr[data-node="spark-01"] td').nth(1).innerText()).toBe('bound');
  });

  it('explains a pasted pod: why not on each node, and what would fit', async () => {
    await page.fill('#pod-yaml', PASTED);
    await page.click('#explain-form button[type="submit"]');
    const text = await until(detailText, (t) => t.includes('pod ai/too-big'), 'explain of the pasted pod');
    expect(text).toContain('0/10 GPU nodes fit');
    const spark = await page.locator('#detail tr[data-node="spark-01"]').innerText();
    expect(spark).toContain('MPS memory: needs 100Gi, 64Gi in use of 128Gi (64Gi free)');
    expect(spark).toContain('would fit: fits with at most 64Gi on GPU 0');
    expect(spark).toContain('room: on GPU 0: 9 replica(s) of nvidia.com/gpu, 64Gi, 50% threads');
    // A body that is not a pod: the server's error, as text.
    await page.fill('#pod-yaml', 'kind: Node\n');
    await page.click('#explain-form button[type="submit"]');
    await until(() => page.locator('#detail .error').count(), (n) => n === 1, 'error shown');
    expect(await page.locator('#detail .error').innerText()).toBe('body must be a Pod (kind: Pod) in JSON or YAML');
  });

  it('refreshes by itself when the ledger changes (a reservation appears, then is bound)', async () => {
    const pod = parseYaml(readFileSync('examples/pods/medium-mps.yaml', 'utf8'));
    const demand = s.state.parse(pod);
    const reserved = new Pipeline(s.state).reserve(demand, 'spark-01');
    expect(reserved.ok).toBe(true);
    const chip = page.locator(`tbody[data-node="spark-01"] a.pod[data-pod="${demand.namespace}/${demand.name}"]`);
    await until(() => chip.count(), (n) => n === 1, 'the reserved pod on the page');
    expect(await chip.getAttribute('data-state')).toBe('reserved');
    s.state.ledger.confirm(demand.uid);
    await until(() => chip.getAttribute('data-state'), (st) => st === 'bound', 'the pod bound on the page');
    expect(await page.locator('.summary').innerText()).toContain('7 pods bound');
  });

  it('keeps a screenshot for the README, and saw no script error, CSP violation or outside request', async () => {
    await page.click('a.node-link[data-show="node/spark-01"]');
    await until(detailText, (t) => t.includes('node spark-01'), 'node detail');
    await page.fill('#pod-yaml', PASTED);
    await page.click('#explain-form button[type="submit"]');
    await until(detailText, (t) => t.includes('pod ai/too-big'), 'explain of the pasted pod');
    // (a string: the test is compiled without the DOM's types)
    await page.evaluate("window.scrollTo(0, 0); document.querySelector('aside').scrollTo(0, 0)");
    // The clock in the header changes every run: masked, so the picture only changes with the page.
    await page.screenshot({ path: 'docs/ledger-page.png', mask: [page.locator('#updated')], maskColor: '#24292f' });
    expect(readFileSync('docs/ledger-page.png').subarray(1, 4).toString()).toBe('PNG');
    expect(problems).toEqual([]);
    // The one refused request: the body that was not a pod.
    expect(failed).toEqual(['400 POST /explain?format=html']);
  });
}, 120_000);
