import { describe, expect, it } from 'vitest';
import { gpuFree } from '../../src/gpu/free.js';
import { bestFitChooser, fit, type FitOptions } from '../../src/gpu/place.js';
import { DEFAULT_TIERS, defaultConfig } from '../../src/model/config-types.js';
import type { PodDemand } from '../../src/model/types.js';
import { normalizeScores, scoreNode } from '../../src/prioritize/policy.js';
import { nodeFragmentation, tierFit } from '../../src/prioritize/scorers.js';
import { Ledger, type NodeLedger } from '../../src/state/ledger.js';
import { client, GiB, mpsPod, node, pod, type NodeSpec } from '../helpers/make.js';

const fitPod = (d: PodDemand, n: NodeLedger, o: Partial<FitOptions> = {}) => fit(d, n, { chooser: bestFitChooser, ...o });
const ctx = { tiers: DEFAULT_TIERS, shapes: DEFAULT_TIERS.map((t) => ({ memoryBytes: t.memoryBytes, threadMilli: t.threadMilli, gpus: 1, p: 1 / 3 })) };

function ledgerWith(...specs: NodeSpec[]): Ledger {
  const l = new Ledger();
  for (const s of specs) l.setNode(node(s));
  return l;
}

function score(d: PodDemand, n: NodeLedger, weights = defaultConfig().scoring.weights) {
  const fit = fitPod(d, n);
  if (!fit.fits) throw new Error(`expected ${n.name} to fit: ${JSON.stringify(fit.reasons)}`);
  return scoreNode(d, n, fit.takes, weights, ctx);
}

describe('tier fit', () => {
  it('a small model prefers the small-tier node over a large-tier node', () => {
    const l = ledgerWith(
      { name: 'small', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10, tier: 'small' },
      { name: 'large', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10, tier: 'large' },
    );
    const d = mpsPod(8, 10);
    const s = (n: string) => {
      const node = l.nodes.get(n)!;
      const f = fitPod(d, node);
      return f.fits ? tierFit(d, node, f.takes, ctx)! : -1;
    };
    expect(s('small')).toBeGreaterThan(s('large'));
    expect(score(d, l.nodes.get('small')!).raw).toBeGreaterThan(score(d, l.nodes.get('large')!).raw);
  });

  it('a 10Gi model does not take the 3g.40gb instance when a 1g.10gb fits', () => {
    const l = ledgerWith(
      { name: 'mig-small', mode: 'mig', mig: { '1g.10gb': { count: 7, memoryBytes: 10 * GiB } } },
      { name: 'mig-large', mode: 'mig', mig: { '3g.40gb': { count: 2, memoryBytes: 40 * GiB } } },
    );
    // The same pod asks for "one instance" of whichever profile; model it per node.
    const onSmall = pod([client({ mig: new Map([['nvidia.com/mig-1g.10gb', 1]]) })], { declaredMemoryBytes: 9 * GiB });
    const onLarge = pod([client({ mig: new Map([['nvidia.com/mig-3g.40gb', 1]]) })], { declaredMemoryBytes: 9 * GiB });
    const small = l.nodes.get('mig-small')!;
    const large = l.nodes.get('mig-large')!;
    const fs = fitPod(onSmall, small);
    const fl = fitPod(onLarge, large);
    if (!fs.fits || !fl.fits) throw new Error('both fit');
    expect(tierFit(onSmall, small, fs.takes, ctx)!).toBeGreaterThan(tierFit(onLarge, large, fl.takes, ctx)!);
  });

  it('a GPU smaller than the memory the pod declares is refused, so only the big GPU is ranked', () => {
    const l = ledgerWith(
      { name: 'v100', mode: 'mps', gpus: 4, memoryBytes: 32 * GiB, replicas: 20, mpsDaemonLimits: true },
      { name: 'gb10', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10 },
    );
    const d = mpsPod(64, 50);
    const fv = fitPod(d, l.nodes.get('v100')!);
    expect(fv.fits ? null : fv.reasons[0].code).toBe('gpu-too-small');
    const gb10 = l.nodes.get('gb10')!;
    const fg = fitPod(d, gb10);
    if (!fg.fits) throw new Error('fits');
    expect(tierFit(d, gb10, fg.takes, ctx)).toBeCloseTo(0.5, 5);
  });

  it('a large model on a large-tier node scores full tier fit', () => {
    const l = ledgerWith({ name: 'large', mode: 'mps', memoryBytes: 128 * GiB, replicas: 2, tier: 'large' });
    const n = l.nodes.get('large')!;
    const d = mpsPod(64, 50);
    const f = fitPod(d, n);
    if (!f.fits) throw new Error('fits');
    expect(tierFit(d, n, f.takes, ctx)).toBeCloseTo((1 + 0.5) / 2, 5);
  });
});

