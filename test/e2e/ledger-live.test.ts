// The ledger page, its JSON view, per-pod metrics and kubectl gpu-ledger in live mode: pods bound by
// the real kube-scheduler through gpu-ledger show up in /api/ledger, on the page (in Chromium when it
// is installed), in gpu_ledger_pod_* and in `kubectl gpu-ledger top` — run by the real kubectl, which
// finds the plugin on PATH. Then the plugin's default source, the API server's service proxy: this
// control plane has no kube-proxy, endpoints controller or pod network, and kube-apiserver refuses to
// proxy to loopback addresses, so a proxied request cannot reach gpu-ledger here; what is checked is
// that the plugin's URL and credentials reach the real API server, that its answers (no Service,
// no endpoints, Forbidden) are reported for what they are, and that the shipped viewer Role is what
// a user needs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { V1Service } from '@kubernetes/client-node';
import { afterAll, expect, it } from 'vitest';
import { kubectlMain } from '../../src/cli/kubectl/main.js';
import type { LedgerView } from '../../src/explain/ledger-view.js';
import { parseYaml } from '../../src/model/yaml.js';
import { hasChromium, launchChromium } from '../helpers/chromium.js';
import { binary, controlPlane, REPO } from './control-plane.js';
import { demoNode, mpsPod, statusOf, variant } from './kube.js';
import { describeE2e, env, scenario } from './scenario.js';
import { until } from './wait.js';

const GiB = 2 ** 30;
const execFileP = promisify(execFile);

/** A small MPS pod pinned to the GB10 (the T4 would take it too). */
function onSpark(namespace: string, name: string, schedulerName: string) {
  const pod = mpsPod(namespace, name, schedulerName, { mem: '0=8G', threads: 10 });
  pod.spec!.nodeSelector = { 'kubernetes.io/hostname': 'spark-01' };
  return pod;
}

