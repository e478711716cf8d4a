// Many pods at once on one GPU where only gpu-ledger's memory check limits them (a GB10: 128 GiB,
// MPS ×10, no daemon limits, so each pod's 40G env counts). kube-scheduler binds asynchronously —
// the next pod's filter may arrive before the previous pod's bind — so a filter can pass a pod
// whose share another pod takes first. gpu-ledger's bind re-checks and reserves atomically: such a
// bind is refused, kube-scheduler retries the pod, and the GPU is never overcommitted.

import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, expect, it } from 'vitest';
import { demoNode, mpsPod } from './kube.js';
import { startExtenderProxy, type ExtenderProxy } from './extender-proxy.js';
import { gauge, gauges } from './ledger-view.js';
import { describeE2e, env, scenario, type Scenario } from './scenario.js';
import { startScheduler } from './scheduler.js';
import { until } from './wait.js';

const GiB = 2 ** 30;
const CAPACITY = 128 * GiB;

const EVENTS = {
  memoryFull:
    '0/1 nodes are available: 1 gpu-ledger: MPS memory overcommit (pod needs 40Gi on one GPU). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
  /**
   * What kube-scheduler reports when gpu-ledger refuses the bind of a pod that lost the race: the
   * bind reply's Error as is.
   */
  bindRefused: (pod: string) => `gpu-ledger: cannot bind ${pod} to spark-01: MPS memory overcommit (pod needs 40Gi on one GPU)`,
};

const memory = (s: Scenario) => gauge(s.ledger, 'gpu_memory_allocated_bytes', { node: 'spark-01', gpu: '0' });

async function boundPods(s: Scenario): Promise<V1Pod[]> {
  return (await s.cluster.core.listNamespacedPod({ namespace: s.ns })).items.filter((p) => p.spec?.nodeName);
}

/** Σ of the gpu-ledger.io/memory annotations ("0=40Gi") gpu-ledger wrote on bound pods. */
function annotatedBytes(pods: V1Pod[]): number {
  let sum = 0;
  for (const p of pods) {
    const m = /^0=(\d+)Gi$/.exec(p.metadata?.annotations?.['gpu-ledger.io/memory'] ?? '');
    if (!m) throw new Error(`pod ${p.metadata?.name} has no gpu-ledger.io/memory annotation for GPU 0`);
    sum += Number(m[1]) * GiB;
  }
  return sum;
}

describeE2e('a burst of pods on one GB10', () => {
  const s = scenario('burst', () => [demoNode('spark-01')]);
  let proxy: ExtenderProxy | undefined;
  afterAll(async () => proxy?.close());

  it('twelve 40G pods created at once: exactly three are bound, nine stay Pending, never more than 128Gi', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await memory(s).catch(() => 0)) ?? 0);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // Settled: every pod either bound or told (by its latest event) that the GPU's memory is full.
    let picture = '';
    const settled = async () => {
      const bound = new Set((await boundPods(s)).map((p) => p.metadata!.name!));
      const lines: string[] = [];
      for (const n of names) {
        if (bound.has(n)) continue;
        const msgs = await s.cluster.failedSchedulingMessages(s.ns, n, 1000).catch(() => []);
        lines.push(`${n}: ${msgs[msgs.length - 1] ?? '(no event)'}`);
      }
      picture = `bound: ${[...bound].join(' ')}; pending: ${lines.join(' | ')}`;
      return lines.every((l) => l.endsWith(EVENTS.memoryFull));
    };
    try {
      await Promise.all(names.map((n) => s.cluster.createPod(mpsPod(s.ns, n, s.schedulerName, { mem: '0=40G' }))));
      await until(settled, () => `every burst pod bound or refused for MPS memory (${picture})`, 90_000, 250);
    } finally {
      sampling = false;
      await sampler;
    }
    const bound = await boundPods(s);
    expect(bound.map((p) => p.spec!.nodeName)).toEqual(['spark-01', 'spark-01', 'spark-01']);
    expect(annotatedBytes(bound)).toBe(120 * GiB);
    expect(await memory(s)).toBe(120 * GiB);
    expect(peak).toBeLessThanOrEqual(CAPACITY);
    // Races kube-scheduler lost show up as refused binds (not asserted: they depend on timing).
    console.log(`burst: binds by outcome ${(await gauges(s.ledger, 'gpu_ledger_binds_total')).join(', ')}`);
  });

  it('a bind that lost the race is refused, and kube-scheduler retries the pod', async () => {
    // Start over with 80Gi in use: room for exactly one more 40G pod.
    await Promise.all((await s.cluster.core.listNamespacedPod({ namespace: s.ns })).items.map((p) => s.cluster.forceDelete(s.ns, p.metadata!.name!)));
    await until(async () => (await memory(s)) === 0 && (await s.cluster.core.listNamespacedPod({ namespace: s.ns })).items.length === 0, 'burst pods gone');
    for (const n of ['fill-a', 'fill-b']) await s.cluster.createPod(mpsPod(s.ns, n, s.schedulerName, { mem: '0=40G' }));
    await s.cluster.bound(s.ns, 'fill-a');
    await s.cluster.bound(s.ns, 'fill-b');
    await until(async () => (await memory(s)) === 80 * GiB, '80Gi in use');

    // The rival is placed through gpu-ledger's own verbs (as a second scheduler would), at the
    // moment kube-scheduler's bind for "racer" is on its way: after its filter passed.
    const rival = await s.cluster.createPod(mpsPod(s.ns, 'rival', 'nobody-schedules-this', { mem: '0=40G' }));
    const direct = async (verb: string, body: unknown) => {
      const r = await fetch(`${s.ledger.url}/${verb}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return (await r.json()) as { Error?: string; NodeNames?: string[] };
    };
    let raced = false;
    proxy = await startExtenderProxy(s.ledger.url, async (verb, body) => {
      if (verb !== 'bind' || raced || (body as { PodName?: string }).PodName !== 'racer') return;
      raced = true;
      expect((await direct('filter', { Pod: rival, Nodes: null, NodeNames: ['spark-01'] })).NodeNames).toEqual(['spark-01']);
      expect(await direct('bind', { PodName: 'rival', PodNamespace: s.ns, PodUID: rival.metadata!.uid, Node: 'spark-01' })).toEqual({ Error: '' });
    });
    await startScheduler(env(), proxy.url);
    await s.cluster.createPod(mpsPod(s.ns, 'racer', s.schedulerName, { mem: '0=40G' }));

    expect(await s.cluster.bound(s.ns, 'rival')).toBe('spark-01');
    const msgs = await until(
      async () => {
        const m = await s.cluster.failedSchedulingMessages(s.ns, 'racer');
        return m.length >= 2 && m[m.length - 1] === EVENTS.memoryFull ? m : undefined;
      },
      () => `racer: the refused bind, then a retry refused by filter (proxy saw ${proxy?.seen.join(' ')})`,
      60_000,
    );
    expect(msgs[0]).toBe(EVENTS.bindRefused(`${s.ns}/racer`));
    expect(raced).toBe(true);
    // kube-scheduler came back for the pod: filtered it again after the refused bind.
    expect(proxy.seen.slice(proxy.seen.indexOf('bind') + 1)).toContain('filter');
    expect((await s.cluster.pod(s.ns, 'racer'))?.spec?.nodeName).toBeUndefined();
    expect(await memory(s)).toBe(120 * GiB);
    expect(annotatedBytes(await boundPods(s))).toBe(120 * GiB);
  });
});
