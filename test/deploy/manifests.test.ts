// deploy/manifests: every YAML parses, kustomizations only refer to files that exist (and that
// kustomize will load), the gpu-ledger sidecar uses only real serve flags, probes hit /healthz and
// /readyz on its port, everything runs hardened, and the objects of each overlay fit together.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crossCheck, checkLedgerArgs, checkLedgerProbes, checkSecurity, LEDGER_CONTAINER, SCHEDULER_CONTAINER } from './crosscheck.js';
import { allDeployDocs, asRec, asStrings, containersOf, DEPLOY, deployYamlFiles, isLedgerConfigFile, isRec, kindOf, listFiles, loadYamlDocs, podSpecOf, REPO, rel } from './files.js';
import { assemble, checkKustomizationRefs, findKustomizationFile, hasKubectlKustomize, loadKustomization, overlayDirs, render } from './kustomize.js';

const MANIFESTS = join(DEPLOY, 'manifests');
const OVERLAYS = overlayDirs(MANIFESTS);
const KUSTOMIZATION_DIRS = listFiles(DEPLOY, ['kustomization.yaml']).map((f) => f.slice(0, -'/kustomization.yaml'.length));
const KUBECTL = hasKubectlKustomize();

describe('YAML under deploy/', () => {
  it('parses (every document; duplicate keys are errors)', () => {
    const files = deployYamlFiles();
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) expect(() => loadYamlDocs(f), rel(f)).not.toThrow();
  });

  it('every document is a Kubernetes object (apiVersion + kind) or a gpu-ledger config file', () => {
    for (const { file, index, doc } of allDeployDocs()) {
      expect(isRec(doc), `${rel(file)}#${index}`).toBe(true);
      if (isLedgerConfigFile(file)) continue;
      expect(asRec(doc).apiVersion, `${rel(file)}#${index}`).toBeTypeOf('string');
      expect(asRec(doc).kind, `${rel(file)}#${index}`).toBeTypeOf('string');
    }
  });
});

describe('kustomizations', () => {
  it('are the base, the components, the scheduler config and one overlay per setup', () => {
    expect(OVERLAYS.map((d) => d.split('/').pop()).sort()).toEqual(['a100-mig', 'dgx-spark', 'homelab-3090', 'mps-4gpu', 'mtls', 't4-timeslicing']);
    expect(KUSTOMIZATION_DIRS.map(rel).sort()).toEqual(
      ['deploy/manifests/base', 'deploy/manifests/components/mtls', 'deploy/manifests/components/servicemonitor', 'deploy/scheduler-config', ...OVERLAYS.map(rel)].sort(),
    );
  });

  for (const dir of KUSTOMIZATION_DIRS) {
    it(`${rel(dir)}: resources, components, patches and generator files exist and load`, () => {
      expect(checkKustomizationRefs(dir)).toEqual([]);
    });
  }

  for (const dir of OVERLAYS) {
    it(`${rel(dir)}: builds on the base`, () => {
      expect(asStrings(loadKustomization(dir).resources)).toContain('../../base');
    });
  }

  it('the reference check catches a missing file and a file outside the root', () => {
    const tmp = join(REPO, 'test/deploy');
    expect(findKustomizationFile(tmp)).toBeUndefined();
    // the base refers to ../../scheduler-config, a kustomization directory: allowed
    expect(checkKustomizationRefs(join(MANIFESTS, 'base'))).toEqual([]);
  });
});

describe('the gpu-ledger sidecar', () => {
  const sidecars = allDeployDocs().flatMap(({ file, doc }) => {
    const spec = podSpecOf(doc);
    return spec ? containersOf(spec).filter((c) => c.name === LEDGER_CONTAINER && c.container.args !== undefined).map((c) => ({ file, c })) : [];
  });

  it('appears in the base Deployment and the mTLS patch', () => {
    expect(sidecars.map((s) => rel(s.file)).sort()).toEqual(['deploy/manifests/base/deployment.yaml', 'deploy/manifests/components/mtls/deployment-mtls.yaml']);
  });

  for (const { file, c } of sidecars) {
    it(`${rel(file)}: every --flag is a serve flag (src/cli/flags.ts), values only on string flags`, () => {
      expect(checkLedgerArgs(asStrings(c.container.args))).toEqual([]);
    });
    it(`${rel(file)}: probes call /healthz and /readyz on the --port`, () => {
      expect(checkLedgerProbes(c.container)).toEqual([]);
    });
  }

  it('the args check rejects unknown flags, values on booleans and flags without values', () => {
    expect(checkLedgerArgs(['serve', '--prot=8888', '--preemption=true', '--host', '--log-level=debug', '--log-level=info'])).toEqual([
      '--prot: not a serve flag (known: snapshot, config, host, port, status-host, status-port, tls-cert, tls-key, client-ca, max-body, body-budget, max-connections, kubeconfig, api-timeout, bind-timeout, reservation-ttl, resync-period, preemption, log-level)',
      '--preemption: boolean flag takes no value (got "true"); omit it for false',
      '--host: needs a value',
      '--host: write --host=<value> (one list item per flag)',
      '--log-level: given twice',
    ]);
    expect(checkLedgerArgs(['--port=1'])).toEqual(['args[0] must be the "serve" command, got "--port=1"']);
    expect(checkLedgerArgs(['serve', '--preemption', '--port=8888'])).toEqual([]);
  });

  it('the probe check rejects a wrong path, a wrong port and TCP-only probes', () => {
    const c = {
      args: ['serve', '--port=9000'],
      ports: [{ name: 'http', containerPort: 8888 }],
      livenessProbe: { httpGet: { path: '/readyz', port: 9000 } },
      readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
      startupProbe: { tcpSocket: { port: 9000 } },
    };
    expect(checkLedgerProbes(c)).toEqual([
      'livenessProbe: path /readyz, want /healthz',
      'readinessProbe: port http is not --port 9000',
      'startupProbe: must call /readyz (httpGet or exec), not only open a socket',
    ]);
  });
});

