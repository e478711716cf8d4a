// deploy/scheduler-config/*.yaml: strict v1 decoding (like kube-scheduler's own decoder), the
// validation rules that apply, and what gpu-ledger needs from its extender entry.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asList, asRec, DEPLOY, isRec, listFiles, loadYamlDocs, REPO, type Rec } from './files.js';
import { NOT_IN_V1_30 } from './kubescheduler-schema.js';
import { checkKubeSchedulerConfiguration, goDurationMs, isExtendedResourceName, validateKubeSchedulerConfiguration } from './strict-decode.js';

const DIR = join(DEPLOY, 'scheduler-config');
const load = (name: string): Rec => asRec(loadYamlDocs(join(DIR, name))[0]?.doc);
const clone = <T>(v: T): T => structuredClone(v);
const extenderOf = (doc: Rec): Rec => asRec(asList(doc.extenders)[0]);

/** Every KubeSchedulerConfiguration document anywhere under deploy/. */
const ALL_CONFIGS = listFiles(DEPLOY, ['.yaml', '.yml'])
  .flatMap(loadYamlDocs)
  .filter((d) => isRec(d.doc) && d.doc.kind === 'KubeSchedulerConfiguration');

// NVIDIA resources gpu-ledger accounts for (README "Pod conventions"): whole/shared GPUs, per-GPU
// tokens, and the MIG profiles of the seeds' GPUs (gpu-sharing.md's table).
const GPU_RESOURCES = ['nvidia.com/gpu', 'nvidia.com/gpu.shared', ...Array.from({ length: 8 }, (_, i) => `nvidia.com/gpu${i}`)];
const MIG_PROFILES: Record<string, string[]> = {
  'A100-40GB': ['1g.5gb', '1g.10gb', '2g.10gb', '3g.20gb', '4g.20gb', '7g.40gb'],
  'A100-80GB / H100-80GB': ['1g.10gb', '1g.20gb', '2g.20gb', '3g.40gb', '4g.40gb', '7g.80gb'],
  'A30-24GB': ['1g.6gb', '2g.12gb', '4g.24gb'],
};

