import { describe, expect, it } from 'vitest';
import { fitPod, type FitResult } from '../../src/filter/fit.js';
import type { PodDemand } from '../../src/model/types.js';
import { Ledger } from '../../src/state/ledger.js';
import { client, GiB, mpsPod, node, pod, type NodeSpec } from '../helpers/make.js';

/** Places pods in order on one node, returning the last fit result. */
function placeAll(spec: NodeSpec, pods: PodDemand[]): { results: FitResult[]; ledger: Ledger } {
  const ledger = new Ledger();
  ledger.setNode(node(spec));
  const n = ledger.nodes.get(spec.name)!;
  const results: FitResult[] = [];
  for (const d of pods) {
    const r = fitPod(d, n);
    results.push(r);
    if (r.fits) ledger.put({ uid: d.uid, namespace: 'd', name: d.uid, node: spec.name, takes: r.takes, state: 'bound', expiresAt: Infinity });
  }
  return { results, ledger };
}

const GB10: NodeSpec = { name: 'spark', mode: 'mps', gpus: 1, memoryBytes: 128 * GiB, replicas: 10, mpsDaemonLimits: false };

describe('fit: MPS', () => {
  const cases: { name: string; spec: NodeSpec; pods: PodDemand[]; expect: (boolean | string)[] }[] = [
    { name: 'GB10: two 64G/50% pods fill the GPU', spec: GB10, pods: [mpsPod(64, 50), mpsPod(64, 50)], expect: [true, true] },
    { name: 'GB10: third 64G pod is rejected for MPS memory', spec: GB10, pods: [mpsPod(64, 50), mpsPod(64, 50), mpsPod(64, 0.1 as number)], expect: [true, true, 'mps-memory'] },
    { name: 'GB10: 8G/60% after 64G/50% is rejected for threads', spec: GB10, pods: [mpsPod(64, 50), mpsPod(8, 60)], expect: [true, 'mps-threads'] },
    { name: 'GB10: compute overcommit 2 lets threads sum to 200%', spec: { ...GB10, computeOvercommit: 2 }, pods: [mpsPod(8, 100), mpsPod(8, 100), mpsPod(8, 1)], expect: [true, true, 'mps-threads'] },
    { name: 'GB10: reserved headroom counts against memory', spec: { ...GB10, reservedMemoryBytes: 8 * GiB }, pods: [mpsPod(64, 10), mpsPod(64, 10)], expect: [true, 'mps-memory'] },
    { name: 'GB10: replicas run out after 10 default pods', spec: GB10, pods: Array.from({ length: 11 }, () => mpsPod(null, null)), expect: [...Array(10).fill(true), 'replicas'] },
    { name: 'MPS client limit', spec: { ...GB10, replicas: 100, mpsMaxClients: 2 }, pods: [mpsPod(1, 1), mpsPod(1, 1), mpsPod(1, 1)], expect: [true, true, 'mps-clients'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { results } = placeAll(c.spec, c.pods);
      expect(results.map((r) => (r.fits ? true : r.reasons[0].code))).toEqual(c.expect);
    });
  }

  it('a client env limit above its replica share is capped when the daemon enforces limits', () => {
    const { results } = placeAll({ name: 'v100', mode: 'mps', memoryBytes: 32604 * 2 ** 20, replicas: 20, mpsDaemonLimits: true }, [mpsPod(16, 50)]);
    expect(results[0].fits).toBe(true);
    if (results[0].fits) {
      expect(results[0].takes[0].memoryBytes).toBe(Math.floor((32604 * 2 ** 20) / 20));
      expect(results[0].takes[0].threadMilli).toBe(50);
    }
  });

  it('10 tokens on the 4×31.8GB aggregate node give 15.9GB in all', () => {
    const mem = 32604 * 2 ** 20;
    const { results } = placeAll({ name: 'agg', mode: 'mps', gpus: 4, memoryBytes: mem, replicas: 20, mpsDaemonLimits: true }, [mpsPod(null, null, {}, 10)]);
    const r = results[0];
    expect(r.fits).toBe(true);
    if (!r.fits) return;
    const total = r.takes.reduce((a, t) => a + t.memoryBytes, 0);
    expect(total).toBe(10 * Math.floor(mem / 20));
    expect(total / 1e9).toBeCloseTo(17.09, 1); // 15.9 GiB = 17.1 GB: the seed's "GB" are GiB
    expect(total / GiB).toBeCloseTo(15.9, 1);
    // The device plugin's "distributed" policy spreads the replicas: 3,3,2,2.
    expect(r.takes.map((t) => t.replicas)).toEqual([3, 3, 2, 2]);
  });

  it('a 20Gi pod does not fit on 4 GPUs with 10Gi free each', () => {
    const ledger = new Ledger();
    ledger.setNode(node({ name: 'n', mode: 'mps', gpus: 4, memoryBytes: 20 * GiB, replicas: 4, placement: 'extender' }));
    const n = ledger.nodes.get('n')!;
    for (let g = 0; g < 4; g++) {
      const filler = mpsPod(10, 10);
      const r = fitPod(filler, n);
      if (!r.fits) throw new Error('filler must fit');
      ledger.put({ uid: filler.uid, namespace: 'd', name: 'f', node: 'n', takes: r.takes.map((t) => ({ ...t, gpu: g })), state: 'bound', expiresAt: Infinity });
    }
    const r = fitPod(mpsPod(20, 10), n);
    expect(r.fits).toBe(false);
    if (!r.fits) expect(r.reasons[0]).toMatchObject({ code: 'mps-memory', requested: 20 * GiB, used: 10 * GiB, capacity: 20 * GiB });
    expect(fitPod(mpsPod(10, 10), n).fits).toBe(true);
  });
});

