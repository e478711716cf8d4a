// deploy/manifests: every YAML parses, kustomizations only refer to files that exist (and that
// kustomize will load), the gpu-ledger sidecar uses only real serve flags, probes hit /healthz and
// /readyz on its status port, everything runs hardened, the objects of each overlay fit together,
// and the extender verbs are exposed nowhere but loopback (or behind mTLS to the scheduler pods).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVE_FLAGS } from '../../src/cli/flags.js';
import { crossCheck, checkLedgerArgs, checkLedgerProbes, checkSecurity, LEDGER_CONTAINER, SCHEDULER_CONTAINER } from './crosscheck.js';
import { allDeployDocs, asList, asRec, asStrings, containersOf, DEPLOY, deployYamlFiles, isLedgerConfigFile, isRec, kindOf, listFiles, loadYamlDocs, podSpecOf, REPO, rel } from './files.js';
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
      ['deploy/manifests/base', 'deploy/manifests/components/mtls', 'deploy/manifests/components/servicemonitor', 'deploy/manifests/components/viewer', 'deploy/scheduler-config', ...OVERLAYS.map(rel)].sort(),
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

/** The base sidecar (what a component's patch inherits probes and ports from). */
function baseLedger(): Record<string, unknown> {
  const base = allDeployDocs().find((d) => d.file.endsWith('manifests/base/deployment.yaml'));
  return containersOf(podSpecOf(base?.doc) ?? {}).find((c) => c.name === LEDGER_CONTAINER)!.container;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

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
    it(`${rel(file)}: probes call /healthz and /readyz on the --status-port`, () => {
      // A component's patch without probes keeps the base's (checked on the rendered overlay).
      const patchWithoutProbes = file.includes('/components/') && !['livenessProbe', 'readinessProbe', 'startupProbe'].some((p) => c.container[p] !== undefined);
      const base = baseLedger();
      const merged = { ...c.container, ...pick(base, ['livenessProbe', 'readinessProbe', 'startupProbe']), ports: [...asList(base.ports), ...asList(c.container.ports)] };
      expect(checkLedgerProbes(patchWithoutProbes ? merged : c.container)).toEqual([]);
    });
  }

  it('the args check rejects unknown flags, values on booleans and flags without values', () => {
    expect(checkLedgerArgs(['serve', '--prot=8888', '--preemption=true', '--host', '--log-level=debug', '--log-level=info'])).toEqual([
      `--prot: not a serve flag (known: ${SERVE_FLAGS.map((f) => f.name).join(', ')})`,
      '--preemption: boolean flag takes no value (got "true"); omit it for false',
      '--host: needs a value',
      '--host: write --host=<value> (one list item per flag)',
      '--log-level: given twice',
    ]);
    expect(checkLedgerArgs(['--port=1'])).toEqual(['args[0] must be the "serve" command, got "--port=1"']);
    expect(checkLedgerArgs(['serve', '--preemption', '--port=8888'])).toEqual([]);
  });

  it('the probe check rejects a wrong path, the extender port, HTTPS and TCP-only probes', () => {
    const c = {
      args: ['serve', '--port=8888', '--status-port=9000', '--tls-cert=/c', '--tls-key=/k'],
      ports: [
        { name: 'extender', containerPort: 8888 },
        { name: 'status', containerPort: 9000 },
      ],
      livenessProbe: { httpGet: { path: '/readyz', port: 9000 } },
      readinessProbe: { httpGet: { path: '/readyz', port: 'extender', scheme: 'HTTPS' } },
      startupProbe: { tcpSocket: { port: 9000 } },
    };
    expect(checkLedgerProbes(c)).toEqual([
      'livenessProbe: path /readyz, want /healthz',
      'readinessProbe: port extender is not --status-port 9000',
      'readinessProbe: scheme HTTPS but the status port serves plain HTTP',
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
    // the verbs on loopback only; the read-only status port on the pod IP
    expect(asStrings(ledger.args)).toEqual(expect.arrayContaining(['--host=127.0.0.1', '--port=8888', '--status-host=0.0.0.0', '--status-port=8889']));
    expect(asList(ledger.ports).map((p) => asRec(p).containerPort)).toEqual([8889]);
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

  it('the cross-check notices verbs exposed without mTLS, a Service or NetworkPolicy on the extender port, and a bind deadline over httpTimeout', () => {
    const a = assemble(join(MANIFESTS, 'base'));
    const dep = a.docs.find((d) => kindOf(d) === 'Deployment')!;
    const ledger = containersOf(podSpecOf(dep)!).find((c) => c.name === LEDGER_CONTAINER)!.container;
    ledger.args = asStrings(ledger.args).map((x) => (x === '--host=127.0.0.1' ? '--host=0.0.0.0' : x === '--bind-timeout=4s' ? '--bind-timeout=5s' : x));
    ledger.ports = [...asList(ledger.ports), { name: 'extender', containerPort: 8888 }];
    const svc = a.docs.find((d) => kindOf(d) === 'Service')!;
    asRec(asList(asRec(svc.spec).ports)[0]).targetPort = 'extender';
    const np = a.docs.find((d) => kindOf(d) === 'NetworkPolicy')!;
    asList(asRec(asList(asRec(np.spec).ingress)[0]).ports).push({ protocol: 'TCP', port: 8888 });
    const errors = crossCheck(a.docs);
    expect(errors).toContain('gpu-ledger --host=0.0.0.0 exposes the extender verbs beyond loopback without mTLS (--client-ca)');
    expect(errors).toContain("gpu-ledger --bind-timeout=5s is not below the extender's httpTimeout 5s: bind could outlive the scheduler's wait");
    expect(errors).toContain('Service gpu-ledger-metrics: targetPort extender is not gpu-ledger\'s status port 8889 (the verbs are behind no Service)');
    expect(errors).toContain('NetworkPolicy gpu-ledger: admits the extender port 8888, which serves the verbs without client certificates');
  });
});

describe.skipIf(!KUBECTL)('kubectl kustomize renders', () => {
  for (const dir of [join(MANIFESTS, 'base'), ...OVERLAYS]) {
    it(`${rel(dir)}: builds, and the objects fit together`, () => {
      expect(crossCheck(render(dir))).toEqual([]);
    });
  }

  it('the mtls overlay: HTTPS extender with client CA on all interfaces, admitted only from the scheduler pods; probes on the plain status port', () => {
    const docs = render(join(MANIFESTS, 'overlays/mtls'));
    const dep = docs.find((d) => kindOf(d) === 'Deployment')!;
    const cs = containersOf(podSpecOf(dep)!);
    const ledger = cs.find((c) => c.name === LEDGER_CONTAINER)!.container;
    const sched = cs.find((c) => c.name === SCHEDULER_CONTAINER)!.container;
    expect(asStrings(ledger.args)).toEqual(expect.arrayContaining(['--host=0.0.0.0', '--tls-cert=/etc/gpu-ledger/tls/server/tls.crt', '--client-ca=/etc/gpu-ledger/tls/server/ca.crt', '--status-port=8889']));
    expect(asStrings(sched.args)).toContain('--config=/etc/kubernetes/scheduler-config-mtls.yaml');
    for (const p of ['livenessProbe', 'readinessProbe', 'startupProbe']) expect(asRec(asRec(ledger[p]).httpGet).port).toBe('status');
    const np = docs.find((d) => kindOf(d) === 'NetworkPolicy')!;
    const rules = asList(asRec(np.spec).ingress).map(asRec);
    const toExtender = rules.filter((r) => asList(r.ports).some((p) => asRec(p).port === 8888));
    expect(toExtender).toHaveLength(1);
    expect(toExtender[0].from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'scheduler', 'app.kubernetes.io/name': 'gpu-ledger' } } }]);
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