describe('the base Deployment', () => {
  const base = allDeployDocs().find((d) => d.file.endsWith('manifests/base/deployment.yaml'));
  const spec = podSpecOf(base?.doc) ?? {};

  it('runs the pinned upstream kube-scheduler and gpu-ledger as a native sidecar, 2 replicas', () => {
    expect(asRec(asRec(base?.doc).spec).replicas).toBe(2);
    const cs = containersOf(spec);
    expect(cs.map((c) => `${c.init ? 'init' : 'main'}:${c.name}`)).toEqual([`init:${LEDGER_CONTAINER}`, `main:${SCHEDULER_CONTAINER}`]);
    const ledger = cs[0].container;
    expect(ledger.restartPolicy).toBe('Always');
    expect(asStrings(ledger.args)).toContain('--host=0.0.0.0');
    const sched = cs[1].container;
    expect(sched.image).toBe('registry.k8s.io/kube-scheduler:v1.30.6');
    expect(asStrings(sched.args)).toEqual(['--config=/etc/kubernetes/scheduler-config.yaml', '--pod-max-in-unschedulable-pods-duration=60s', '--v=2']);
  });

  it('is hardened: non-root, RuntimeDefault seccomp, read-only root, no privilege escalation, no capabilities', () => {
    expect(checkSecurity(spec)).toEqual([]);
  });

  it('the security check notices a missing hardening setting', () => {
    const weak = structuredClone(spec);
    const first = asRec(containersOf(weak)[0].container.securityContext);
    delete first.readOnlyRootFilesystem;
    asRec(weak.securityContext).runAsNonRoot = false;
    expect(checkSecurity(weak)).toEqual(['pod: securityContext.runAsNonRoot must be true', 'gpu-ledger: readOnlyRootFilesystem must be true']);
  });
});

describe('objects fit together (static assembly: resources + generators, no patches)', () => {
  it('base', () => {
    const a = assemble(join(MANIFESTS, 'base'));
    expect(a.unappliedPatches).toEqual([]);
    expect(crossCheck(a.docs)).toEqual([]);
  });
  for (const dir of OVERLAYS) {
    const a = assemble(dir);
    it.skipIf(a.unappliedPatches.length > 0)(`${rel(dir)}`, () => {
      expect(crossCheck(a.docs)).toEqual([]);
    });
  }
  it('the cross-check notices a port mismatch between the extender URL and the sidecar', () => {
    const a = assemble(join(MANIFESTS, 'base'));
    const dep = a.docs.find((d) => kindOf(d) === 'Deployment')!;
    const ledger = containersOf(podSpecOf(dep)!).find((c) => c.name === LEDGER_CONTAINER)!.container;
    ledger.args = asStrings(ledger.args).map((x) => (x === '--port=8888' ? '--port=9999' : x));
    expect(crossCheck(a.docs)).toContain('extender urlPrefix port 8888 ≠ gpu-ledger --port=9999');
  });
});

describe.skipIf(!KUBECTL)('kubectl kustomize renders', () => {
  for (const dir of [join(MANIFESTS, 'base'), ...OVERLAYS]) {
    it(`${rel(dir)}: builds, and the objects fit together`, () => {
      expect(crossCheck(render(dir))).toEqual([]);
    });
  }

  it('the mtls overlay: HTTPS extender, client CA on the sidecar, exec probes, both Secrets mounted', () => {
    const docs = render(join(MANIFESTS, 'overlays/mtls'));
    const dep = docs.find((d) => kindOf(d) === 'Deployment')!;
    const cs = containersOf(podSpecOf(dep)!);
    const ledger = cs.find((c) => c.name === LEDGER_CONTAINER)!.container;
    const sched = cs.find((c) => c.name === SCHEDULER_CONTAINER)!.container;
    expect(asStrings(ledger.args)).toEqual(expect.arrayContaining(['--tls-cert=/etc/gpu-ledger/tls/server/tls.crt', '--client-ca=/etc/gpu-ledger/tls/server/ca.crt']));
    expect(asStrings(sched.args)).toContain('--config=/etc/kubernetes/scheduler-config-mtls.yaml');
    for (const p of ['livenessProbe', 'readinessProbe', 'startupProbe']) expect(Object.keys(asRec(ledger[p])).filter((k) => ['httpGet', 'exec'].includes(k))).toEqual(['exec']);
  });

  it('the servicemonitor component fits the base', () => {
    const docs = [...render(join(MANIFESTS, 'base')), ...render(join(MANIFESTS, 'components/servicemonitor'))];
    expect(crossCheck(docs)).toEqual([]);
  });

  it('homelab runs one replica and its PDB allows drains', () => {
    const docs = render(join(MANIFESTS, 'overlays/homelab-3090'));
    expect(asRec(docs.find((d) => kindOf(d) === 'Deployment')!.spec).replicas).toBe(1);
    expect(asRec(docs.find((d) => kindOf(d) === 'PodDisruptionBudget')!.spec).minAvailable).toBe(0);
  });
});
