// Least privilege against the real RBAC authorizer: deploy/manifests/base's Namespace,
// ServiceAccount and RBAC objects applied with kubectl, a client certificate for the service
// account's user name and groups (what its token would authenticate as), and gpu-ledger and
// kube-scheduler run under it — kube-scheduler with the shipped leader election, so the lease
// Role is exercised too. Every call they make must succeed; a call outside the roles is Forbidden.
// A second identity bound to the ClusterRole gpu-ledger alone shows that role is enough for
// gpu-ledger by itself. (test/deploy/rbac.test.ts derives the role's rules from src/kube; this
// checks that the API server agrees.)

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, expect, it } from 'vitest';
import { binary, controlPlane, REPO } from './control-plane.js';
import { startLedger, type Ledger } from './gpu-ledger.js';
import { demoNode, kubeConfigFrom, mpsPod, statusOf } from './kube.js';
import { describeE2e, env, scenario } from './scenario.js';

const run = promisify(execFile);
const NS = 'gpu-ledger';
const SA_USER = `system:serviceaccount:${NS}:gpu-ledger`;
const SA_GROUPS = ['system:serviceaccounts', `system:serviceaccounts:${NS}`];
const ROLE_ONLY_USER = 'e2e:gpu-ledger-cluster-role-only';
const MANIFESTS = ['namespace.yaml', 'serviceaccount.yaml', 'rbac.yaml'].map((f) => join(REPO, 'deploy/manifests/base', f));

let saKubeconfig = '';

async function forbidden(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    expect(statusOf(err)).toBe(403);
    const body = (err as { body?: unknown }).body;
    return typeof body === 'string' ? (JSON.parse(body) as { message: string }).message : String((body as { message?: string })?.message);
  }
  throw new Error('expected 403 Forbidden, the call succeeded');
}

/** Warnings and errors gpu-ledger logged (pino levels ≥ 40). */
function problems(ledger: Ledger): string[] {
  return readFileSync(ledger.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && (JSON.parse(l) as { level: number }).level >= 40);
}

describeE2e('least privilege, checked by the real RBAC authorizer', () => {
  const s = scenario(
    'rbac',
    () => [demoNode('spark-01')],
    async (_cluster, e) => {
      await run(binary(e, 'kubectl'), ['--kubeconfig', e.kubeconfig, 'apply', ...MANIFESTS.flatMap((f) => ['-f', f])], { timeout: 60_000 });
      saKubeconfig = await controlPlane(e.script, ['kubeconfig-for', e.dir, SA_USER, ...SA_GROUPS]);
      return { ledger: { kubeconfig: saKubeconfig }, scheduler: { kubeconfig: saKubeconfig, leaderElection: true } };
    },
  );
  let roleOnly: Ledger | undefined;
  afterAll(async () => roleOnly?.stop());

  it('gpu-ledger and kube-scheduler under the service account: list, watch, filter, bind, get all succeed', async () => {
    await s.cluster.createPod(mpsPod(s.ns, 'model', s.schedulerName, { mem: '0=16G' }));
    expect(await s.cluster.bound(s.ns, 'model', 60_000)).toBe('spark-01');
    const pod = (await s.cluster.pod(s.ns, 'model'))!;
    // the annotations came with the Binding (pods/binding copies them onto the pod: one write)
    expect(pod.metadata?.annotations).toMatchObject({ 'gpu-ledger.io/gpus': '0', 'gpu-ledger.io/node': 'spark-01', 'gpu-ledger.io/memory': '0=16Gi' });
    // A repeated bind answers 409 from the API; gpu-ledger then reads the pod (pods get) and succeeds.
    const again = await fetch(`${s.ledger.url}/bind`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ PodName: 'model', PodNamespace: s.ns, PodUID: pod.metadata!.uid, Node: 'spark-01' }) });
    expect(await again.json()).toEqual({ Error: '' });
    expect(problems(s.ledger)).toEqual([]);
    // kube-scheduler: its lease (the shipped leader election) and not one Forbidden in its log.
    const log = readFileSync(join(env().dir, 'logs/scheduler.log'), 'utf8');
    expect(log).toContain(`successfully acquired lease ${NS}/gpu-ledger`);
    expect(log.split('\n').filter((l) => /forbidden/i.test(l))).toEqual([]);
  });

  it('a call outside the roles is Forbidden', async () => {
    const core = kubeConfigFrom(saKubeconfig).makeApiClient(CoreV1Api);
    expect(await forbidden(core.listNamespacedSecret({ namespace: NS }))).toBe(`secrets is forbidden: User "${SA_USER}" cannot list resource "secrets" in API group "" in the namespace "${NS}"`);
    expect(await forbidden(core.deleteNode({ name: 'spark-01' }))).toBe(`nodes "spark-01" is forbidden: User "${SA_USER}" cannot delete resource "nodes" in API group "" at the cluster scope`);
  });

  it('the ClusterRole gpu-ledger alone is enough for gpu-ledger, and grants nothing more', async () => {
    const e = env();
    const rbac = s.cluster.kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'e2e-gpu-ledger-role-only' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'gpu-ledger' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: ROLE_ONLY_USER }],
      },
    });
    const kubeconfig = await controlPlane(e.script, ['kubeconfig-for', e.dir, ROLE_ONLY_USER]);
    roleOnly = await startLedger(e, { kubeconfig });
    // Placed through its verbs directly (no scheduler points at this instance): filter, bind, bind again.
    const pod = await s.cluster.createPod(mpsPod(s.ns, 'direct', 'nobody-schedules-this', { mem: '0=8G' }));
    const post = async (verb: string, body: unknown) => (await fetch(`${roleOnly!.url}/${verb}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
    expect(await post('filter', { Pod: pod, Nodes: null, NodeNames: ['spark-01'] })).toMatchObject({ NodeNames: ['spark-01'] });
    const bind = { PodName: 'direct', PodNamespace: s.ns, PodUID: pod.metadata!.uid, Node: 'spark-01' };
    expect(await post('bind', bind)).toEqual({ Error: '' });
    expect(await post('bind', bind)).toEqual({ Error: '' });
    expect((await s.cluster.pod(s.ns, 'direct'))?.spec?.nodeName).toBe('spark-01');
    expect(problems(roleOnly)).toEqual([]);
    const core = kubeConfigFrom(kubeconfig).makeApiClient(CoreV1Api);
    expect(await forbidden(core.listNamespacedSecret({ namespace: NS }))).toContain(`User "${ROLE_ONLY_USER}" cannot list resource "secrets"`);
    // pods delete: kube-scheduler's role has it, gpu-ledger's does not
    expect(await forbidden(core.deleteNamespacedPod({ namespace: s.ns, name: 'direct' }))).toContain(`User "${ROLE_ONLY_USER}" cannot delete resource "pods"`);
  });
});
