import { describe, expect, it } from 'vitest';
import { fitCached, type Placement } from '../../src/filter/fit-cache.js';
import { bestFitChooser, fit } from '../../src/gpu/place.js';
import { fitKey } from '../../src/gpu/shape.js';
import { Ledger } from '../../src/state/ledger.js';
import { GiB, mpsPod, node } from '../helpers/make.js';

const placement: Placement = { chooser: bestFitChooser, epoch: 'test' };

/**
 * A placement whose chooser counts its calls. On an `extender`-placement node fit asks the chooser
 * for every replica, so a fit computed anew shows in the count and an answer from the memo does
 * not (the answers themselves cannot tell: fit hands out one object for equal answers).
 */
function counting(epoch: unknown): { placement: Placement; calls: () => number } {
  let calls = 0;
  return {
    placement: { epoch, chooser: (n, candidates, shape, c) => (calls++, bestFitChooser(n, candidates, shape, c)) },
    calls: () => calls,
  };
}
const spark = (l: Ledger) => {
  l.setNode(node({ name: 'spark', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10, placement: 'extender' }));
  return l.nodes.get('spark')!;
};

describe('fit cache', () => {
  it('pods of the same shape share a key; identity does not matter, shape does', () => {
    expect(fitKey(mpsPod(8, 10))).toBe(fitKey(mpsPod(8, 10)));
    expect(fitKey(mpsPod(8, 10))).not.toBe(fitKey(mpsPod(8, 20)));
    expect(fitKey(mpsPod(8, 10))).not.toBe(fitKey(mpsPod(8, 10, { isolation: 'exclusive' })));
    expect(fitKey(mpsPod(8, 10))).not.toBe(fitKey(mpsPod(8, 10, { declaredThreadMilli: 100 })));
  });

  it('answers from the cache until the node changes, then recomputes', () => {
    const l = new Ledger();
    const n = spark(l);
    const c = counting('test');
    const first = fitCached(mpsPod(64, 50), n, c.placement);
    expect(c.calls()).toBe(1);
    expect(fitCached(mpsPod(64, 50), n, c.placement)).toBe(first);
    expect(c.calls()).toBe(1); // served from the cache
    // Fill the node: the cached "fits" must not survive the change.
    for (let i = 0; i < 2; i++) {
      const d = mpsPod(64, 50);
      const r = fit(d, n, placement);
      if (!r.fits) throw new Error('fits');
      l.put({ uid: d.uid, namespace: 'x', name: d.uid, node: 'spark', takes: r.takes, state: 'bound', expiresAt: Infinity });
    }
    const after = fitCached(mpsPod(64, 50), n, c.placement);
    expect(after.fits).toBe(false);
    // Releasing one brings the fit back.
    l.remove([...l.pods.keys()][0]);
    expect(fitCached(mpsPod(64, 50), n, c.placement).fits).toBe(true);
  });

  it('a new placement epoch (the chooser\'s inputs changed) is never answered from the old one', () => {
    const l = new Ledger();
    const n = spark(l);
    const c = counting('one');
    fitCached(mpsPod(8, 10), n, c.placement);
    fitCached(mpsPod(8, 10), n, c.placement);
    expect(c.calls()).toBe(1);
    fitCached(mpsPod(8, 10), n, { ...c.placement, epoch: 'other' });
    expect(c.calls()).toBe(2);
  });

  it('shapes asked about once share one probation table, and none is ever answered with another shape\'s answers', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'spark', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10 }));
    const n = l.nodes.get('spark')!;
    // Unique shapes (never asked about in this file before), alternating fits and does-not-fit.
    const shapes = Array.from({ length: 40 }, (_, i) => mpsPod(i % 2 === 0 ? 1 + i / 100 : 200 + i, 7));
    for (let round = 0; round < 3; round++) {
      for (const s of shapes) expect(fitCached(s, n, placement).fits).toBe(fit(s, n, placement).fits);
    }
  });

  it('a shape asked about again gets a table of its own (its first answers, when still at hand)', () => {
    const l = new Ledger();
    const n = spark(l);
    const c = counting('test');
    const known = mpsPod(3, 11);
    fitCached(known, n, c.placement);
    fitCached(mpsPod(3, 12), n, c.placement); // seen once: probation
    fitCached(known, n, c.placement); // seen again: its own table (the probation table held 12)
    expect(c.calls()).toBe(3);
    fitCached(mpsPod(3, 13), n, c.placement); // seen once: probation
    fitCached(known, n, c.placement); // from its own table
    expect(c.calls()).toBe(4);
    // Seen again while the probation table still holds it: the same answers, now its own.
    fitCached(mpsPod(3, 13), n, c.placement);
    expect(c.calls()).toBe(4);
    fitCached(mpsPod(3, 14), n, c.placement); // another one-off: the probation table is reused…
    fitCached(mpsPod(3, 13), n, c.placement); // …and 13's answers are in its own table
    expect(c.calls()).toBe(5);
  });
});
