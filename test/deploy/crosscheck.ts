// Checks on a set of Kubernetes objects (a rendered overlay, or the statically assembled base):
// the sidecar's flags, probes, security settings, and that the objects fit together (config
// paths, ConfigMap keys, extender URL vs listen port, RBAC subjects, selectors, lease names), and
// exposure: the verbs stay on loopback unless mTLS protects them, only the read-only status port is
// behind the Service and open to the monitoring namespace, and bind's deadline fits httpTimeout.

import { posix } from 'node:path';
import { SERVE_FLAGS } from '../../src/cli/flags.js';
import { parseDuration } from '../../src/cli/serve.js';
import { parseConfig } from '../../src/model/config.js';
import { argValue, asList, asRec, asStrings, containersOf, isRec, kindOf, loadYamlText, nameOf, namespaceOf, parseLongArgs, podSpecOf, str, type ContainerRef, type Rec } from './files.js';
import { checkKubeSchedulerConfiguration, goDurationMs, validateKubeSchedulerConfiguration } from './strict-decode.js';

export const NAMESPACE = 'gpu-ledger';
export const LEDGER_CONTAINER = 'gpu-ledger';
export const SCHEDULER_CONTAINER = 'kube-scheduler';
/** The kube-scheduler the schema in kubescheduler-schema.ts is pinned to. */
export const KUBE_SCHEDULER_IMAGE = /^registry\.k8s\.io\/kube-scheduler:v1\.30\.\d+$/;
/** Secrets the user creates (docs/deploy.md "mTLS"): referenced but never rendered. */
export const USER_CREATED_SECRETS = new Set(['gpu-ledger-server-tls', 'gpu-ledger-client-tls']);

const FLAG = new Map(SERVE_FLAGS.map((f) => [f.name, f]));

/** Problems with a gpu-ledger container's args against SERVE_FLAGS (src/cli/flags.ts). */
export function checkLedgerArgs(args: readonly string[]): string[] {
  const errors: string[] = [];
  if (args[0] !== 'serve') errors.push(`args[0] must be the "serve" command, got ${JSON.stringify(args[0])}`);
  const { flags, positionals } = parseLongArgs(args.slice(1), (n) => FLAG.get(n)?.type === 'string');
  if (positionals.length > 0) errors.push(`unexpected positional args ${JSON.stringify(positionals)} (serve takes none)`);
  const seen = new Set<string>();
  for (const f of flags) {
    const spec = FLAG.get(f.name);
    if (!spec) {
      errors.push(`--${f.name}: not a serve flag (known: ${[...FLAG.keys()].join(', ')})`);
      continue;
    }
    if (spec.type === 'boolean' && f.value !== undefined) errors.push(`--${f.name}: boolean flag takes no value (got "${f.value}"); omit it for false`);
    if (spec.type === 'string' && (f.value === undefined || f.value === '')) errors.push(`--${f.name}: needs a value`);
    if (spec.type === 'string' && !f.inline) errors.push(`--${f.name}: write --${f.name}=<value> (one list item per flag)`);
    if (seen.has(f.name) && !spec.multiple) errors.push(`--${f.name}: given twice`);
    seen.add(f.name);
  }
  return errors;
}

/** The extender port (the verbs). */
export function ledgerPort(args: readonly string[]): number {
  return Number(argValue(args, 'port') ?? FLAG.get('port')?.default ?? '8888');
}

/** The read-only status port (probes, metrics, explain). */
export function statusPort(args: readonly string[]): number {
  return Number(argValue(args, 'status-port') ?? FLAG.get('status-port')?.default ?? '8889');
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The sidecar's setting or the flag's default. */
function setting(args: readonly string[], flag: string): string {
  return argValue(args, flag) ?? FLAG.get(flag)?.default ?? '';
}

function portNumber(container: Rec, port: unknown): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string') {
    const named = asList(container.ports).map(asRec).find((p) => p.name === port);
    return typeof named?.containerPort === 'number' ? named.containerPort : /^\d+$/.test(port) ? Number(port) : undefined;
  }
  return undefined;
}

/**
 * Probe problems for the gpu-ledger container: /healthz for liveness, /readyz for readiness and
 * startup, on the status port (plain HTTP whatever the extender port's TLS: it serves no verb).
 */