describe('fragmentation and packing', () => {
  it('F_n: free capacity on GPUs too small for a shape is fragmented (hand-computed)', () => {
    // Two 16Gi GPUs. GPU0 holds 12Gi (free 4Gi = 0.25 of a GPU), GPU1 idle.
    const l = ledgerWith({ name: 'n', mode: 'mps', gpus: 2, memoryBytes: 16 * GiB, replicas: 100, placement: 'extender' });
    const n = l.nodes.get('n')!;
    const filler = mpsPod(12, 10);
    const f = fitPod(filler, n, { pinned: [0] });
    if (!f.fits) throw new Error('fits');
    l.put({ uid: filler.uid, namespace: 'd', name: 'f', node: 'n', takes: f.takes, state: 'bound', expiresAt: Infinity });
    // Shape A: 8Gi, 10 % — fits GPU1 only; GPU0's 0.25 free is unusable for it → F(A) = 0.25.
    // Shape B: 2Gi, 10 % — fits both → F(B) = 0.
    const shapes = [
      { memoryBytes: 8 * GiB, threadMilli: 100, gpus: 1, p: 0.5 },
      { memoryBytes: 2 * GiB, threadMilli: 100, gpus: 1, p: 0.5 },
    ];
    expect(nodeFragmentation(n, gpuFree(n), shapes)).toBeCloseTo(0.5 * 0.25 + 0.5 * 0, 9);
    // A whole-GPU shape: one idle GPU exists → only GPU0's free share is fragmented.
    expect(nodeFragmentation(n, gpuFree(n), [{ memoryBytes: 16 * GiB, threadMilli: 1000, gpus: 1, p: 1 }])).toBeCloseTo(0.25, 9);
    // Two whole GPUs needed → nothing fits: everything idle (0.25 + 1) is fragmented.
    expect(nodeFragmentation(n, gpuFree(n), [{ memoryBytes: 16 * GiB, threadMilli: 1000, gpus: 2, p: 1 }])).toBeCloseTo(1.25, 9);
  });

  it('prefers the GPU/node the pod fills best (GPU-level best fit)', () => {
    const l = ledgerWith(
      { name: 'busy', mode: 'mps', memoryBytes: 32 * GiB, replicas: 10 },
      { name: 'idle', mode: 'mps', memoryBytes: 32 * GiB, replicas: 10 },
    );
    const busy = l.nodes.get('busy')!;
    const filler = mpsPod(16, 50);
    const f = fitPod(filler, busy);
    if (!f.fits) throw new Error('fits');
    l.put({ uid: filler.uid, namespace: 'd', name: 'f', node: 'busy', takes: f.takes, state: 'bound', expiresAt: Infinity });
    const d = mpsPod(16, 50);
    // binpack (weight 0 by default: the trace replay measured it hurting; config can enable it)
    const withPack = { tierFit: 1, fragmentation: 2, binpack: 1 };
    const sb = score(d, busy, withPack);
    const si = score(d, l.nodes.get('idle')!, withPack);
    expect(sb.components.binpack!).toBeGreaterThan(si.components.binpack!);
    expect(sb.raw).toBeGreaterThan(si.raw);
    // The default policy prefers the busy node too: filling its half-used GPU leaves the idle
    // node's whole GPU for the typical shapes, placing it on the idle node fragments both.
    const db = score(d, busy);
    const di = score(d, l.nodes.get('idle')!);
    expect(db.components.binpack).toBeNull();
    expect(db.raw).toBeGreaterThan(di.raw);
  });

  it('GB10: an 8G/10% pod ranks the GB10 already running a 32G pod above the idle one (a whole GPU stays whole)', () => {
    const l = ledgerWith(
      { name: 'gb10-idle', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10 },
      { name: 'gb10-used', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10 },
    );
    const used = l.nodes.get('gb10-used')!;
    const big = mpsPod(32, 25);
    const f = fitPod(big, used);
    if (!f.fits) throw new Error('fits');
    l.put({ uid: big.uid, namespace: 'd', name: 'big', node: 'gb10-used', takes: f.takes, state: 'bound', expiresAt: Infinity });
    const d = mpsPod(8, 10);
    const si = score(d, l.nodes.get('gb10-idle')!);
    const su = score(d, used);
    // Equal on tier fit and fragmentation; the packing tie-break decides, and normalisation carries it to
    // the wire: one point (a tie-break is less than a quantum of the rating).
    expect(su.components.fragmentation).toBe(si.components.fragmentation);
    expect(su.components.pack!).toBeGreaterThan(si.components.pack!);
    expect(normalizeScores([si.raw, su.raw])).toEqual([9, 10]);
  });

  it('normalisation by rank: the best 10, a point less per quantum below the rating above (at least one); non-fitting nodes 0; all equal keep their absolute score', () => {
    // 0.75 → 10; 0.5 is 2.5 quanta lower → 7; 0.25 another 2.5 → 4.
    expect(normalizeScores([0.25, 0.75, 0.5, null])).toEqual([4, 10, 7, 0]);
    // A difference far below the quantum (a tie-break) still reaches the wire, as one point.
    expect(normalizeScores([0.5, 0.5 + 1e-6, 0.5 + 2e-6])).toEqual([8, 9, 10]);
    // A large one stays large: 8 quanta.
    expect(normalizeScores([0.9, 0.1])).toEqual([10, 2]);
    // Twelve distinct ratings a tie-break apart: 10 down to 0, and 0 below that.
    const twelve = Array.from({ length: 12 }, (_, i) => 0.5 + i * 1e-6);
    expect(normalizeScores(twelve)).toEqual([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Equal ratings share their score wherever they are in the request.
    expect(normalizeScores([0.3, 0.7, 0.3, 0.7, 0.5])).toEqual([6, 10, 6, 10, 8]);
    expect(normalizeScores([0.61, 0.61])).toEqual([6, 6]);
    expect(normalizeScores([0.5])).toEqual([5]);
    expect(normalizeScores([null, null])).toEqual([0, 0]);
    expect(normalizeScores([])).toEqual([]);
    for (const s of normalizeScores([0.1, 0.123, 0.9, 0.77, 0.5])) expect(Number.isInteger(s) && s >= 0 && s <= 10).toBe(true);
  });

  it('normalisation keeps the order of the ratings: a better rating never scores lower, a worse one scores lower unless both reached 0', () => {
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 200; round++) {
      const raws = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => (rand() < 0.1 ? null : Math.round(rand() * 20) / 20 + rand() * 1e-3));
      const scores = normalizeScores(raws);
      for (let i = 0; i < raws.length; i++) {
        for (let j = 0; j < raws.length; j++) {
          const a = raws[i];
          const b = raws[j];
          if (a === null || b === null) continue;
          if (a === b) expect(scores[i]).toBe(scores[j]);
          if (a > b) expect(scores[i] > scores[j] || scores[j] === 0).toBe(true);
        }
      }
      if (raws.some((r) => r !== null)) expect(Math.max(...scores)).toBe(new Set(raws.filter((r) => r !== null)).size === 1 ? scores[raws.findIndex((r) => r !== null)] : 10);
    }
  });
});