describe('scheduler-config files', () => {
  it('are the second scheduler, its mTLS variant and the default-scheduler variant', () => {
    expect(readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()).toEqual(['default-scheduler.yaml', 'second-scheduler-mtls.yaml', 'second-scheduler.yaml']);
    expect(ALL_CONFIGS.length).toBeGreaterThanOrEqual(3);
  });

  for (const { file, index, doc } of ALL_CONFIGS) {
    const label = `${file.slice(REPO.length + 1)}#${index}`;
    it(`${label}: decodes strictly as kubescheduler.config.k8s.io/v1`, () => {
      expect(checkKubeSchedulerConfiguration(doc)).toEqual([]);
    });
    it(`${label}: passes kube-scheduler's validation rules`, () => {
      expect(validateKubeSchedulerConfiguration(asRec(doc))).toEqual([]);
    });
    it(`${label}: gpu-ledger's extender first: filter + prioritize + bind + preempt, node cache, not ignorable`, () => {
      const exts = asList(asRec(doc).extenders).map(asRec);
      // The default-scheduler variant adds the prioritize-only entry for pods without GPUs.
      expect(exts).toHaveLength(file.endsWith('default-scheduler.yaml') ? 2 : 1);
      for (const cpu of exts.slice(1)) {
        expect(cpu).toMatchObject({ urlPrefix: exts[0].urlPrefix, prioritizeVerb: 'prioritize-cpu', nodeCacheCapable: true, ignorable: true });
        expect(cpu.weight as number).toBeGreaterThan(0);
        for (const k of ['filterVerb', 'bindVerb', 'preemptVerb', 'managedResources']) expect(cpu[k], k).toBeUndefined();
      }
      const ext = exts[0];
      // preempt: kube-scheduler's own victims (in-tree reasons) are checked, or completed, for GPU shares
      expect(ext).toMatchObject({ filterVerb: 'filter', prioritizeVerb: 'prioritize', bindVerb: 'bind', preemptVerb: 'preempt', nodeCacheCapable: true, ignorable: false });
      expect(ext.weight).toBeTypeOf('number');
      expect(ext.weight as number).toBeGreaterThan(0);
      const timeout = goDurationMs(String(ext.httpTimeout));
      expect(timeout).toBeGreaterThan(0);
      expect(timeout).toBeLessThanOrEqual(30_000);
    });
    it(`${label}: managedResources cover every GPU resource gpu-ledger accounts for, counted by kube-scheduler too`, () => {
      const managed = asList(extenderOf(asRec(doc)).managedResources).map(asRec);
      const names = managed.map((m) => String(m.name));
      expect(new Set(names).size).toBe(names.length);
      for (const r of GPU_RESOURCES) expect(names, r).toContain(r);
      for (const [gpu, profiles] of Object.entries(MIG_PROFILES)) for (const p of profiles) expect(names, `${gpu} nvidia.com/mig-${p}`).toContain(`nvidia.com/mig-${p}`);
      for (const m of managed) {
        expect(m.ignoredByScheduler, String(m.name)).toBe(false);
        expect(isExtendedResourceName(String(m.name)), String(m.name)).toBe(true);
      }
    });
  }

  it('every NVIDIA resource that an example pod requests or a demo node offers is managed (else those pods skip the extender)', () => {
    const managed = new Set(asList(extenderOf(load('second-scheduler.yaml')).managedResources).map((m) => String(asRec(m).name)));
    const used = new Set<string>();
    const take = (m: unknown) => Object.keys(asRec(m)).filter((k) => k.startsWith('nvidia.com/')).forEach((k) => used.add(k));
    const visit = (o: unknown): void => {
      const obj = asRec(o);
      if (obj.kind === 'List') asList(obj.items).forEach(visit);
      if (obj.kind === 'Node') take(asRec(obj.status).capacity);
      if (obj.kind === 'Pod') {
        const spec = asRec(obj.spec);
        for (const c of [...asList(spec.containers), ...asList(spec.initContainers)]) {
          take(asRec(asRec(c).resources).requests);
          take(asRec(asRec(c).resources).limits);
        }
      }
    };
    for (const f of listFiles(join(REPO, 'examples'), ['.yaml'])) loadYamlDocs(f).forEach((d) => visit(d.doc));
    expect(used.size).toBeGreaterThan(3);
    for (const r of used) expect(managed, r).toContain(r);
  });

  it('second-scheduler.yaml: profile "gpu-ledger", its own lease, loopback HTTP on the sidecar port', () => {
    const doc = load('second-scheduler.yaml');
    expect(asList(doc.profiles).map((p) => asRec(p).schedulerName)).toEqual(['gpu-ledger']);
    expect(asRec(asList(doc.profiles)[0]).percentageOfNodesToScore).toBe(100);
    expect(doc.leaderElection).toMatchObject({ leaderElect: true, resourceLock: 'leases', resourceName: 'gpu-ledger', resourceNamespace: 'gpu-ledger' });
    expect(doc.podInitialBackoffSeconds).toBe(1);
    expect(doc.podMaxBackoffSeconds).toBe(10);
    const ext = extenderOf(doc);
    expect(ext.urlPrefix).toBe('http://127.0.0.1:8888');
    expect(ext.enableHTTPS ?? false).toBe(false);
    expect(ext.tlsConfig).toBeUndefined();
    expect(ext.httpTimeout).toBe('5s');
    expect(ext.weight).toBe(10);
  });

  it('second-scheduler-mtls.yaml: https with a client certificate, and the server verified against a CA', () => {
    const ext = extenderOf(load('second-scheduler-mtls.yaml'));
    // the scheme comes from urlPrefix; enableHTTPS alone does not switch to https
    expect(ext.urlPrefix).toBe('https://127.0.0.1:8888');
    expect(ext.enableHTTPS).toBe(true);
    const tls = asRec(ext.tlsConfig);
    // enableHTTPS without caFile/caData silently turns verification off (insecure)
    expect(tls.caFile ?? tls.caData).toBeTruthy();
    expect(tls.insecure ?? false).toBe(false);
    for (const f of ['certFile', 'keyFile', 'caFile']) expect(String(tls[f]), f).toMatch(/^\/etc\/gpu-ledger\/tls\//);
  });

  it('the three files differ only where they must (no drift between copies)', () => {
    const plain = load('second-scheduler.yaml');
    const mtls = load('second-scheduler-mtls.yaml');
    const withoutTls = clone(mtls);
    const ext = extenderOf(withoutTls);
    ext.urlPrefix = 'http://127.0.0.1:8888';
    ext.enableHTTPS = false;
    delete ext.tlsConfig;
    expect(withoutTls).toEqual(plain);
    const dflt = load('default-scheduler.yaml');
    expect(asList(dflt.extenders)[0]).toEqual(asList(plain.extenders)[0]);
    expect(asList(dflt.profiles).map((p) => asRec(p).schedulerName)).toEqual(['default-scheduler']);
    expect(asRec(dflt.leaderElection).resourceName).toBeUndefined();
  });
});

describe('the strict checker', () => {
  const good = load('second-scheduler.yaml');

  it('accepts the shipped file and rejects a misspelled extender field, as kube-scheduler would', () => {
    expect(checkKubeSchedulerConfiguration(good)).toEqual([]);
    const bad = clone(good);
    extenderOf(bad).nodeCacheCapabel = true;
    expect(checkKubeSchedulerConfiguration(bad)).toEqual(['extenders[0].nodeCacheCapabel: unknown field (did you mean "nodeCacheCapable"?)']);
  });

  it('is case-sensitive like the real decoder (urlprefix is not urlPrefix)', () => {
    const bad = clone(good);
    const ext = extenderOf(bad);
    ext.urlprefix = ext.urlPrefix;
    delete ext.urlPrefix;
    expect(checkKubeSchedulerConfiguration(bad)).toEqual(['extenders[0].urlprefix: unknown field (did you mean "urlPrefix"?)']);
  });

  it('checks types: durations are strings, ints are ints, bools are bools', () => {
    const bad = clone(good);
    const ext = extenderOf(bad);
    ext.httpTimeout = 5;
    ext.weight = '5';
    ext.ignorable = 'false';
    asRec(bad.leaderElection).leaseDuration = '15 seconds';
    bad.podMaxBackoffSeconds = 1.5;
    asRec(asList(ext.managedResources)[0]).ignoredByScheduler = 0;
    expect(checkKubeSchedulerConfiguration(bad)).toEqual([
      'extenders[0].httpTimeout: expected duration, got 5',
      'extenders[0].ignorable: expected bool, got "false"',
      'extenders[0].managedResources[0].ignoredByScheduler: expected bool, got 0',
      'extenders[0].weight: expected int64, got "5"',
      'leaderElection.leaseDuration: expected duration, got "15 seconds"',
      'podMaxBackoffSeconds: expected int64, got 1.5',
    ]);
  });

  it('rejects fields v1 does not have at 1.30 (flag-only or removed settings)', () => {
    for (const field of NOT_IN_V1_30) {
      const bad = { ...clone(good), [field]: field.endsWith('Address') ? '0.0.0.0:10251' : field.endsWith('Duration') ? '60s' : 50 };
      expect(checkKubeSchedulerConfiguration(bad), field).toEqual([`${field}: unknown field`]);
    }
    const placement = clone(good);
    asRec(asList(placement.profiles)[0]).plugins = { placementScore: { enabled: [{ name: 'X' }] } };
    expect(checkKubeSchedulerConfiguration(placement)).toEqual(['profiles[0].plugins.placementScore: unknown field']);
  });

  it('checks apiVersion and kind', () => {
    expect(checkKubeSchedulerConfiguration({ ...clone(good), apiVersion: 'kubescheduler.config.k8s.io/v1beta3' })).toEqual(['apiVersion: expected kubescheduler.config.k8s.io/v1, got "kubescheduler.config.k8s.io/v1beta3"']);
    expect(checkKubeSchedulerConfiguration({ ...clone(good), kind: 'KubeSchedulerConfig' })).toEqual(['kind: expected KubeSchedulerConfiguration, got "KubeSchedulerConfig"']);
  });

  it('accepts every documented field with a value of its type', () => {
    const full = {
      apiVersion: 'kubescheduler.config.k8s.io/v1',
      kind: 'KubeSchedulerConfiguration',
      parallelism: 16,
      leaderElection: { leaderElect: true, leaseDuration: '15s', renewDeadline: '10s', retryPeriod: '2s', resourceLock: 'leases', resourceName: 'x', resourceNamespace: 'y' },
      clientConnection: { kubeconfig: '/k', acceptContentTypes: '', contentType: 'application/vnd.kubernetes.protobuf', qps: 50, burst: 100 },
      enableProfiling: true,
      enableContentionProfiling: false,
      percentageOfNodesToScore: 0,
      podInitialBackoffSeconds: 1,
      podMaxBackoffSeconds: 10,
      delayCacheUntilActive: false,
      profiles: [
        {
          schedulerName: 's',
          percentageOfNodesToScore: 50,
          plugins: { multiPoint: { enabled: [{ name: 'A', weight: 2 }], disabled: [{ name: '*' }] }, score: { disabled: [{ name: 'ImageLocality' }] } },
          pluginConfig: [{ name: 'NodeResourcesFit', args: { scoringStrategy: { type: 'MostAllocated' } } }],
        },
      ],
      extenders: [{ ...extenderOf(good), preemptVerb: 'preempt', enableHTTPS: true, tlsConfig: { insecure: false, serverName: 'x', certFile: 'a', keyFile: 'b', caFile: 'c', certData: 'QUJD', keyData: 'QUJD', caData: 'QUJD' } }],
    };
    expect(checkKubeSchedulerConfiguration(full)).toEqual([]);
    expect(validateKubeSchedulerConfiguration(full)).toEqual([]);
  });

  it('validation: weight with prioritizeVerb, one binder, resource names, lease timing', () => {
    const bad = clone(good);
    const ext = extenderOf(bad);
    ext.weight = 0;
    asList(ext.managedResources).push({ name: 'gpu', ignoredByScheduler: false }, { name: 'kubernetes.io/foo', ignoredByScheduler: false });
    asList(bad.extenders).push({ urlPrefix: 'http://x', bindVerb: 'bind' });
    asRec(bad.leaderElection).renewDeadline = '20s';
    expect(validateKubeSchedulerConfiguration(bad).sort()).toEqual([
      'extenders: found 2 extenders implementing bind (at most one)',
      `extenders[0].managedResources[${asList(ext.managedResources).length - 2}].name: "gpu" is not a valid extended resource name`,
      `extenders[0].managedResources[${asList(ext.managedResources).length - 1}].name: "kubernetes.io/foo" is not a valid extended resource name`,
      'extenders[0].weight: must be positive when prioritizeVerb is set',
      'leaderElection.leaseDuration: must be greater than renewDeadline',
    ]);
  });

  it('parses Go durations', () => {
    expect(goDurationMs('5s')).toBe(5000);
    expect(goDurationMs('1m30s')).toBe(90_000);
    expect(goDurationMs('1.5h')).toBe(5_400_000);
    expect(goDurationMs('0')).toBe(0);
    expect(() => goDurationMs('5')).toThrow();
  });
});
