// Priority preemption for GPU shares, on the real kube-apiserver and kube-scheduler with the shipped
// scheduler configuration. kube-scheduler's own preemption dry run runs only in-tree filters: it
// sees free replicas and no GPU memory, so it never proposes a victim for a GPU-share shortage.
// gpu-ledger --preemption does it itself: Eviction API, a nomination holding the freed share for the
// preemptor, Events, metrics.
//
// gpu-ledger runs under the ClusterRole gpu-ledger alone (deploy/manifests/base/rbac.yaml applied
// with kubectl), so every API call preemption makes is checked by the real RBAC authorizer.
//
// There is no kubelet: an evicted pod gets a deletionTimestamp and stays. Until the test finishes
// its deletion (grace period 0, as a kubelet would once the container stopped) the victim still
// holds its GPU share in the ledger, and the preemptor is not bound.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PatchStrategy, PolicyV1Api, RbacAuthorizationV1Api, SchedulingV1Api, setHeaderOptions, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { expect, it } from 'vitest';
import { binary, controlPlane, REPO, type E2eEnv } from './control-plane.js';
import { demoNodeAs, mpsPod, statusOf, type Cluster } from './kube.js';
import { gauge, pods as ledgerPods } from './ledger-view.js';
import { describeE2e, scenario, type Scenario } from './scenario.js';
import type { SchedulerOptions } from './scheduler.js';
import { until } from './wait.js';

const run = promisify(execFile);
const GiB = 2 ** 30;
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const ROLE_ONLY_USER = 'e2e:gpu-ledger-preemption';

/** Seeds 002 and 004: production inference over research. */
const CLASSES = [
  { name: 'research', value: 100 },
  { name: 'training', value: 500 },
  { name: 'production-inference', value: 1000 },
  { name: 'production-no-preempt', value: 1000, preemptionPolicy: 'Never' },
];

async function ignore409(p: Promise<unknown>): Promise<void> {
  await p.catch((err: unknown) => {
    if (statusOf(err) !== 409) throw err;
  });
}

/** Priority classes, the base RBAC, and a kubeconfig for a user bound to ClusterRole gpu-ledger only. */
async function prepare(cluster: Cluster, e: E2eEnv): Promise<string> {
  const scheduling = cluster.kc.makeApiClient(SchedulingV1Api);
  for (const c of CLASSES) await ignore409(scheduling.createPriorityClass({ body: { metadata: { name: c.name }, value: c.value, ...(c.preemptionPolicy ? { preemptionPolicy: c.preemptionPolicy } : {}) } }));
  const manifests = ['namespace.yaml', 'serviceaccount.yaml', 'rbac.yaml'].map((f) => join(REPO, 'deploy/manifests/base', f));
  await run(binary(e, 'kubectl'), ['--kubeconfig', e.kubeconfig, 'apply', ...manifests.flatMap((f) => ['-f', f])], { timeout: 60_000 });
  const rbac = cluster.kc.makeApiClient(RbacAuthorizationV1Api);
  await ignore409(
    rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'e2e-gpu-ledger-preemption' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'gpu-ledger' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: ROLE_ONLY_USER }],
      },
    }),
  );
  return controlPlane(e.script, ['kubeconfig-for', e.dir, ROLE_ONLY_USER]);
}

/** A GB10 MPS pod of a priority class: `mem` GiB pinned, `threads` %. */
function gpuPod(s: Scenario, name: string, priorityClassName: string, mem: number, threads: number, labels: Record<string, string> = {}): V1Pod {
  const p = mpsPod(s.ns, name, s.schedulerName, { mem: `0=${mem}G`, threads });
  p.spec!.priorityClassName = priorityClassName;
  p.metadata!.labels = { app: name, ...labels };
  return p;
}

/** The demo cluster's GB10 (128 GiB, MPS ×10) under another name. */
const gb10 = (name: string): V1Node => demoNodeAs('spark-01', name);

function preemptionScenario(prefix: string, nodes: string[], settings: { cooldownMs?: number } = {}, scheduler: SchedulerOptions = {}): Scenario {
  return scenario(
    prefix,
    () => nodes.map(gb10),
    async (cluster, e) => ({ ledger: { kubeconfig: await prepare(cluster, e), preemption: true, preemptionSettings: settings }, scheduler }),
  );
}

