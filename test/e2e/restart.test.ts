// gpu-ledger restarted with pods bound, reserved and pending: the ledger it rebuilds from the API
// (list/watch, pods placed on the GPUs their gpu-ledger.io/gpus annotation records) equals the one
// it had. The restart keeps the port, as a restarted sidecar does: kube-scheduler knows only that URL.

import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { expect, it } from 'vitest';
import { demoNode, mpsPod, variant } from './kube.js';
import { join } from 'node:path';
import { startApiGate } from './api-gate.js';
import { ready, startLedger, type Ledger } from './gpu-ledger.js';
import { dump, pods } from './ledger-view.js';
import { startExtenderProxy, type ExtenderProxy } from './extender-proxy.js';
import { describeE2e, env, scenario, type Scenario } from './scenario.js';
import { startScheduler } from './scheduler.js';
import { until } from './wait.js';

const EVENTS = {
  // mps-ind-01 offers nvidia.com/gpu0..3 only; on the time-sliced homelab the 40G env is the declared memory
  gb10Full:
    '0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 1 gpu-ledger: GPU too small (pod declares 40Gi per GPU), 1 gpu-ledger: MPS memory overcommit (pod needs 40Gi on one GPU). preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.',
};

async function apiPods(s: Scenario): Promise<V1Pod[]> {
  return (await s.cluster.core.listNamespacedPod({ namespace: s.ns })).items;
}

/** Every pod bound in the API is in the ledger as bound, on the GPUs its annotation records. */
async function ledgerMatchesApi(s: Scenario): Promise<boolean> {
  const bound = (await apiPods(s)).filter((p) => p.spec?.nodeName);
  const inLedger = new Map(pods(s.ledger).map((p) => [p.uid, p]));
  if (inLedger.size !== bound.length) return false;
  return bound.every((p) => {
    const l = inLedger.get(p.metadata!.uid!);
    return l?.state === 'bound' && l.node === p.spec!.nodeName && p.metadata?.annotations?.['gpu-ledger.io/node'] === p.spec!.nodeName;
  });
}