export function checkLedgerProbes(c: Rec): string[] {
  const errors: string[] = [];
  const args = asStrings(c.args);
  const port = statusPort(args);
  const want: Record<string, string> = { livenessProbe: '/healthz', readinessProbe: '/readyz', startupProbe: '/readyz' };
  for (const [probeName, path] of Object.entries(want)) {
    const probe = asRec(c[probeName]);
    if (Object.keys(probe).length === 0) {
      errors.push(`${probeName}: missing`);
      continue;
    }
    const handlers = ['httpGet', 'exec', 'tcpSocket', 'grpc'].filter((h) => isRec(probe[h]));
    if (handlers.length !== 1) errors.push(`${probeName}: needs exactly one handler, has ${handlers.join(', ') || 'none'}`);
    if (isRec(probe.httpGet)) {
      const h = probe.httpGet;
      if (h.path !== path) errors.push(`${probeName}: path ${String(h.path)}, want ${path}`);
      if (portNumber(c, h.port) !== port) errors.push(`${probeName}: port ${String(h.port)} is not --status-port ${port}`);
      const scheme = str(h.scheme) ?? 'HTTP';
      if (scheme !== 'HTTP') errors.push(`${probeName}: scheme ${scheme} but the status port serves plain HTTP`);
    } else if (isRec(probe.exec)) {
      const cmd = asStrings(probe.exec.command).join(' ');
      if (!cmd.includes(`'${path}'`) && !cmd.includes(`"${path}"`) && !cmd.includes(` ${path}`)) errors.push(`${probeName}: exec probe does not request ${path}`);
      if (!new RegExp(`port:\\s*${port}\\b|:${port}/`).test(cmd)) errors.push(`${probeName}: exec probe does not use --status-port ${port}`);
    } else {
      errors.push(`${probeName}: must call ${path} (httpGet or exec), not only open a socket`);
    }
  }
  return errors;
}

/** Pod Security "restricted" plus our own hardening rules, per container and for the pod. */
export function checkSecurity(podSpec: Rec): string[] {
  const errors: string[] = [];
  const psc = asRec(podSpec.securityContext);
  if (psc.runAsNonRoot !== true) errors.push('pod: securityContext.runAsNonRoot must be true');
  if (asRec(psc.seccompProfile).type !== 'RuntimeDefault') errors.push('pod: seccompProfile must be RuntimeDefault');
  if (typeof psc.runAsUser === 'number' && psc.runAsUser === 0) errors.push('pod: runAsUser 0');
  if (podSpec.hostNetwork === true || podSpec.hostPID === true || podSpec.hostIPC === true) errors.push('pod: host namespaces');
  for (const { name, container } of containersOf(podSpec)) {
    const sc = asRec(container.securityContext);
    if (sc.allowPrivilegeEscalation !== false) errors.push(`${name}: allowPrivilegeEscalation must be false`);
    if (sc.readOnlyRootFilesystem !== true) errors.push(`${name}: readOnlyRootFilesystem must be true`);
    if (!asStrings(asRec(sc.capabilities).drop).includes('ALL')) errors.push(`${name}: capabilities.drop must include ALL`);
    if (asStrings(asRec(sc.capabilities).add).length > 0) errors.push(`${name}: adds capabilities`);
    if (sc.privileged === true) errors.push(`${name}: privileged`);
    if (sc.runAsUser === 0) errors.push(`${name}: runAsUser 0`);
    const res = asRec(container.resources);
    if (!isRec(res.requests) || res.requests.cpu === undefined || res.requests.memory === undefined) errors.push(`${name}: resources.requests.cpu/memory missing`);
    if (!isRec(res.limits) || res.limits.memory === undefined) errors.push(`${name}: resources.limits.memory missing`);
  }
  return errors;
}

function selectorMatches(selector: Rec, labels: Rec): boolean {
  const ml = asRec(selector.matchLabels);
  const plain = Object.keys(selector).length > 0 && !('matchLabels' in selector) && !('matchExpressions' in selector) ? selector : ml;
  return Object.entries(plain).every(([k, v]) => labels[k] === v) && Object.keys(plain).length > 0;
}

