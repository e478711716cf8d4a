// Every KubeSchedulerConfiguration under deploy/ — the files, any ConfigMap that embeds one, and the
// ConfigMaps that `kubectl kustomize` generates for the base and every overlay — decoded strictly by the real kube-scheduler 1.30 (`--write-config-to` loads, defaults and
// validates the file, builds the extenders, writes the result and exits). Paths that point into a
// cluster (kubeconfig, the extender's TLS files) are replaced by throwaway files made here; nothing
// else is touched. A misspelled field must make it fail, so a pass means something.

import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { binary, REPO } from './control-plane.js';
import { E2E, env } from './scenario.js';

const run = promisify(execFile);
type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(n) ? [p] : [];
    });
}

interface Found {
  label: string;
  config: Rec;
}

/** KubeSchedulerConfiguration documents: top-level, or a string value of a ConfigMap's data. */
function configsIn(docs: unknown[], where: string): Found[] {
  const out: Found[] = [];
  docs.forEach((doc, i) => {
    if (isRec(doc) && doc.kind === 'KubeSchedulerConfiguration') out.push({ label: `${where}#${i}`, config: doc });
    if (isRec(doc) && doc.kind === 'ConfigMap' && isRec(doc.data)) {
      for (const [key, text] of Object.entries(doc.data)) {
        const inner = typeof text === 'string' ? yaml.load(text) : undefined;
        const name = isRec(doc.metadata) ? String(doc.metadata.name) : '?';
        if (isRec(inner) && inner.kind === 'KubeSchedulerConfiguration') out.push({ label: `${where} ConfigMap ${name} ${key}`, config: inner });
      }
    }
  });
  return out;
}

const CONFIGS = yamlFiles(join(REPO, 'deploy')).flatMap((file) => configsIn(yaml.loadAll(readFileSync(file, 'utf8')), relative(REPO, file)));

/** Directories with a kustomization that kubectl can build (components are built within overlays). */
const KUSTOMIZATIONS = yamlFiles(join(REPO, 'deploy/manifests'))
  .filter((f) => f.endsWith('/kustomization.yaml') && !f.includes('/components/'))
  .map((f) => relative(REPO, dirname(f)));

describe.skipIf(E2E === null)('deploy/ scheduler configurations decoded by the real kube-scheduler', () => {
  let dir: string;
  let files: { kubeconfig: string; cert: string; key: string; ca: string };

  beforeAll(async () => {
    dir = join(env().work, 'decode');
    mkdirSync(dir, { recursive: true });
    files = { kubeconfig: join(dir, 'kubeconfig'), cert: join(dir, 'client.crt'), key: join(dir, 'client.key'), ca: join(dir, 'ca.crt') };
    // Loaded only, never used to connect: kube-scheduler exits after writing the config.
    writeFileSync(
      files.kubeconfig,
      yaml.dump({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'none', user: {} }],
        contexts: [{ name: 'none', context: { cluster: 'none', user: 'none' } }],
        'current-context': 'none',
      }),
    );
    const ossl = (args: string[]) => run('openssl', args, { env: { ...process.env, OPENSSL_CONF: '/dev/null' } });
    await ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', files.ca, '-subj', '/CN=e2e-throwaway-ca', '-days', '1']);
    await ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.key, '-out', join(dir, 'client.csr'), '-subj', '/CN=e2e-throwaway-client']);
    await ossl(['x509', '-req', '-in', join(dir, 'client.csr'), '-CA', files.ca, '-CAkey', join(dir, 'ca.key'), '-set_serial', '1', '-days', '1', '-out', files.cert]);
  });

  /** The config with only its cluster-side paths replaced. */
  function localised(config: Rec): Rec {
    const c = structuredClone(config);
    c.clientConnection = { ...(isRec(c.clientConnection) ? c.clientConnection : {}), kubeconfig: files.kubeconfig };
    for (const ext of Array.isArray(c.extenders) ? c.extenders : []) {
      if (!isRec(ext) || !isRec(ext.tlsConfig)) continue;
      const tls = ext.tlsConfig;
      if (tls.certFile !== undefined) tls.certFile = files.cert;
      if (tls.keyFile !== undefined) tls.keyFile = files.key;
      if (tls.caFile !== undefined) tls.caFile = files.ca;
    }
    return c;
  }

  let n = 0;
  async function decode(config: Rec): Promise<{ ok: boolean; written: Rec | undefined; stderr: string }> {
    const file = join(dir, `config-${++n}.yaml`);
    const out = join(dir, `written-${n}.yaml`);
    writeFileSync(file, yaml.dump(config));
    try {
      await run(binary(env(), 'kube-scheduler'), ['--config', file, '--write-config-to', out], { timeout: 60_000 });
      return { ok: true, written: yaml.load(readFileSync(out, 'utf8')) as Rec, stderr: '' };
    } catch (err) {
      return { ok: false, written: undefined, stderr: String((err as { stderr?: string }).stderr ?? err) };
    }
  }

  it('finds the three shipped configurations', () => {
    expect(CONFIGS.map((c) => c.label)).toEqual([
      'deploy/scheduler-config/default-scheduler.yaml#0',
      'deploy/scheduler-config/second-scheduler-mtls.yaml#0',
      'deploy/scheduler-config/second-scheduler.yaml#0',
    ]);
  });

  for (const { label, config } of CONFIGS) {
    it(`${label}: accepted, and what kube-scheduler wrote keeps its extenders and profiles`, async () => {
      const r = await decode(localised(config));
      expect(r.ok, r.stderr).toBe(true);
      const written = r.written!;
      expect((written.profiles as Rec[]).map((p) => p.schedulerName)).toEqual((config.profiles as Rec[]).map((p) => p.schedulerName));
      const extenders = written.extenders as Rec[];
      expect(extenders.map((e) => [e.urlPrefix, e.filterVerb, e.prioritizeVerb, e.bindVerb, e.weight])).toEqual(
        (config.extenders as Rec[]).map((e) => [e.urlPrefix, e.filterVerb, e.prioritizeVerb, e.bindVerb, e.weight]),
      );
      expect((extenders[0].managedResources as unknown[]).length).toBe(((config.extenders as Rec[])[0].managedResources as unknown[]).length);
    });

    it(`${label}: a misspelled extender field is rejected`, async () => {
      const bad = localised(config);
      (bad.extenders as Rec[])[0].nodeCacheCapabel = true;
      const r = await decode(bad);
      expect(r.ok).toBe(false);
      // klog quotes the error: err="strict decoding error: unknown field \"extenders[0].nodeCacheCapabel\""
      expect(r.stderr).toContain('strict decoding error: unknown field \\"extenders[0].nodeCacheCapabel\\"');
    });
  }

  it('the scheduler configuration every kustomization renders (kubectl kustomize) is one of the files above', async () => {
    const shipped = new Map(CONFIGS.map((c) => [JSON.stringify(c.config), c.label]));
    const rendered: string[] = [];
    for (const dir of KUSTOMIZATIONS) {
      const { stdout } = await run(binary(env(), 'kubectl'), ['kustomize', join(REPO, dir)], { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 });
      for (const f of configsIn(yaml.loadAll(stdout), dir)) {
        expect(shipped.get(JSON.stringify(f.config)), `${f.label} differs from every file decoded above`).toBeDefined();
        rendered.push(f.label);
      }
    }
    // base and every overlay ship both keys of gpu-ledger-scheduler-config
    expect(rendered.length).toBe(2 * KUSTOMIZATIONS.length);
    expect(KUSTOMIZATIONS).toContain('deploy/manifests/base');
  });
});