async function create(s: Scenario, ...list: V1Pod[]): Promise<void> {
  await Promise.all(list.map((p) => s.cluster.createPod(p)));
}

/** Names of the scenario's pods with a deletionTimestamp (evicted, waiting for a kubelet that never comes). */
async function terminating(s: Scenario): Promise<string[]> {
  return (await s.cluster.core.listNamespacedPod({ namespace: s.ns })).items.filter((p) => p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!).sort();
}

/** What a kubelet does once the containers stopped: the deletion finishes. */
async function finishDeletion(s: Scenario, name: string): Promise<void> {
  await s.cluster.forceDelete(s.ns, name);
  await s.cluster.deleted(s.ns, name);
}

/** The messages of a pod's events with this reason; undefined while there are none (for until()). */
async function events(s: Scenario, name: string, reason: string): Promise<string[] | undefined> {
  const p = await s.cluster.pod(s.ns, name);
  if (!p) return undefined;
  const l = await s.cluster.core.listNamespacedEvent({ namespace: s.ns, fieldSelector: `involvedObject.uid=${p.metadata!.uid},reason=${reason}` });
  return l.items.length > 0 ? l.items.map((e) => e.message ?? '') : undefined;
}

async function metric(s: Scenario, line: string): Promise<number> {
  const text = await (await fetch(`${s.ledger.statusUrl}/metrics`)).text();
  const m = text.split('\n').find((l) => l.startsWith(`${line} `));
  return m ? Number(m.split(' ')[1]) : 0;
}

const memory = (s: Scenario, node = 'spark-9533') => gauge(s.ledger, 'gpu_memory_allocated_bytes', { node, gpu: '0' });

describeE2e('preemption for GPU shares: research pods make room for production inference', () => {
  const s = preemptionScenario('preempt', ['spark-9533']);

  it('a GB10 with two research pods of 64Gi / 50 %: a production pod evicts exactly one and is bound once it is gone', async () => {
    await create(s, gpuPod(s, 'research-a', 'research', 64, 50), gpuPod(s, 'research-b', 'research', 64, 50));
    expect(await s.cluster.bound(s.ns, 'research-a')).toBe('spark-9533');
    expect(await s.cluster.bound(s.ns, 'research-b')).toBe('spark-9533');
    await create(s, gpuPod(s, 'llama', 'production-inference', 64, 50));

    const [victim] = await until(async () => {
      const t = await terminating(s);
      return t.length > 0 ? t : undefined;
    }, 'a research pod evicted');
    expect(['research-a', 'research-b']).toContain(victim);
    // Until its deletion finishes the victim still holds its share; the production pod waits.
    expect(ledgerPods(s.ledger).find((p) => p.pod === `${s.ns}/${victim}`)).toMatchObject({ state: 'bound', node: 'spark-9533' });
    expect(ledgerPods(s.ledger).find((p) => p.pod === `${s.ns}/llama`)).toMatchObject({ state: 'nominated', node: 'spark-9533' });
    // Both research pods and the share held for llama: 192Gi accounted on a 128Gi GPU until the victim is gone.
    expect(await memory(s)).toBe(192 * GiB);
    expect((await s.cluster.pod(s.ns, 'llama'))?.spec?.nodeName).toBeUndefined();
    expect(await terminating(s)).toEqual([victim]);
    // What kubectl describe shows meanwhile: kube-scheduler retries with its backoff and says why.
    const waiting = `gpu-ledger: preempted for this pod on spark-9533: waiting for ${s.ns}/${victim} to terminate`;
    await until(async () => (await s.cluster.failedSchedulingMessages(s.ns, 'llama')).includes(waiting), `FailedScheduling "${waiting}"`);
    const onVictim = await until(() => events(s, victim, 'Preempted'), 'the Preempted event on the victim');
    expect(onVictim).toEqual([`preempted by gpu-ledger for ${s.ns}/llama: frees 64Gi / 50% on spark-9533 GPU 0`]);

    const explained = (await (await fetch(`${s.ledger.statusUrl}/explain/${s.ns}/llama`)).json()) as { preemption: { state: string; node: string; waitsFor: string[] } };
    expect(explained.preemption).toMatchObject({ state: 'nominated', node: 'spark-9533', waitsFor: [`${s.ns}/${victim}`] });

    await finishDeletion(s, victim);
    expect(await s.cluster.bound(s.ns, 'llama', 30_000)).toBe('spark-9533');
    expect(await terminating(s)).toEqual([]);
    await until(async () => (await memory(s)) === 128 * GiB, 'the GB10 at 128Gi: one research pod and the production pod');
    expect(await metric(s, 'gpu_ledger_preemption_victims_total{outcome="evicted"}')).toBe(1);
    expect(await metric(s, 'gpu_ledger_preemptions_total{outcome="preempted"}')).toBe(1);

    const survivor = victim === 'research-a' ? 'research-b' : 'research-a';
    expect((await s.cluster.pod(s.ns, survivor))?.metadata?.deletionTimestamp).toBeUndefined();
    const onPreemptor = await until(() => events(s, 'llama', 'Preempting'), 'the Preempting event on the production pod');
    expect(onPreemptor).toEqual([`gpu-ledger preempts 1 pod(s) on spark-9533 for this pod: ${s.ns}/${victim}; frees 64Gi / 50% on spark-9533 GPU 0`]);
  });

  it('an equal-priority pod preempts nothing; a higher-priority pod with preemptionPolicy Never waits', async () => {
    // The GB10 is full: one research pod and the production pod, 64Gi each.
    await create(s, gpuPod(s, 'research-c', 'research', 64, 50), gpuPod(s, 'prod-never', 'production-no-preempt', 64, 50));
    const equal = await s.cluster.failedSchedulingMessages(s.ns, 'research-c');
    expect(equal[equal.length - 1]).toBe(
      '0/1 nodes are available: 1 gpu-ledger: MPS memory overcommit (pod needs 64Gi on one GPU). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
    );
    const never = await s.cluster.failedSchedulingMessages(s.ns, 'prod-never');
    expect(never[never.length - 1]).toBe('0/1 nodes are available: 1 gpu-ledger: MPS memory overcommit (pod needs 64Gi on one GPU). preemption: not eligible due to preemptionPolicy=Never.');
    const explain = async (name: string) => ((await (await fetch(`${s.ledger.statusUrl}/explain/${s.ns}/${name}`)).json()) as { preemption: { state: string; text: string } }).preemption;
    expect(await explain('research-c')).toMatchObject({ state: 'no-candidate', text: 'preemption cannot help: no node where evicting lower-priority pods (priority < 100) makes room' });
    expect(await explain('prod-never')).toMatchObject({ state: 'never' });
    expect(await terminating(s)).toEqual([]);
    expect(await metric(s, 'gpu_ledger_preemption_victims_total{outcome="evicted"}')).toBe(1);
    expect(await memory(s)).toBe(128 * GiB);
  });
});