export interface Pieces {
  deployment: Rec;
  podSpec: Rec;
  ledger: ContainerRef;
  scheduler: ContainerRef;
}

export function pieces(docs: readonly Rec[]): Pieces | string {
  const deployments = docs.filter((d) => kindOf(d) === 'Deployment');
  if (deployments.length !== 1) return `expected one Deployment, found ${deployments.length}`;
  const deployment = deployments[0];
  const podSpec = podSpecOf(deployment) ?? {};
  const cs = containersOf(podSpec);
  const ledger = cs.find((c) => c.name === LEDGER_CONTAINER);
  const scheduler = cs.find((c) => c.name === SCHEDULER_CONTAINER);
  if (!ledger || !scheduler) return `the Deployment needs containers ${LEDGER_CONTAINER} and ${SCHEDULER_CONTAINER}`;
  return { deployment, podSpec, ledger, scheduler };
}

/** The file a container sees at `path`, through its volume mounts and the ConfigMaps in `docs`. */
export function mountedConfigMapFile(docs: readonly Rec[], podSpec: Rec, container: Rec, path: string): { text?: string; error?: string } {
  const mount = asList(container.volumeMounts)
    .map(asRec)
    .filter((m) => typeof m.mountPath === 'string' && (path === m.mountPath || path.startsWith(`${String(m.mountPath).replace(/\/$/, '')}/`)))
    .sort((a, b) => String(b.mountPath).length - String(a.mountPath).length)[0];
  if (!mount) return { error: `${path}: no volume mounted there` };
  if (typeof mount.subPath === 'string') return { error: `${path}: subPath mounts do not receive ConfigMap updates; mount the directory` };
  const volume = asList(podSpec.volumes).map(asRec).find((v) => v.name === mount.name);
  if (!volume) return { error: `${path}: volume ${String(mount.name)} is not defined` };
  const cmName = str(asRec(volume.configMap).name);
  if (!cmName) return { error: `${path}: volume ${String(mount.name)} is not a ConfigMap` };
  let key = posix.relative(String(mount.mountPath), path);
  const items = asList(asRec(volume.configMap).items).map(asRec);
  if (items.length > 0) {
    const item = items.find((i) => i.path === key);
    if (!item) return { error: `${path}: not among the volume's items` };
    key = String(item.key);
  }
  const cm = docs.find((d) => kindOf(d) === 'ConfigMap' && nameOf(d) === cmName && (namespaceOf(d) ?? NAMESPACE) === NAMESPACE);
  if (!cm) return { error: `${path}: ConfigMap ${cmName} is not among the objects` };
  const text = asRec(cm.data)[key];
  if (typeof text !== 'string') return { error: `${path}: ConfigMap ${cmName} has no key ${key}` };
  return { text };
}

