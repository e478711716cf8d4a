import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bestFitChooser, fit, type FitOptions } from '../../src/gpu/place.js';
import type { PodDemand } from '../../src/model/types.js';
import { Ledger, type NodeLedger } from '../../src/state/ledger.js';
import { gpuExclusive, gpuPods, gpuReplicas, usageOf } from '../../src/gpu/usage.js';
import { client, GiB, mpsPod, node, pod } from '../helpers/make.js';

const fitPod = (d: PodDemand, n: NodeLedger, o: Partial<FitOptions> = {}) => fit(d, n, { chooser: bestFitChooser, ...o });

/** Every counter of every GPU within capacity and ≥ 0. */
function assertSound(n: NodeLedger): void {
  const inv = n.inventory;
  n.gpus.forEach((u, i) => {
    const g = inv.gpus[i];
    for (const v of [u.replicas, u.memoryBytes, u.threadMilli, u.clients, u.pods, u.exclusive]) expect(v).toBeGreaterThanOrEqual(0);
    expect(u.replicas).toBeLessThanOrEqual(g.replicas);
    if (inv.mode === 'mps') {
      expect(u.memoryBytes).toBeLessThanOrEqual(g.memoryBytes - inv.reservedMemoryBytes);
      expect(u.threadMilli).toBeLessThanOrEqual(1000 * inv.computeOvercommit);
      expect(u.clients).toBeLessThanOrEqual(inv.mpsMaxClients);
    }
    if (u.exclusive > 0) expect(u.pods).toBe(1);
    // The filter's reads (the node's counters, a fresh view) are the same usage as the GPU's view.
    expect([gpuReplicas(n, i), gpuPods(n, i), gpuExclusive(n, i)]).toEqual([u.replicas, u.pods, u.exclusive]);
    const v = usageOf(n, i);
    expect([v.replicas, v.memoryBytes, v.threadMilli, v.clients, v.pods, v.exclusive, v.mig]).toEqual([u.replicas, u.memoryBytes, u.threadMilli, u.clients, u.pods, u.exclusive, u.mig]);
    for (const [p, used] of u.mig) {
      expect(used).toBeGreaterThan(0);
      expect(used).toBeLessThanOrEqual(g.mig.get(p) ?? 0);
    }
  });
}