describeE2e('preemption and PodDisruptionBudgets', () => {
  // A short back-off, so the retry after the budget's refusal does not wait for the default 5 s.
  const s = preemptionScenario('preempt-pdb', ['spark-pdb-a'], { cooldownMs: 500 });
  const policy = () => s.cluster.kc.makeApiClient(PolicyV1Api);

  it('an eviction the budget forbids (429) leaves the pod pending with the reason; nothing else is evicted', async () => {
    // Bound by hand and Running: the Eviction API checks budgets only for running pods.
    await create(s, { ...gpuPod(s, 'research-a', 'research', 100, 50, { app: 'research' }), spec: { ...gpuPod(s, 'research-a', 'research', 100, 50).spec!, nodeName: 'spark-pdb-a' } });
    await s.cluster.core.patchNamespacedPodStatus({ namespace: s.ns, name: 'research-a', body: { status: { phase: 'Running' } } }, merge);
    await policy().createNamespacedPodDisruptionBudget({ namespace: s.ns, body: { metadata: { name: 'research' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'research' } } } } });
    // No controller-manager computes the budget: its status says one disruption is allowed (so gpu-ledger
    // prefers this node), but the API server, seeing a status older than the budget, refuses with 429.
    await policy().patchNamespacedPodDisruptionBudgetStatus(
      { namespace: s.ns, name: 'research', body: { status: { disruptionsAllowed: 1, currentHealthy: 0, desiredHealthy: 1, expectedPods: 1, observedGeneration: 0 } } },
      merge,
    );
    await until(async () => ledgerPods(s.ledger).some((p) => p.pod === `${s.ns}/research-a`), 'research-a in the ledger');
    await create(s, gpuPod(s, 'llama', 'production-inference', 64, 50));
    const blocked = await until(() => events(s, 'llama', 'PreemptionBlocked'), 'a PreemptionBlocked event on llama');
    expect(blocked[0]).toBe(
      `gpu-ledger cannot preempt for this pod: evicting ${s.ns}/research-a on spark-pdb-a was refused (429: Cannot evict pod as it would violate the pod's disruption budget. (The disruption budget research is still being processed by the server.))`,
    );
    expect(await metric(s, 'gpu_ledger_preemption_victims_total{outcome="blocked"}')).toBeGreaterThanOrEqual(1);
    expect(await terminating(s)).toEqual([]);
    expect((await s.cluster.pod(s.ns, 'llama'))?.spec?.nodeName).toBeUndefined();
    expect(ledgerPods(s.ledger).find((p) => p.pod === `${s.ns}/llama`)).toBeUndefined();
  });

  it('with another candidate node, the refusal moves the preemption there', async () => {
    // The second GB10 comes cordoned, its training pod (priority 500) bound by hand, then opens.
    await s.cluster.createNode({ ...gb10('spark-pdb-b'), spec: { unschedulable: true } });
    await create(s, { ...gpuPod(s, 'training-b', 'training', 100, 50), spec: { ...gpuPod(s, 'training-b', 'training', 100, 50).spec!, nodeName: 'spark-pdb-b' } });
    await until(async () => ledgerPods(s.ledger).some((p) => p.pod === `${s.ns}/training-b` && p.node === 'spark-pdb-b'), 'training-b in the ledger');
    await s.cluster.core.patchNode({ name: 'spark-pdb-b', body: { spec: { unschedulable: false } } }, merge);
    await until(async () => ((await terminating(s)).includes('training-b') ? true : undefined), 'training-b evicted', 60_000);
    // research (100) was tried first again — lower than training (500) — and refused again.
    expect(await terminating(s)).toEqual(['training-b']);
    expect(ledgerPods(s.ledger).find((p) => p.pod === `${s.ns}/llama`)).toMatchObject({ state: 'nominated', node: 'spark-pdb-b' });
    await finishDeletion(s, 'training-b');
    expect(await s.cluster.bound(s.ns, 'llama', 30_000)).toBe('spark-pdb-b');
    expect((await s.cluster.pod(s.ns, 'research-a'))?.metadata?.deletionTimestamp).toBeUndefined();
  });
});