describe('fit: time-slicing, exclusivity, MIG', () => {
  const T4: NodeSpec = { name: 't4', mode: 'time-slicing', gpus: 1, memoryBytes: 15 * GiB, replicas: 8 };
  it('T4: exclusive job waits while a shared job runs', () => {
    const { results } = placeAll(T4, [pod([client({ replicas: 1 })]), pod([client({ replicas: 1 })], { isolation: 'exclusive' })]);
    expect(results[1].fits ? true : results[1].reasons[0].code).toBe('exclusive-busy');
  });
  it('T4: shared job waits while an exclusive job runs', () => {
    const { results } = placeAll(T4, [pod([client({ replicas: 1 })], { isolation: 'exclusive' }), pod([client({ replicas: 1 })])]);
    expect(results[1].fits ? true : results[1].reasons[0].code).toBe('replicas');
  });
  it('T4: eight shared jobs fill the replicas; the ninth is rejected', () => {
    const { results } = placeAll(T4, Array.from({ length: 9 }, () => pod([client({ replicas: 1 })])));
    expect(results.map((r) => r.fits)).toEqual([...Array(8).fill(true), false]);
  });
  it('time-sliced: declared memory is accounted', () => {
    const { results } = placeAll(T4, [pod([client({ replicas: 1 })], { declaredMemoryBytes: 10 * GiB }), pod([client({ replicas: 1 })], { declaredMemoryBytes: 6 * GiB })]);
    expect(results[1].fits ? true : results[1].reasons[0].code).toBe('timeslice-memory');
  });
  it('RTX 3090 ×2 time-sliced ×4: nvidia.com/gpu 2 takes two replicas (spread over both GPUs)', () => {
    const { results } = placeAll({ name: 'h', mode: 'time-slicing', gpus: 2, memoryBytes: 24 * GiB, replicas: 4 }, [pod([client({ replicas: 2 })])]);
    const r = results[0];
    expect(r.fits).toBe(true);
    if (r.fits) expect(r.takes.map((t) => [t.gpu, t.replicas])).toEqual([
      [0, 1],
      [1, 1],
    ]);
  });
  const A100 = { name: 'a100', mode: 'mig' as const, gpus: 1, mig: { '3g.40gb': { count: 1, memoryBytes: 40 * GiB }, '2g.20gb': { count: 2, memoryBytes: 20 * GiB } } };
  it('A100 MIG: 3g.40gb + 2×2g.20gb fit, a second 3g.40gb does not', () => {
    const mig = (p: string) => pod([client({ mig: new Map([[`nvidia.com/mig-${p}`, 1]]) })]);
    const { results } = placeAll(A100, [mig('3g.40gb'), mig('2g.20gb'), mig('2g.20gb'), mig('3g.40gb'), mig('2g.20gb')]);
    expect(results.map((r) => (r.fits ? true : r.reasons[0].code))).toEqual([true, true, true, 'mig-instances', 'mig-instances']);
  });
  it('A100 MIG: a profile the node lacks is missing, not overcommitted', () => {
    const { results } = placeAll(A100, [pod([client({ mig: new Map([['nvidia.com/mig-1g.10gb', 1]]) })])]);
    expect(results[0].fits ? true : results[0].reasons[0]).toMatchObject({ code: 'resource-missing', resolvable: false });
  });
  it('A100 MIG: declared memory larger than the instance is rejected', () => {
    const { results } = placeAll(A100, [pod([client({ mig: new Map([['nvidia.com/mig-2g.20gb', 1]]) })], { declaredMemoryBytes: 30 * GiB })]);
    expect(results[0].fits ? true : results[0].reasons[0]).toMatchObject({ code: 'mig-memory', resolvable: false });
  });
  it('whole GPUs (no sharing): one pod per GPU', () => {
    const { results } = placeAll({ name: 'w', mode: 'none', gpus: 2, replicas: 1 }, [pod([client({ replicas: 1 })]), pod([client({ replicas: 2 })]), pod([client({ replicas: 1 })])]);
    expect(results.map((r) => (r.fits ? true : r.reasons[0].code))).toEqual([true, 'replicas', true]);
  });
  it('an invalid pod spec is rejected with its message, unresolvable', () => {
    const { results } = placeAll(GB10, [mpsPod(8, 10, { errors: [{ field: 'x', value: 'y', message: 'container "c": bad' }] })]);
    expect(results[0].fits ? true : results[0].reasons[0]).toMatchObject({ code: 'invalid-pod', detail: 'container "c": bad', resolvable: false });
  });
  it('force mode records a running pod even when the node is full', () => {
    const ledger = new Ledger();
    ledger.setNode(node(GB10));
    const n = ledger.nodes.get('spark')!;
    for (let i = 0; i < 3; i++) {
      const d = mpsPod(64, 50);
      const r = fitPod(d, n, { force: true });
      expect(r.fits).toBe(true);
      if (r.fits) ledger.put({ uid: d.uid, namespace: 'd', name: 'p', node: 'spark', takes: r.takes, state: 'bound', expiresAt: Infinity });
    }
    expect(n.gpus[0].memoryBytes).toBe(192 * GiB);
    expect(fitPod(mpsPod(1, 1), n).fits).toBe(false);
  });
  it('pinned GPUs are honoured exactly', () => {
    const ledger = new Ledger();
    ledger.setNode(node({ name: 'n', mode: 'mps', gpus: 4, memoryBytes: 32 * GiB, replicas: 4 }));
    const r = fitPod(mpsPod(8, 10, {}, 2), ledger.nodes.get('n')!, { pinned: [3, 3] });
    expect(r.fits && r.takes.map((t) => [t.gpu, t.replicas])).toEqual([[3, 2]]);
    if (r.fits) expect(r.sequence).toEqual([3, 3]);
  });
});
