// The fit memo keeps answers in arrays indexed by node slot: a slot handed to another node (after a
// deletion), another ledger's node, or an evicted shape must never serve a stale answer.
import { describe, expect, it } from 'vitest';
import { fitCached, type Placement } from '../../src/filter/fit-cache.js';
import { bestFitChooser, fit } from '../../src/gpu/place.js';
import { Ledger } from '../../src/state/ledger.js';
import { GiB, mpsPod, node } from '../helpers/make.js';

const placement: Placement = { chooser: bestFitChooser, epoch: 'slots' };

describe('fit memo by slot', () => {
  it('a slot reused by another node answers for that node', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'big', memoryBytes: 128 * GiB, replicas: 10 }));
    const pod = mpsPod(64, 10);
    const big = l.nodes.get('big')!;
    expect(fitCached(pod, big, placement).fits).toBe(true);
    l.deleteNode('big');
    // The freed slot goes to the next node: a GPU too small for the pod.
    l.setNode(node({ name: 'small', memoryBytes: 16 * GiB, replicas: 10 }));
    const small = l.nodes.get('small')!;
    expect(small.slot).toBe(big.slot);
    const r = fitCached(pod, small, placement);
    expect(r).toEqual(fit(pod, small, placement));
    expect(r.fits).toBe(false);
  });

  it('ledgers do not share answers, and more shapes than the memo keeps stay right', () => {
    const a = new Ledger();
    const b = new Ledger();
    a.setNode(node({ name: 'n', memoryBytes: 128 * GiB, replicas: 10 }));
    b.setNode(node({ name: 'n', memoryBytes: 16 * GiB, replicas: 10 }));
    const na = a.nodes.get('n')!;
    const nb = b.nodes.get('n')!;
    for (let round = 0; round < 2; round++) {
      for (let gib = 1; gib <= 100; gib++) {
        const pod = mpsPod(gib, 10);
        expect(fitCached(pod, na, placement).fits).toBe(gib <= 128);
        expect(fitCached(pod, nb, placement).fits).toBe(gib <= 16);
      }
    }
  });
});