describeE2e('two preemptors racing for one node', () => {
  const s = preemptionScenario('preempt-race', ['spark-race']);

  it('room for one: both research pods are evicted once, one preemptor is bound, the other stays pending', async () => {
    await create(s, gpuPod(s, 'research-a', 'research', 64, 50), gpuPod(s, 'research-b', 'research', 64, 50));
    await s.cluster.bound(s.ns, 'research-a');
    await s.cluster.bound(s.ns, 'research-b');
    await create(s, gpuPod(s, 'llama-1', 'production-inference', 100, 50), gpuPod(s, 'llama-2', 'production-inference', 100, 50));
    await until(async () => ((await terminating(s)).length === 2 ? true : undefined), 'both research pods evicted');
    const nominated = await until(async () => {
      const n = ledgerPods(s.ledger).filter((p) => p.state === 'nominated');
      return n.length > 0 ? n : undefined;
    }, 'a nomination');
    expect(nominated).toHaveLength(1);
    const winner = nominated[0].pod.split('/')[1];
    const loser = winner === 'llama-1' ? 'llama-2' : 'llama-1';
    await finishDeletion(s, 'research-a');
    await finishDeletion(s, 'research-b');
    expect(await s.cluster.bound(s.ns, winner, 30_000)).toBe('spark-race');
    const msgs = await until(async () => {
      const m = await s.cluster.failedSchedulingMessages(s.ns, loser);
      return m[m.length - 1]?.startsWith('0/1 nodes are available: 1 gpu-ledger: MPS memory overcommit') ? m : undefined;
    }, `${loser} refused for MPS memory`);
    expect(msgs.length).toBeGreaterThan(0);
    expect((await s.cluster.pod(s.ns, loser))?.spec?.nodeName).toBeUndefined();
    // Each victim evicted once, nothing else: the nomination and the victims already going were seen.
    expect(await metric(s, 'gpu_ledger_preemption_victims_total{outcome="evicted"}')).toBe(2);
    expect(await terminating(s)).toEqual([]);
  });
});