/** A pod update moves a pod out of kube-scheduler's unschedulable queue at once. */
async function poke(s: Scenario, name: string): Promise<void> {
  const body = { metadata: { labels: { 'e2e-poke': String(Date.now()) } } };
  await s.cluster.core.patchNamespacedPod({ namespace: s.ns, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

describeE2e('gpu-ledger restart', () => {
  const s = scenario('restart', () => ['spark-01', 'homelab-3090', 'mps-ind-01'].map(demoNode));

  it('with pods bound and pending: the rebuilt ledger equals the one before', async () => {
    // GB10: three 40G pods fit (120 of 128Gi), the fourth stays Pending. Homelab: models on both GPUs.
    // Individual MPS: tokens on GPU 1 and 3, so the GPUs recorded at bind matter.
    const mps = (name: string, mem: string, gpus?: Record<string, string>) => mpsPod(s.ns, name, s.schedulerName, { mem, gpus });
    const ts = (name: string, memory: string) => variant('timeslice-research.yaml', s.ns, name, { schedulerName: s.schedulerName, annotations: { 'gpu-ledger.io/gpu-memory': memory } });
    const bound = [mps('gb-a', '0=40G'), mps('gb-b', '0=40G'), mps('gb-c', '0=40G'), ts('ts-a', '20Gi'), ts('ts-b', '20Gi'), mps('ind-1', '0=15G', { 'nvidia.com/gpu1': '10' }), mps('ind-3', '0=15G', { 'nvidia.com/gpu3': '10' })];
    for (const p of bound) await s.cluster.createPod(p);
    for (const p of bound) await s.cluster.bound(s.ns, p.metadata!.name!);
    await s.cluster.createPod(mps('gb-pending', '0=40G'));
    const msgs = await s.cluster.failedSchedulingMessages(s.ns, 'gb-pending');
    expect(msgs[msgs.length - 1]).toBe(EVENTS.gb10Full);
    await until(() => ledgerMatchesApi(s), 'the ledger holding every bound pod as bound');
    const before = await dump(s.ledger);
    // kube-scheduler binds asynchronously: which of ts-a and ts-b reaches bind first (and so takes
    // GPU 0) is not fixed, so the time-sliced pair is checked as "one on each GPU".
    const lines = before.pods.map((p) => `${p.pod.split('/')[1]} ${p.node} ${p.gpus.join(',')}`);
    expect(lines.filter((l) => !l.startsWith('ts-'))).toEqual([
      'gb-a spark-01 0',
      'gb-b spark-01 0',
      'gb-c spark-01 0',
      'ind-1 mps-ind-01 1',
      'ind-3 mps-ind-01 3',
    ]);
    const homelab = before.pods.filter((p) => p.pod.split('/')[1]!.startsWith('ts-'));
    expect(homelab.map((p) => p.node)).toEqual(['homelab-3090', 'homelab-3090']);
    expect(homelab.map((p) => p.gpus.join(',')).sort()).toEqual(['0', '1']);

    await s.restartLedger();
    expect(await dump(s.ledger)).toEqual(before);
    // kube-scheduler goes on calling the restarted gpu-ledger: the pending pod is still refused.
    const beforeCount = msgs.length;
    await poke(s, 'gb-pending');
    const again = await until(async () => {
      const m = await s.cluster.failedSchedulingMessages(s.ns, 'gb-pending');
      return m.length > beforeCount ? m : undefined;
    }, 'a FailedScheduling event after the restart', 90_000);
    expect(again[again.length - 1]).toBe(EVENTS.gb10Full);
  });

  it('a pod kube-scheduler asks about while the restarted gpu-ledger is still loading is bound once it is ready', async () => {
    // The initial list is held at a gate in front of the API server: gpu-ledger cannot be ready.
    const gate = await startApiGate(env().kubeconfig, join(env().work, `kubeconfig-gated-${Date.now()}`));
    const url = s.ledger.url;
    let restarting: Promise<Ledger> | undefined;
    try {
      // Not awaited: a gpu-ledger that listens only once loaded would not return before the gate opens.
      restarting = s.restartLedger({ kubeconfig: gate.kubeconfig, waitReady: false });
      // Ask while it is listening and loading (today it listens at once; a build that listens only
      // when ready is given 3 s, then kube-scheduler meets a closed port instead).
      await until(async () => (await fetch(`${url}/`)).status > 0, 'the restarted gpu-ledger listening', 3000, 20).catch(() => undefined);
      await s.cluster.createPod(mpsPod(s.ns, 'early', s.schedulerName, { mem: '0=4G' }));
      const first = await s.cluster.failedSchedulingMessages(s.ns, 'early');
      // Not a verdict on the nodes: the ledger had not seen them yet.
      expect(first[0]).not.toContain('node unknown to gpu-ledger');
      gate.open();
      await ready(await restarting);
      expect(['spark-01', 'homelab-3090']).toContain(await s.cluster.bound(s.ns, 'early', 30_000));
    } finally {
      gate.open();
      // Back to a gpu-ledger that talks to the API server directly, without this test's pod.
      await restarting?.catch(() => undefined);
      await s.restartLedger({ kubeconfig: env().kubeconfig });
      await gate.close();
      await s.cluster.forceDelete(s.ns, 'early');
    }
  });

  it('a reservation whose bind had not reached the API server is gone after the restart, and the pod is bound again', async () => {
    // gpu-ledger's API calls pass a gate; the gate closes when kube-scheduler's bind for the pod is
    // on its way, so the bind reserves in the ledger and its API call hangs: the pod is reserved.
    const gate = await startApiGate(env().kubeconfig, join(env().work, `kubeconfig-gate-${Date.now()}`), true);
    let proxy: ExtenderProxy | undefined;
    let held = false;
    try {
      const ledger = await s.restartLedger({ kubeconfig: gate.kubeconfig });
      // While the restarted ledger is read, binds wait here: kube-scheduler's retried bind must not
      // reserve the pod again before the test has seen that the old reservation is gone.
      let binds: Promise<void> = Promise.resolve();
      let resume = (): void => undefined;
      proxy = await startExtenderProxy(ledger.url, async (verb, body) => {
        if (verb === 'bind') await binds;
        if (verb !== 'bind' || held || (body as { PodName?: string }).PodName !== 'held') return;
        held = true;
        gate.hold();
      });
      await startScheduler(env(), proxy.url);
      await s.cluster.createPod(variant('timeslice-research.yaml', s.ns, 'held', { schedulerName: s.schedulerName, annotations: { 'gpu-ledger.io/gpu-memory': '1Gi' } }));
      await until(() => pods(s.ledger).some((p) => p.pod === `${s.ns}/held` && p.state === 'reserved'), 'the pod reserved in the ledger');
      const before = await dump(s.ledger);
      // (other pending pods kube-scheduler binds meanwhile are held the same way)
      const reserved = before.pods.filter((p) => p.state === 'reserved');
      for (const r of reserved) {
        const api = (await s.cluster.pod(s.ns, r.pod.split('/')[1]))!;
        expect(api.spec?.nodeName, r.pod).toBeUndefined();
      }
      // its annotation patch, gpu-ledger's first API call of the bind, is the one held
      expect((await s.cluster.pod(s.ns, 'held'))!.metadata?.annotations?.['gpu-ledger.io/gpus']).toBeUndefined();

      binds = new Promise<void>((r) => (resume = r));
      try {
        await s.restartLedger({ kubeconfig: env().kubeconfig });
        expect(pods(s.ledger)).toEqual(before.pods.filter((p) => p.state !== 'reserved'));
      } finally {
        resume();
      }
      // kube-scheduler's bind failed with the stopped gpu-ledger; it tries again and the pod is bound.
      expect(await s.cluster.bound(s.ns, 'held', 60_000)).toBeTruthy();
      await until(() => ledgerMatchesApi(s), 'the ledger holding every bound pod as bound');
    } finally {
      await gate.close();
      await startScheduler(env(), s.ledger.url);
      await proxy?.close();
    }
  });

  it('with binds in flight: after a restart mid-burst the ledger equals one built fresh from the API', async () => {
    // Six small models on the homelab's six free replicas (4 per GPU, one used on each).
    const names = Array.from({ length: 6 }, (_, i) => `flight-${i}`);
    const states = new Set<string>();
    await Promise.all(names.map((n) => s.cluster.createPod(variant('timeslice-research.yaml', s.ns, n, { schedulerName: s.schedulerName, annotations: { 'gpu-ledger.io/gpu-memory': '1Gi' } }))));
    // Restart as soon as gpu-ledger has started placing them.
    await until(() => {
      const placed = pods(s.ledger).filter((p) => p.pod.includes('/flight-'));
      for (const p of placed) states.add(p.state);
      return placed.length > 0;
    }, 'the first burst pod placed', 30_000, 5);
    await s.restartLedger();
    // Pods refused while the restarted gpu-ledger was still loading wait in kube-scheduler's
    // unschedulable queue (the test above pins that); an update requeues them at once.
    for (const n of names) {
      if (!(await s.cluster.pod(s.ns, n))?.spec?.nodeName) await poke(s, n);
    }
    for (const n of names) await s.cluster.bound(s.ns, n, 60_000);
    await until(() => ledgerMatchesApi(s), 'the ledger holding every bound pod as bound');
    const fresh = await startLedger(env());
    try {
      const a = await dump(s.ledger);
      const b = await dump(fresh);
      expect(a).toEqual(b);
      expect(a.pods.filter((p) => p.pod.includes('/flight-'))).toHaveLength(6);
    } finally {
      await fresh.stop();
    }
    console.log(`restart mid-burst: states seen before the restart: ${[...states].join(', ')}`);
  });
});
