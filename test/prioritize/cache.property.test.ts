// Caches you cannot get wrong: for random ledgers and random pods, what the pipeline answers from
// its per-node memos (fit, score, free capacity) equals what the rules compute from scratch — across pods that
// share a fit shape but differ in tier, CPU or isolation, and across ledger changes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gpuFree } from '../../src/gpu/free.js';
import { fit } from '../../src/gpu/place.js';
import { defaultConfig } from '../../src/model/config-types.js';
import type { PodDemand } from '../../src/model/types.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';
import { normalizeScores, scoreNode } from '../../src/prioritize/policy.js';
import { freeNow } from '../../src/prioritize/scorers.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import { client, GiB, node, pod } from '../helpers/make.js';

const config = defaultConfig();

function freshState(): ClusterState {
  const s = new ClusterState({ config });
  s.resetPods([]);
  s.nodesSynced = true;
  const inv = [
    { ...node({ name: 'gb10', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10, tier: 'large' }), cpuMilli: 20_000 },
    { ...node({ name: 'v100x4', mode: 'mps', gpus: 4, memoryBytes: 32 * GiB, replicas: 20, mpsDaemonLimits: true, placement: 'extender' }), cpuMilli: 64_000 },
    { ...node({ name: 'a10x2', mode: 'time-slicing', gpus: 2, memoryBytes: 24 * GiB, replicas: 4, tier: 'medium', placement: 'extender' }), cpuMilli: 32_000 },
    { ...node({ name: 'mig', mode: 'mig', gpus: 2, mig: { '3g.40gb': { count: 2, memoryBytes: 40 * GiB }, '2g.20gb': { count: 4, memoryBytes: 20 * GiB } } }), cpuMilli: 96_000 },
  ];
  for (const i of inv) s.ledger.setNode(i);
  return s;
}

const podArb = fc.record({
  kind: fc.constantFrom('mps', 'share', 'mig'),
  mem: fc.integer({ min: 1, max: 40 }),
  pct: fc.integer({ min: 1, max: 60 }),
  replicas: fc.integer({ min: 1, max: 3 }),
  exclusive: fc.boolean(),
  tier: fc.constantFrom(null, 'small', 'medium', 'large'),
  cpu: fc.constantFrom(0, 500, 4000, 16_000),
  declared: fc.option(fc.integer({ min: 1, max: 64 }), { nil: null }),
  profile: fc.constantFrom('3g.40gb', '2g.20gb'),
});

type PodSpec = typeof podArb extends fc.Arbitrary<infer T> ? T : never;

function build(p: PodSpec): PodDemand {
  const extra: Partial<PodDemand> = {
    isolation: p.exclusive ? 'exclusive' : 'shared',
    tier: p.tier,
    cpuMilli: p.cpu,
    declaredMemoryBytes: p.declared === null ? null : p.declared * GiB,
  };
  if (p.kind === 'mps') return pod([client({ replicas: p.replicas, memLimitByOrdinal: new Map([[0, p.mem * GiB]]), threadMilli: p.pct * 10 })], extra);
  if (p.kind === 'share') return pod([client({ replicas: p.replicas })], extra);
  return pod([client({ mig: new Map([[`nvidia.com/mig-${p.profile}`, 1]]) })], extra);
}

describe('fit and score caches', () => {
  it('cached answers equal uncached ones, over random ledgers, pods and changes', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ pod: podArb, place: fc.boolean(), drop: fc.nat() }), { minLength: 1, maxLength: 25 }), (steps) => {
        const state = freshState();
        const pipeline = new Pipeline(state);
        const names = [...state.ledger.nodes.keys()];
        for (const step of steps) {
          const d = build(step.pod);
          // A twin with the same fit shape but another tier and CPU: the score memo must not mix them up.
          const twin: PodDemand = { ...d, uid: `${d.uid}-twin`, tier: d.tier === 'small' ? 'large' : 'small', cpuMilli: d.cpuMilli + 1000 };
          for (const q of [d, twin]) {
            const ranked = pipeline.rank(q, names);
            const placement = pipeline.placement();
            const ctx = { tiers: config.tiers, shapes: placement.epoch as never };
            const raws: (number | null)[] = [];
            for (const r of ranked) {
              const n = state.ledger.nodes.get(r.host)!;
              const fresh = fit(q, n, { chooser: placement.chooser });
              expect(r.fit).toEqual(fresh);
              // The memoised free capacity of the node as it is, and "after" built on it, equal a fresh computation.
              expect(freeNow(n)).toEqual(gpuFree(n));
              if (fresh.fits) expect(gpuFree(n, fresh.takes, freeNow(n))).toEqual(gpuFree(n, fresh.takes));
              const want = fresh.fits ? scoreNode(q, n, fresh.takes, config.scoring.weights, ctx) : null;
              expect(r.breakdown).toEqual(want);
              raws.push(want?.raw ?? null);
            }
            expect(ranked.map((r) => r.score)).toEqual(normalizeScores(raws));
          }
          if (step.place) {
            const fitting = pipeline.filter(d, names).passed;
            if (fitting.length > 0) pipeline.reserve(d, fitting[step.drop % fitting.length]);
          } else if (state.ledger.pods.size > 0) {
            state.ledger.remove([...state.ledger.pods.keys()][step.drop % state.ledger.pods.size]);
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});