async function plugin(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await kubectlMain(args, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

describeE2e('the ledger page, per-pod metrics and kubectl gpu-ledger in live mode', () => {
  const s = scenario('ledger-live', () => ['spark-01', 't4-01'].map(demoNode), async () => ({ ledger: { podMetrics: true } }));
  let service: V1Service | null = null;
  afterAll(async () => {
    await execFileP(binary(env(), 'kubectl'), ['--kubeconfig', env().kubeconfig, 'delete', '--ignore-not-found', '-f', join(REPO, 'deploy/manifests/components/viewer/viewer-rbac.yaml')], { timeout: 60_000 }).catch(() => undefined);
    if (!service) return;
    await s.cluster.core.deleteNamespacedService({ namespace: 'gpu-ledger', name: service.metadata!.name! }).catch(() => undefined);
    await s.cluster.core.deleteNamespacedEndpoints({ namespace: 'gpu-ledger', name: service.metadata!.name! }).catch(() => undefined);
  });

  it('pods bound through gpu-ledger appear in /api/ledger, the page and the per-pod metrics', async () => {
    await s.cluster.createPod(mpsPod(s.ns, 'llm', s.schedulerName, { mem: '0=40G', threads: 25 }));
    await s.cluster.createPod(variant('t4-shared.yaml', s.ns, 'nb', { schedulerName: s.schedulerName, annotations: { 'gpu-ledger.io/gpu-memory': '4Gi' } }));
    expect(await s.cluster.bound(s.ns, 'llm')).toBe('spark-01');
    expect(await s.cluster.bound(s.ns, 'nb')).toBe('t4-01');
    // The watch brings the binding back; the view shows both pods bound.
    const view = await until(
      async () => {
        const v = (await (await fetch(`${s.ledger.statusUrl}/api/ledger?namespace=${s.ns}`)).json()) as LedgerView;
        return v.nodes.flatMap((n) => n.gpus.flatMap((g) => g.pods)).filter((p) => p.state === 'bound').length === 2 ? v : undefined;
      },
      'both pods bound in /api/ledger',
      20_000,
    );
    expect(view.ready).toBe(true);
    const spark = view.nodes.find((n) => n.name === 'spark-01')!.gpus[0];
    expect(spark.dimensions.find((d) => d.name === 'memory')).toMatchObject({ used: 40 * GiB, capacity: 128 * GiB });
    expect(spark.dimensions.find((d) => d.name === 'threads')).toMatchObject({ used: 0.25 });
    expect(spark.pods).toEqual([expect.objectContaining({ namespace: s.ns, name: 'llm', state: 'bound' })]);

    const page = await (await fetch(`${s.ledger.statusUrl}/ui/?namespace=${s.ns}`)).text();
    expect(page).toContain(`data-pod="${s.ns}/llm" data-state="bound"`);
    expect(page).toContain(`data-pod="${s.ns}/nb" data-state="bound"`);

    const metrics = await (await fetch(`${s.ledger.statusUrl}/metrics`)).text();
    expect(metrics).toContain(`gpu_ledger_pod_gpu_memory_bytes{namespace="${s.ns}",pod="llm",node="spark-01",gpu="0"} ${40 * GiB}`);
    expect(metrics).toContain(`gpu_ledger_pod_gpu_threads_ratio{namespace="${s.ns}",pod="llm",node="spark-01",gpu="0"} 0.25`);
    expect(metrics).toContain(`gpu_ledger_pod_gpu_memory_bytes{namespace="${s.ns}",pod="nb",node="t4-01",gpu="0"} ${4 * GiB}`);
  });

  it.skipIf(!hasChromium)('the page in Chromium shows a pod bound after it was opened (live refresh)', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.ctx.newPage();
      await page.goto(`${s.ledger.statusUrl}/ui/`);
      await s.cluster.createPod(onSpark(s.ns, 'late', s.schedulerName));
      expect(await s.cluster.bound(s.ns, 'late')).toBe('spark-01');
      const chip = page.locator(`tbody[data-node="spark-01"] a.pod[data-pod="${s.ns}/late"]`);
      await until(async () => ((await chip.count()) === 1 ? true : undefined), 'the new pod on the open page', 30_000);
      await chip.click();
      await until(async () => ((await page.locator('#detail').innerText()).includes(`bound on spark-01`) ? true : undefined), 'its explanation', 20_000);
    } finally {
      await browser.close();
    }
  });

  it('kubectl finds the plugin on PATH and shows the live ledger (--server: the status port)', async () => {
    // (the browser test binds it too, when Chromium is there)
    if (!(await s.cluster.pod(s.ns, 'late'))) await s.cluster.createPod(onSpark(s.ns, 'late', s.schedulerName));
    expect(await s.cluster.bound(s.ns, 'late')).toBe('spark-01');
    await until(async () => ((await plugin(['top', '--server', s.ledger.statusUrl, '--node', 'spark'])).out.includes('48Gi/128Gi') ? true : undefined), 'late in the ledger', 20_000);
    const bin = mkdtempSync(join(tmpdir(), 'plugin-path-'));
    symlinkSync(join(REPO, 'bin/kubectl-gpu_ledger'), join(bin, 'kubectl-gpu_ledger'));
    const out = await new Promise<string>((resolve, reject) =>
      execFile(binary(env(), 'kubectl'), ['gpu-ledger', 'top', '--server', s.ledger.statusUrl, '-n', s.ns], { env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}` }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const rows = out.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
    expect(rows[0].slice(0, 5)).toEqual(['NODE', 'GPU', 'MODE', 'REPLICAS', 'MEMORY']);
    expect(rows.find((r) => r[0] === 'spark-01')!.slice(0, 6)).toEqual(['spark-01', '0', 'mps', '2/10', '48Gi/128Gi', '35%/100%']);
    expect(rows.find((r) => r[0] === 't4-01')!.slice(0, 5)).toEqual(['t4-01', '0', 'time-slicing', '1/8', '4Gi/15Gi']);
    const e = await plugin(['explain', `${s.ns}/llm`, '--server', s.ledger.statusUrl]);
    expect([e.code, e.out.split('\n')[0]]).toEqual([0, `pod ${s.ns}/llm (bound on spark-01)`]);
  });

  it('through the real API server: the service proxy URL and credentials, and what its refusals mean', async () => {
    const admin = env().kubeconfig;
    // No such Service.
    const none = await plugin(['top', '--kubeconfig', admin, '--service', 'no-such-service:metrics']);
    expect(none.code).toBe(1);
    expect(none.err).toContain('the API server has no Service gpu-ledger/no-such-service (services "no-such-service" not found)');
    // The shipped Service (deploy/manifests/base/service.yaml), in the shipped namespace: it exists,
    // but nothing here fills its endpoints.
    await s.cluster.core.createNamespace({ body: { metadata: { name: 'gpu-ledger' } } }).catch((err: unknown) => {
      if (statusOf(err) !== 409) throw err;
    });
    const manifest = parseYaml(readFileSync(join(REPO, 'deploy/manifests/base/service.yaml'), 'utf8')) as V1Service;
    service = await s.cluster.core.createNamespacedService({ namespace: 'gpu-ledger', body: manifest }).catch(async (err: unknown) => {
      if (statusOf(err) !== 409) throw err;
      return s.cluster.core.readNamespacedService({ namespace: 'gpu-ledger', name: manifest.metadata!.name! });
    });
    // What the endpoints controller (absent here) writes for a Service without ready pods: an
    // Endpoints object without addresses. (Without any Endpoints object the proxy answers 404.)
    await s.cluster.core.createNamespacedEndpoints({ namespace: 'gpu-ledger', body: { metadata: { name: manifest.metadata!.name! } } }).catch((err: unknown) => {
      if (statusOf(err) !== 409) throw err;
    });
    const noEndpoints = await plugin(['top', '--kubeconfig', admin]);
    expect(noEndpoints.code).toBe(1);
    expect(noEndpoints.err).toContain('Service gpu-ledger/gpu-ledger-metrics has no ready endpoints (no endpoints available for service "gpu-ledger-metrics")');
    const explain = await plugin(['explain', `${s.ns}/llm`, '--kubeconfig', admin]);
    expect([explain.code, explain.err]).toEqual([1, expect.stringContaining('has no ready endpoints')]);
    // A user without services/proxy: the RBAC authorizer's refusal, with what is missing.
    const alice = await controlPlane(env().script, ['kubeconfig-for', env().dir, 'e2e:ledger-viewer-without-rbac']);
    const forbidden = await plugin(['top', '--kubeconfig', alice]);
    expect(forbidden.code).toBe(1);
    expect(forbidden.err).toContain('forbidden by the API server');
    expect(forbidden.err).toContain('cannot get resource "services/proxy"');
    expect(forbidden.err).toContain('reading gpu-ledger needs "get" on services/proxy in namespace gpu-ledger');
    // The shipped viewer Role (deploy/manifests/components/viewer) is exactly enough: past RBAC, the
    // API server's answer is again the missing endpoints.
    await execFileP(binary(env(), 'kubectl'), ['--kubeconfig', admin, 'apply', '-f', join(REPO, 'deploy/manifests/components/viewer/viewer-rbac.yaml')], { timeout: 60_000 });
    const viewer = await controlPlane(env().script, ['kubeconfig-for', env().dir, 'e2e:ledger-viewer', 'gpu-ledger-viewers']);
    const allowed = await until(async () => {
      const r = await plugin(['top', '--kubeconfig', viewer]);
      return r.err.includes('forbidden') ? undefined : r;
    }, 'the viewer Role in effect', 20_000);
    expect(allowed.code).toBe(1);
    expect(allowed.err).toContain('has no ready endpoints');
    // …and no more than that: another Service's proxy stays forbidden.
    expect((await plugin(['top', '--kubeconfig', viewer, '--service', 'other:metrics'])).err).toContain('forbidden by the API server');
  });
});