function assertEmpty(l: Ledger): void {
  expect(l.pods.size).toBe(0);
  for (const n of l.nodes.values()) {
    expect(n.pods.size).toBe(0);
    for (const u of n.gpus) {
      expect([u.replicas, u.memoryBytes, u.threadMilli, u.clients, u.pods, u.exclusive, u.mig.size]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    }
  }
}

const podArb = fc.oneof(
  // MPS pod with explicit memory/threads and 1..2 replicas.
  fc.record({ kind: fc.constant('mps' as const), mem: fc.integer({ min: 1, max: 24 }), pct: fc.integer({ min: 1, max: 40 }), replicas: fc.integer({ min: 1, max: 2 }), exclusive: fc.boolean() }),
  // Default-share pod.
  fc.record({ kind: fc.constant('share' as const), replicas: fc.integer({ min: 1, max: 3 }), exclusive: fc.boolean() }),
  // MIG pod.
  fc.record({ kind: fc.constant('mig' as const), profile: fc.constantFrom('3g.40gb', '2g.20gb'), count: fc.integer({ min: 1, max: 2 }) }),
);

// Reserves dominate so that nodes actually fill up and every limit is exercised.
const opArb = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('reserve' as const), pod: podArb, node: fc.integer({ min: 0, max: 2 }) }), weight: 8 },
  { arbitrary: fc.record({ op: fc.constant('bind' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('expire' as const), at: fc.integer({ min: 0, max: 100 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('readd' as const), pick: fc.nat() }), weight: 1 },
  // The time-sliced node comes back with another GPU count: updated in place, or deleted and re-created.
  { arbitrary: fc.record({ op: fc.constant('reshape' as const), gpus: fc.integer({ min: 1, max: 3 }), recreate: fc.boolean() }), weight: 1 },
);

describe('ledger properties', () => {
  it('no sequence of reserve/bind/remove/expire overcommits a GPU or drives a counter negative; removing all empties it', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const l = new Ledger();
        l.setNode(node({ name: 'mps', mode: 'mps', gpus: 2, memoryBytes: 32 * GiB, replicas: 8, placement: 'extender' }));
        l.setNode(node({ name: 'ts', mode: 'time-slicing', gpus: 1, memoryBytes: 24 * GiB, replicas: 4 }));
        l.setNode(node({ name: 'mig', mode: 'mig', gpus: 2, mig: { '3g.40gb': { count: 2, memoryBytes: 40 * GiB }, '2g.20gb': { count: 4, memoryBytes: 20 * GiB } } }));
        const names = ['mps', 'ts', 'mig'];
        let clock = 0;
        for (const o of ops) {
          if (o.op === 'reserve') {
            const p = o.pod;
            const demand =
              p.kind === 'mps'
                ? mpsPod(p.mem, p.pct, { isolation: p.exclusive ? 'exclusive' : 'shared' }, p.replicas)
                : p.kind === 'share'
                  ? pod([client({ replicas: p.replicas })], { isolation: p.exclusive ? 'exclusive' : 'shared' })
                  : pod([client({ mig: new Map([[`nvidia.com/mig-${p.profile}`, p.count]]) })]);
            const n = l.nodes.get(names[o.node])!;
            const fit = fitPod(demand, n);
            if (fit.fits) {
              l.put({ uid: demand.uid, namespace: 'd', name: demand.uid, node: n.name, takes: fit.takes, state: 'reserved', expiresAt: clock + 10 });
            }
          } else if (o.op === 'bind' || o.op === 'remove' || o.op === 'readd') {
            const uids = [...l.pods.keys()];
            if (uids.length === 0) continue;
            const uid = uids[o.pick % uids.length];
            if (o.op === 'bind') l.confirm(uid);
            else if (o.op === 'remove') l.remove(uid);
            else l.put({ ...l.pods.get(uid)! }); // idempotent re-add of the same allocation
          } else if (o.op === 'reshape') {
            const before = l.nodes.get('mps')!;
            const numbers = before.gpus.map((u) => [u.replicas, u.memoryBytes, u.threadMilli, u.clients, u.pods, u.exclusive]);
            if (o.recreate) l.deleteNode('ts');
            l.setNode(node({ name: 'ts', mode: 'time-slicing', gpus: o.gpus, memoryBytes: 24 * GiB, replicas: 4 }));
            // Another node's numbers never move when one node's usages are replaced.
            expect(before.gpus.map((u) => [u.replicas, u.memoryBytes, u.threadMilli, u.clients, u.pods, u.exclusive])).toEqual(numbers);
          } else {
            clock += o.at;
            l.expire(clock);
          }
          for (const n of l.nodes.values()) assertSound(n);
          // The per-node index and the global index agree.
          let indexed = 0;
          for (const n of l.nodes.values()) indexed += n.pods.size;
          expect(indexed).toBe(l.pods.size);
        }
        for (const uid of [...l.pods.keys()]) l.remove(uid);
        assertEmpty(l);
      }),
      { numRuns: 300 },
    );
  });

  it('a deleted node keeps its own numbers when the next node takes over its usage range', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'a', mode: 'mps', gpus: 2, memoryBytes: 64 * GiB }));
    const d = mpsPod(16, 25);
    const fit = fitPod(d, l.nodes.get('a')!);
    if (!fit.fits) throw new Error('expected fit');
    l.put({ uid: d.uid, namespace: 'd', name: 'p', node: 'a', takes: fit.takes, state: 'bound', expiresAt: Infinity });
    const old = l.nodes.get('a')!;
    const gpu = fit.takes[0].gpu;
    l.deleteNode('a');
    l.setNode(node({ name: 'b', mode: 'mps', gpus: 2, memoryBytes: 64 * GiB }));
    const b = l.nodes.get('b')!;
    // b reuses a's range (same GPU count): it starts idle, and a, held here, still reads its own.
    expect(b.base).toBe(0);
    expect(b.gpus.map((u) => u.pods)).toEqual([0, 0]);
    const e = mpsPod(8, 10);
    const fitB = fitPod(e, b);
    if (!fitB.fits) throw new Error('expected fit');
    l.put({ uid: e.uid, namespace: 'd', name: 'q', node: 'b', takes: fitB.takes, state: 'bound', expiresAt: Infinity });
    expect([old.gpus[gpu].pods, old.gpus[gpu].memoryBytes, gpuPods(old, gpu), usageOf(old, gpu).memoryBytes]).toEqual([1, 16 * GiB, 1, 16 * GiB]);
    expect(old.gpus[1 - gpu].pods).toBe(0);
    expect(b.gpus.reduce((a, u) => a + u.memoryBytes, 0)).toBe(8 * GiB);
  });

  it('a node deleted and re-created keeps the pods bound to it (they are still bound in the API)', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'a', mode: 'mps', memoryBytes: 64 * GiB }));
    const d = mpsPod(16, 25);
    const fit = fitPod(d, l.nodes.get('a')!);
    expect(fit.fits).toBe(true);
    if (!fit.fits) return;
    l.put({ uid: d.uid, namespace: 'd', name: 'p', node: 'a', takes: fit.takes, state: 'bound', expiresAt: Infinity });
    expect(l.deleteNode('a')).toEqual([d.uid]);
    expect(l.pods.size).toBe(1);
    expect(l.detachedPods().get('a')).toEqual(new Set([d.uid]));
    l.setNode(node({ name: 'a', mode: 'mps', memoryBytes: 64 * GiB }));
    expect(l.nodes.get('a')!.gpus[0].memoryBytes).toBe(16 * GiB);
    expect(l.detachedPods().size).toBe(0);
    l.remove(d.uid);
    assertEmpty(l);
  });

  it('an inventory update keeps the allocations (recounted, never doubled)', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'a', mode: 'mps', memoryBytes: 64 * GiB }));
    const d = mpsPod(16, 25);
    const fit = fitPod(d, l.nodes.get('a')!);
    if (!fit.fits) throw new Error('expected fit');
    l.put({ uid: d.uid, namespace: 'd', name: 'p', node: 'a', takes: fit.takes, state: 'bound', expiresAt: Infinity });
    l.setNode(node({ name: 'a', mode: 'mps', memoryBytes: 128 * GiB }));
    l.setNode(node({ name: 'a', mode: 'mps', memoryBytes: 128 * GiB }));
    expect(l.nodes.get('a')!.gpus[0].memoryBytes).toBe(16 * GiB);
    expect(l.nodes.get('a')!.gpus[0].threadMilli).toBe(250);
  });

  it('reservations expire at their TTL, bound pods never do', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'a', mode: 'mps', memoryBytes: 64 * GiB }));
    const r = mpsPod(8, 10);
    const b = mpsPod(8, 10);
    for (const [d, state] of [
      [r, 'reserved'],
      [b, 'bound'],
    ] as const) {
      const fit = fitPod(d, l.nodes.get('a')!);
      if (!fit.fits) throw new Error('expected fit');
      l.put({ uid: d.uid, namespace: 'd', name: d.uid, node: 'a', takes: fit.takes, state, expiresAt: state === 'bound' ? Infinity : 1000 });
    }
    expect(l.expire(999)).toHaveLength(0);
    expect(l.expire(1000).map((a) => a.uid)).toEqual([r.uid]);
    expect([...l.pods.keys()]).toEqual([b.uid]);
    expect(l.nodes.get('a')!.gpus[0].memoryBytes).toBe(8 * GiB);
  });
});

describe('relist while a bind is in flight', () => {
  it('a pod our bind confirmed after the LIST was sent is kept; one bound before and not listed is gone', async () => {
    const { ClusterState } = await import('../../src/state/cluster-state.js');
    const { defaultConfig } = await import('../../src/model/config-types.js');
    const state = new ClusterState({ config: defaultConfig() });
    state.ledger.setNode(node({ name: 'a', mode: 'mps', memoryBytes: 64 * GiB }));
    const d = mpsPod(16, 25);
    const r = state.reserve(d, 'a', (n) => fitPod(d, n));
    expect(r.ok).toBe(true);
    state.ledger.confirm(d.uid, 1000);
    state.resetPods([], 900); // the LIST left before the Binding: it cannot show the pod yet
    expect(state.ledger.pods.get(d.uid)?.state).toBe('bound');
    state.resetPods([], 1100); // a LIST sent after it: the pod is really not bound any more
    expect(state.ledger.pods.has(d.uid)).toBe(false);
  });
});
