// The GPU rules decide (fit) and record (account), per sharing mode, on hand-built nodes and pods.
import { describe, expect, it } from 'vitest';
import { detailText, eventText } from '../../src/explain/render.js';
import { account, bestFitChooser, fit, type FitOptions, type FitResult } from '../../src/gpu/place.js';
import type { PodDemand } from '../../src/model/types.js';
import { Ledger, type NodeLedger } from '../../src/state/ledger.js';
import { client, GiB, MiB, mpsPod, node, pod, type NodeSpec } from '../helpers/make.js';

function fitPod(d: PodDemand, n: NodeLedger, o: Partial<FitOptions> = {}): FitResult {
  return fit(d, n, { chooser: bestFitChooser, ...o });
}

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

  it('a client env limit above its replica share is refused where the daemon enforces limits', () => {
    const { results } = placeAll({ name: 'v100', mode: 'mps', memoryBytes: 32604 * 2 ** 20, replicas: 20, mpsDaemonLimits: true }, [mpsPod(16, 5)]);
    const r = results[0];
    expect(r.fits).toBe(false);
    if (!r.fits) {
      expect(r.reasons[0]).toMatchObject({ code: 'token-memory', requested: 16 * GiB, capacity: Math.floor((32604 * MiB) / 20), resolvable: false });
      expect(r.reasons[0].tokens).toEqual({ asked: 1, needed: 11, resource: 'nvidia.com/gpu', each: Math.floor((32604 * MiB) / 20) });
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
    expect(results[1].fits ? true : results[1].reasons[0].code).toBe('held-exclusive');
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
  it('account records a running pod even when the node is full, capped at what a GPU has', () => {
    const ledger = new Ledger();
    ledger.setNode(node(GB10));
    const n = ledger.nodes.get('spark')!;
    for (let i = 0; i < 3; i++) {
      const d = mpsPod(64, 50);
      const r = account(d, n, null);
      ledger.put({ uid: d.uid, namespace: 'd', name: 'p', node: 'spark', takes: r.takes, state: 'bound', expiresAt: Infinity });
    }
    expect(n.gpus[0].memoryBytes).toBe(192 * GiB);
    expect(fitPod(mpsPod(1, 1), n).fits).toBe(false);
    // A pod claiming more than the GPU has is accounted at the GPU's memory, not its claim.
    const huge = pod([client({ replicas: 1, memLimitByOrdinal: new Map([[0, 4 * 2 ** 40]]) })]);
    expect(account(huge, n, null).takes[0].memoryBytes).toBe(128 * GiB);
  });
  it('pinned GPUs are honoured exactly', () => {
    const ledger = new Ledger();
    ledger.setNode(node({ name: 'n', mode: 'mps', gpus: 4, memoryBytes: 32 * GiB, replicas: 4 }));
    const r = fitPod(mpsPod(8, 10, {}, 2), ledger.nodes.get('n')!, { pinned: [3, 3] });
    expect(r.fits && r.takes.map((t) => [t.gpu, t.replicas])).toEqual([[3, 2]]);
    if (r.fits) expect(r.sequence).toEqual([3, 3]);
  });
});

// Decisions users can trust (issue: one rule set): each named after the seed setup it comes from.
describe('seed setups: what a pod declares is what it gets', () => {
  const V100 = 32604 * MiB; // 31.8 GiB, GFD's label
  const AGG: NodeSpec = { name: 'mps-agg', mode: 'mps', gpus: 4, memoryBytes: V100, replicas: 20, mpsDaemonLimits: true };
  const share = Math.floor(V100 / 20);
  const refusal = (r: FitResult) => (r.fits ? null : r.reasons[0]);

  it('4×31.8 GB aggregate: 0=4G with one token is refused, and says how many tokens would hold it', () => {
    const r = refusal(placeAll(AGG, [mpsPod(4, null)]).results[0]);
    expect(r).toMatchObject({ code: 'token-memory', requested: 4 * GiB, capacity: share, resolvable: false, tokens: { asked: 1, needed: 3, resource: 'nvidia.com/gpu', each: share } });
    expect(detailText(r!)).toContain('4Gi needs 3 tokens of nvidia.com/gpu (1.6Gi each); the pod asks 1');
    expect(eventText(r!)).toBe('gpu-ledger: pod declares more GPU memory (4Gi) than its nvidia.com/gpu tokens get from the MPS daemon');
  });

  it('4×31.8 GB individual: nvidia.com/gpu2: 1 with 0=4G names the GPU 2 tokens', () => {
    const spec: NodeSpec = { ...AGG, name: 'mps-ind' };
    const l = new Ledger();
    const inv = { ...node(spec), perGpuResources: true };
    l.setNode(inv);
    const d = pod([client({ gpuTokens: new Map([[2, 1]]), memLimitByOrdinal: new Map([[0, 4 * GiB]]) })]);
    const r = refusal(fitPod(d, l.nodes.get('mps-ind')!));
    expect(detailText(r!)).toBe('GPU 2: container "main" declares 4Gi, but its 1 token(s) get 1.6Gi from the MPS daemon: 4Gi needs 3 tokens of nvidia.com/gpu2 (1.6Gi each); the pod asks 1');
    const ok = pod([client({ gpuTokens: new Map([[2, 3]]), memLimitByOrdinal: new Map([[0, 4 * GiB]]) })]);
    const f = fitPod(ok, l.nodes.get('mps-ind')!);
    expect(f.fits && f.takes).toEqual([{ gpu: 2, replicas: 3, memoryBytes: 4 * GiB, threadMilli: 150, clients: 1, mig: null, exclusive: false }]);
  });

  it('4×31.8 GB aggregate: a pod-level declaration (tier or annotation) above its tokens is refused too', () => {
    const r = refusal(placeAll(AGG, [mpsPod(null, null, { declaredMemoryBytes: 8 * GiB }, 2)]).results[0]);
    expect(r?.code).toBe('token-memory');
  });

  it('4×31.8 GB aggregate: 10 tokens hold 15 GiB', () => {
    expect(placeAll(AGG, [mpsPod(null, null, { declaredMemoryBytes: 3 * GiB }, 10)]).results[0].fits).toBe(true);
  });

  it('V100 32 GB: 0=64G is more than the GPU has at all', () => {
    const r = refusal(placeAll(AGG, [mpsPod(64, 50)]).results[0]);
    expect(r).toMatchObject({ code: 'gpu-too-small', requested: 64 * GiB, capacity: V100, resolvable: false });
    expect(eventText(r!)).toBe('gpu-ledger: GPU too small (pod declares 64Gi per GPU)');
  });

  it('GB10 (seed 000): the env sets the limit, so 0=64G on one token is accounted as declared', () => {
    const r = placeAll(GB10, [mpsPod(64, 50)]).results[0];
    expect(r.fits && r.takes[0]).toMatchObject({ memoryBytes: 64 * GiB, threadMilli: 500, replicas: 1 });
    expect(refusal(placeAll(GB10, [mpsPod(200, 10)]).results[0])?.code).toBe('gpu-too-small');
  });

  it('A10 24 GB time-sliced: a pod declaring 30Gi per GPU can never fit', () => {
    const A10: NodeSpec = { name: 'a10', mode: 'time-slicing', gpus: 2, memoryBytes: 23028 * MiB, replicas: 4 };
    const r = refusal(placeAll(A10, [pod([client({ replicas: 1 })], { declaredMemoryBytes: 30 * GiB })]).results[0]);
    expect(r).toMatchObject({ code: 'gpu-too-small', resolvable: false });
  });

  it('T4 ×8 (seed 003): a shared pod next to an exclusive one names the holder and the true counts', () => {
    const T4: NodeSpec = { name: 't4', mode: 'time-slicing', gpus: 1, memoryBytes: 15 * GiB, replicas: 8 };
    const l = new Ledger();
    l.setNode(node(T4));
    const n = l.nodes.get('t4')!;
    const ex = pod([client({ replicas: 1 })], { isolation: 'exclusive', name: 'train', namespace: 'ml' });
    const placed = fitPod(ex, n);
    if (!placed.fits) throw new Error('exclusive job fits an idle T4');
    l.put({ uid: ex.uid, namespace: 'ml', name: 'train', node: 't4', takes: placed.takes, state: 'bound', expiresAt: Infinity });
    const r = refusal(fitPod(pod([client({ replicas: 1 })]), n));
    expect(r).toMatchObject({ code: 'held-exclusive', used: 1, capacity: 8, pods: ['ml/train'] });
    expect(eventText(r!)).toBe('gpu-ledger: GPU held by an exclusive pod');
    expect(detailText(r!)).toBe('the free replicas are on GPUs held exclusively by ml/train (1 of 8 replicas in use; pod needs 1)');
  });

  it('T4 ×8: an exclusive pod next to busy GPUs is told how many pods are there, and which', () => {
    const T4: NodeSpec = { name: 't4', mode: 'time-slicing', gpus: 1, memoryBytes: 15 * GiB, replicas: 8 };
    const l = new Ledger();
    l.setNode(node(T4));
    const n = l.nodes.get('t4')!;
    for (const name of ['a', 'b']) {
      const d = pod([client({ replicas: 1 })], { name, namespace: 'nb' });
      const f = fitPod(d, n);
      if (f.fits) l.put({ uid: d.uid, namespace: 'nb', name, node: 't4', takes: f.takes, state: 'bound', expiresAt: Infinity });
    }
    const r = refusal(fitPod(pod([client({ replicas: 1 })], { isolation: 'exclusive' }), n));
    expect(r).toMatchObject({ code: 'exclusive-busy', used: 2, pods: ['nb/a', 'nb/b'] });
    expect(detailText(r!)).toBe('no idle GPU for an exclusive pod: 2 pod(s) on the GPUs it could use (nb/a, nb/b)');
  });

  it('a two-container pod: the note names the container whose thread share the daemon caps', () => {
    const spec: NodeSpec = { name: 'v', mode: 'mps', gpus: 1, memoryBytes: V100, replicas: 20, mpsDaemonLimits: true };
    const d = pod([client({ container: 'small', replicas: 1, threadMilli: 50 }), client({ container: 'greedy', replicas: 1, threadMilli: 400 })]);
    const r = placeAll(spec, [d]).results[0];
    expect(r.fits).toBe(true);
    if (r.fits) {
      expect(r.takes[0].threadMilli).toBe(50 + 50);
      expect(r.notes.filter((n) => n.code === 'threads-capped').map((n) => n.message)).toEqual([
        'container "greedy": 40% of threads cannot take effect on GPU 0: its 1 replica(s) get 5% from the MPS daemon, and a client\'s env can only lower that',
      ]);
    }
  });
});