describeE2e('two preemptors racing for one node with room for both', () => {
  const s = preemptionScenario('preempt-race2', ['spark-race2'], { cooldownMs: 1_000 });

  it('each takes its own victim, none is evicted twice, both are bound', async () => {
    await create(s, gpuPod(s, 'research-a', 'research', 64, 50), gpuPod(s, 'research-b', 'research', 64, 50));
    await s.cluster.bound(s.ns, 'research-a');
    await s.cluster.bound(s.ns, 'research-b');
    await create(s, gpuPod(s, 'llama-1', 'production-inference', 64, 50), gpuPod(s, 'llama-2', 'production-inference', 64, 50));
    // The second one waits for the node's cool-down after the first eviction, then evicts the other pod.
    await until(async () => ((await terminating(s)).length === 2 ? true : undefined), 'both research pods evicted', 60_000);
    expect(ledgerPods(s.ledger).filter((p) => p.state === 'nominated').map((p) => p.pod).sort()).toEqual([`${s.ns}/llama-1`, `${s.ns}/llama-2`]);
    await finishDeletion(s, 'research-a');
    await finishDeletion(s, 'research-b');
    expect(await s.cluster.bound(s.ns, 'llama-1', 30_000)).toBe('spark-race2');
    expect(await s.cluster.bound(s.ns, 'llama-2', 30_000)).toBe('spark-race2');
    expect(await metric(s, 'gpu_ledger_preemption_victims_total{outcome="evicted"}')).toBe(2);
    expect(await memory(s, 'spark-race2')).toBe(128 * GiB);
  });
});

describeE2e("kube-scheduler's own preemption (an in-tree shortage) through the preempt verb", () => {
  const s = preemptionScenario('preempt-tree', ['spark-tree']);

  it('all ten replicas in use: kube-scheduler proposes one victim, gpu-ledger adds the four more the GPU memory needs', async () => {
    const research = Array.from({ length: 10 }, (_, i) => gpuPod(s, `research-${i}`, 'research', 12, 5));
    await create(s, ...research);
    for (const p of research) expect(await s.cluster.bound(s.ns, p.metadata!.name!)).toBe('spark-tree');
    // 10 of 10 replicas and 120 of 128Gi in use: kube-scheduler sees "Insufficient nvidia.com/gpu" and
    // finds one victim for it; one 12Gi pod would not make room for 64Gi.
    await create(s, gpuPod(s, 'llama', 'production-inference', 64, 50));
    const gone = await until(async () => {
      const t = await terminating(s);
      return t.length >= 5 ? t : undefined;
    }, 'kube-scheduler deleting its victims');
    expect(gone).toHaveLength(5);
    expect(gone.every((n) => n.startsWith('research-'))).toBe(true);
    expect(await until(async () => (await s.cluster.pod(s.ns, 'llama'))?.status?.nominatedNodeName, 'llama nominated by kube-scheduler')).toBe('spark-tree');
    // kube-scheduler deleted them (it does not use the Eviction API); gpu-ledger evicted nothing itself.
    expect(await metric(s, 'gpu_ledger_preemption_victims_total{outcome="evicted"}')).toBe(0);
    for (const n of gone) await finishDeletion(s, n);
    expect(await s.cluster.bound(s.ns, 'llama', 30_000)).toBe('spark-tree');
    expect(await memory(s, 'spark-tree')).toBe((5 * 12 + 64) * GiB);
    expect(await terminating(s)).toEqual([]);
  });
});

describeE2e('without the preemptVerb in the scheduler configuration', () => {
  const s = preemptionScenario('preempt-noverb', ['spark-noverb'], {}, { preemptVerb: false });

  it("gpu-ledger's own preemption for GPU shares works the same: kube-scheduler never calls the verb for it", async () => {
    await create(s, gpuPod(s, 'research-a', 'research', 64, 50), gpuPod(s, 'research-b', 'research', 64, 50));
    await s.cluster.bound(s.ns, 'research-a');
    await s.cluster.bound(s.ns, 'research-b');
    await create(s, gpuPod(s, 'llama', 'production-inference', 64, 50));
    const [victim] = await until(async () => {
      const t = await terminating(s);
      return t.length > 0 ? t : undefined;
    }, 'a research pod evicted');
    await finishDeletion(s, victim);
    expect(await s.cluster.bound(s.ns, 'llama', 30_000)).toBe('spark-noverb');
    expect(await terminating(s)).toEqual([]);
  });
});