/** Everything that must hold together in one deployable set of objects. */
export function crossCheck(docs: readonly Rec[]): string[] {
  const errors: string[] = [];
  const p = pieces(docs);
  if (typeof p === 'string') return [p];
  const { deployment, podSpec, ledger, scheduler } = p;
  const podLabels = asRec(asRec(asRec(asRec(deployment.spec).template).metadata).labels);
  const ledgerArgs = asStrings(ledger.container.args);

  errors.push(...checkLedgerArgs(ledgerArgs).map((e) => `gpu-ledger args: ${e}`));
  errors.push(...checkLedgerProbes(ledger.container).map((e) => `gpu-ledger ${e}`));
  errors.push(...checkSecurity(podSpec));
  if (ledgerArgs.some((a) => a.startsWith('--snapshot'))) errors.push('gpu-ledger: --snapshot in a deployment (live mode expected)');
  if (!ledger.init || ledger.container.restartPolicy !== 'Always') errors.push('gpu-ledger: expected a native sidecar (init container with restartPolicy: Always)');
  if (!isRec(ledger.container.startupProbe)) errors.push('gpu-ledger: a startupProbe holds kube-scheduler back until the ledger is loaded');

  // kube-scheduler: image, --config → ConfigMap → strict KubeSchedulerConfiguration
  const schedArgs = [...asStrings(scheduler.container.command), ...asStrings(scheduler.container.args)];
  if (!KUBE_SCHEDULER_IMAGE.test(String(scheduler.container.image))) errors.push(`kube-scheduler image ${String(scheduler.container.image)} is not the pinned v1.30.x`);
  const unschedulable = argValue(schedArgs, 'pod-max-in-unschedulable-pods-duration');
  if (unschedulable === undefined) errors.push('kube-scheduler: --pod-max-in-unschedulable-pods-duration not set (default 5m delays retries after GPU capacity frees)');
  for (const a of schedArgs) if (/^--(leader-elect|lock-object|kubeconfig=|scheduler-name)/.test(a)) errors.push(`kube-scheduler: ${a} belongs in the config file`);
  const configPath = argValue(schedArgs, 'config');
  let schedConfig: Rec | undefined;
  if (!configPath) errors.push('kube-scheduler: no --config');
  else {
    const f = mountedConfigMapFile(docs, podSpec, scheduler.container, configPath);
    if (f.error) errors.push(`kube-scheduler --config ${f.error}`);
    else {
      schedConfig = asRec(loadYamlText(f.text ?? '')[0]);
      errors.push(...checkKubeSchedulerConfiguration(schedConfig).map((e) => `scheduler config: ${e}`));
      errors.push(...validateKubeSchedulerConfiguration(schedConfig).map((e) => `scheduler config: ${e}`));
    }
  }

  // gpu-ledger --config → ConfigMap → the real config parser
  const ledgerConfigPath = argValue(ledgerArgs, 'config');
  if (!ledgerConfigPath) errors.push('gpu-ledger: no --config');
  else {
    const f = mountedConfigMapFile(docs, podSpec, ledger.container, ledgerConfigPath);
    if (f.error) errors.push(`gpu-ledger --config ${f.error}`);
    else {
      try {
        parseConfig(f.text ?? '', ledgerConfigPath);
      } catch (err) {
        errors.push(`gpu-ledger config: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  // the extender URL reaches this sidecar
  const port = ledgerPort(ledgerArgs);
  const status = statusPort(ledgerArgs);
  const tls = argValue(ledgerArgs, 'tls-cert') !== undefined;
  const mtls = argValue(ledgerArgs, 'client-ca') !== undefined;
  const host = setting(ledgerArgs, 'host');
  if (port === status) errors.push(`gpu-ledger --port and --status-port are both ${port}`);
  // exposure: the verbs leave loopback only behind client certificates
  if (!LOOPBACK.has(host) && !mtls) errors.push(`gpu-ledger --host=${host} exposes the extender verbs beyond loopback without mTLS (--client-ca)`);
  if (LOOPBACK.has(setting(ledgerArgs, 'status-host'))) errors.push('gpu-ledger --status-host is loopback: kubelet probes and Prometheus come through the pod IP');
  if (schedConfig) {
    const extenders = asList(schedConfig.extenders).map(asRec);
    if (extenders.length !== 1) errors.push(`scheduler config: expected one extender, found ${extenders.length}`);
    for (const ext of extenders) {
      let url: URL | undefined;
      try {
        url = new URL(String(ext.urlPrefix));
      } catch {
        errors.push(`extender urlPrefix ${String(ext.urlPrefix)} is not a URL`);
      }
      if (url) {
        if (url.hostname !== '127.0.0.1') errors.push(`extender urlPrefix host ${url.hostname}: the sidecar is reached over loopback`);
        const bindMs = parseDuration(setting(ledgerArgs, 'bind-timeout'), '--bind-timeout');
        const httpMs = ext.httpTimeout === undefined ? 5000 : goDurationMs(String(ext.httpTimeout));
        if (!(bindMs < httpMs)) errors.push(`gpu-ledger --bind-timeout=${setting(ledgerArgs, 'bind-timeout')} is not below the extender's httpTimeout ${String(ext.httpTimeout ?? '5s')}: bind could outlive the scheduler's wait`);
        if (host !== '0.0.0.0' && host !== '127.0.0.1' && host !== '::') errors.push(`gpu-ledger --host=${host} is not reachable on 127.0.0.1`);
        if (Number(url.port || (url.protocol === 'https:' ? 443 : 80)) !== port) errors.push(`extender urlPrefix port ${url.port} ≠ gpu-ledger --port=${port}`);
        if ((url.protocol === 'https:') !== tls) errors.push(`extender urlPrefix ${url.protocol} but gpu-ledger ${tls ? 'serves TLS' : 'serves plain HTTP'}`);
      }
      const tc = asRec(ext.tlsConfig);
      if (tls) {
        for (const field of ['certFile', 'keyFile', 'caFile']) {
          const file = str(tc[field]);
          if (!file) errors.push(`extender tlsConfig.${field} missing`);
          else if (!isMounted(scheduler.container, file)) errors.push(`extender tlsConfig.${field} ${file} is not under a kube-scheduler volume mount`);
        }
      }
      for (const flag of ['tls-cert', 'tls-key', 'client-ca']) {
        const file = argValue(ledgerArgs, flag);
        if (file && !isMounted(ledger.container, file)) errors.push(`gpu-ledger --${flag}=${file} is not under a volume mount`);
      }
    }
    // leader election lease ↔ Role
    const le = asRec(schedConfig.leaderElection);
    if (le.leaderElect !== true) errors.push('scheduler config: leaderElection.leaderElect must be true (2 replicas)');
    const leaseName = str(le.resourceName) ?? 'kube-scheduler';
    const leaseNs = str(le.resourceNamespace) ?? 'kube-system';
    if (leaseName !== 'kube-scheduler' && !grantsLease(docs, leaseNs, leaseName, saName(podSpec))) errors.push(`no Role in ${leaseNs} lets the service account get/update lease ${leaseName}`);
  }

  // service account and its bindings
  const sa = saName(podSpec);
  if (!docs.some((d) => kindOf(d) === 'ServiceAccount' && nameOf(d) === sa && namespaceOf(d) === NAMESPACE)) errors.push(`ServiceAccount ${sa} missing`);
  for (const role of ['system:kube-scheduler', 'system:volume-scheduler', 'gpu-ledger']) {
    if (!bindings(docs, 'ClusterRoleBinding').some((b) => asRec(b.roleRef).name === role && bindsSa(b, sa))) errors.push(`no ClusterRoleBinding of ${role} to ${NAMESPACE}/${sa}`);
  }
  if (!bindings(docs, 'RoleBinding').some((b) => namespaceOf(b) === 'kube-system' && asRec(b.roleRef).name === 'extension-apiserver-authentication-reader' && bindsSa(b, sa))) errors.push('no RoleBinding of extension-apiserver-authentication-reader in kube-system');

  // selectors
  for (const d of docs) {
    const k = kindOf(d);
    if (k === 'Service' && !selectorMatches(asRec(asRec(d.spec).selector), podLabels)) errors.push(`Service ${nameOf(d)}: selector does not match the pods`);
    if (k === 'Service') {
      for (const sp of asList(asRec(d.spec).ports).map(asRec)) {
        if (portNumber(ledger.container, sp.targetPort) !== status) errors.push(`Service ${nameOf(d)}: targetPort ${String(sp.targetPort)} is not gpu-ledger's status port ${status} (the verbs are behind no Service)`);
      }
    }
    if (k === 'PodDisruptionBudget') {
      if (!selectorMatches(asRec(asRec(d.spec).selector), podLabels)) errors.push(`PodDisruptionBudget ${nameOf(d)}: selector does not match the pods`);
      const replicas = typeof asRec(deployment.spec).replicas === 'number' ? Number(asRec(deployment.spec).replicas) : 1;
      const min = asRec(d.spec).minAvailable;
      if (typeof min === 'number' && min >= replicas) errors.push(`PodDisruptionBudget ${nameOf(d)}: minAvailable ${min} with ${replicas} replica(s) blocks every drain`);
    }
    if (k === 'NetworkPolicy') {
      if (!selectorMatches(asRec(asRec(d.spec).podSelector), podLabels)) errors.push(`NetworkPolicy ${nameOf(d)}: podSelector does not match the pods`);
      const rules = asList(asRec(d.spec).ingress).map(asRec);
      const ports = rules.flatMap((r) => asList(r.ports).map((x) => portNumber(ledger.container, asRec(x).port)));
      if (!ports.includes(status)) errors.push(`NetworkPolicy ${nameOf(d)}: does not admit gpu-ledger's status port ${status} (metrics)`);
      for (const r of rules) {
        const rulePorts = asList(r.ports).map((x) => portNumber(ledger.container, asRec(x).port));
        // A rule without ports admits every port.
        if (rulePorts.length > 0 && !rulePorts.includes(port)) continue;
        if (!mtls) errors.push(`NetworkPolicy ${nameOf(d)}: admits the extender port ${port}, which serves the verbs without client certificates`);
        else if (!asList(r.from).length || asList(r.from).some((peer) => !isRec(asRec(peer).podSelector))) errors.push(`NetworkPolicy ${nameOf(d)}: admits the extender port ${port} beyond the scheduler pods (every peer needs a podSelector)`);
      }
    }
    if (k === 'ServiceMonitor') {
      const svcPorts = docs.filter((s) => kindOf(s) === 'Service').flatMap((s) => asList(asRec(s.spec).ports).map((x) => asRec(x).name));
      for (const ep of asList(asRec(d.spec).endpoints).map(asRec)) if (!svcPorts.includes(ep.port)) errors.push(`ServiceMonitor: port ${String(ep.port)} is not a Service port name`);
    }
  }

  // namespaces; referenced ConfigMaps and Secrets exist
  for (const d of docs) {
    const k = kindOf(d) ?? '';
    if (['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(k)) continue;
    const ns = namespaceOf(d);
    const allowed = k === 'RoleBinding' && ns === 'kube-system' && asRec(d.roleRef).name === 'extension-apiserver-authentication-reader';
    if (ns !== NAMESPACE && !allowed) errors.push(`${k} ${nameOf(d)}: namespace ${String(ns)}, want ${NAMESPACE}`);
  }
  const nsDoc = docs.find((d) => kindOf(d) === 'Namespace' && nameOf(d) === NAMESPACE);
  if (!nsDoc) errors.push(`Namespace ${NAMESPACE} missing`);
  else if (asRec(asRec(nsDoc.metadata).labels)['pod-security.kubernetes.io/enforce'] !== 'restricted') errors.push('Namespace: enforce the restricted Pod Security level');
  for (const v of asList(podSpec.volumes).map(asRec)) {
    const cm = str(asRec(v.configMap).name);
    if (cm && !docs.some((d) => kindOf(d) === 'ConfigMap' && nameOf(d) === cm)) errors.push(`volume ${String(v.name)}: ConfigMap ${cm} is not among the objects`);
    const secret = str(asRec(v.secret).secretName);
    if (secret && !USER_CREATED_SECRETS.has(secret) && !docs.some((d) => kindOf(d) === 'Secret' && nameOf(d) === secret)) errors.push(`volume ${String(v.name)}: Secret ${secret} is neither rendered nor documented as user-created`);
  }
  return errors;
}

function isMounted(container: Rec, file: string): boolean {
  return asList(container.volumeMounts)
    .map(asRec)
    .some((m) => typeof m.mountPath === 'string' && file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
}

function saName(podSpec: Rec): string {
  return str(podSpec.serviceAccountName) ?? 'default';
}

function bindings(docs: readonly Rec[], kind: string): Rec[] {
  return docs.filter((d) => kindOf(d) === kind);
}

function bindsSa(binding: Rec, sa: string): boolean {
  return asList(binding.subjects)
    .map(asRec)
    .some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === NAMESPACE);
}

function grantsLease(docs: readonly Rec[], namespace: string, lease: string, sa: string): boolean {
  const roles = docs.filter(
    (d) =>
      kindOf(d) === 'Role' &&
      namespaceOf(d) === namespace &&
      asList(d.rules)
        .map(asRec)
        .some((r) => asStrings(r.apiGroups).includes('coordination.k8s.io') && asStrings(r.resources).includes('leases') && ['get', 'update'].every((v) => asStrings(r.verbs).includes(v)) && asStrings(r.resourceNames).includes(lease)),
  );
  return roles.some((role) => bindings(docs, 'RoleBinding').some((b) => namespaceOf(b) === namespace && asRec(b.roleRef).kind === 'Role' && asRec(b.roleRef).name === nameOf(role) && bindsSa(b, sa)));
}
