import { describe, expect, it } from 'vitest';
import { fitCached, type Placement } from '../../src/filter/fit-cache.js';
import { bestFitChooser, fit } from '../../src/gpu/place.js';
import { fitKey } from '../../src/gpu/shape.js';
import { Ledger } from '../../src/state/ledger.js';
import { GiB, mpsPod, node } from '../helpers/make.js';

const placement: Placement = { chooser: bestFitChooser, epoch: 'test' };

describe('fit cache', () => {
  it('pods of the same shape share a key; identity does not matter, shape does', () => {
    expect(fitKey(mpsPod(8, 10))).toBe(fitKey(mpsPod(8, 10)));
    expect(fitKey(mpsPod(8, 10))).not.toBe(fitKey(mpsPod(8, 20)));
    expect(fitKey(mpsPod(8, 10))).not.toBe(fitKey(mpsPod(8, 10, { isolation: 'exclusive' })));
    expect(fitKey(mpsPod(8, 10))).not.toBe(fitKey(mpsPod(8, 10, { declaredThreadMilli: 100 })));
  });

  it('answers from the cache until the node changes, then recomputes', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'spark', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10 }));
    const n = l.nodes.get('spark')!;
    const first = fitCached(mpsPod(64, 50), n, placement);
    expect(fitCached(mpsPod(64, 50), n, placement)).toBe(first); // same object: served from the cache
    // Fill the node: the cached "fits" must not survive the change.
    for (let i = 0; i < 2; i++) {
      const d = mpsPod(64, 50);
      const r = fit(d, n, placement);
      if (!r.fits) throw new Error('fits');
      l.put({ uid: d.uid, namespace: 'x', name: d.uid, node: 'spark', takes: r.takes, state: 'bound', expiresAt: Infinity });
    }
    const after = fitCached(mpsPod(64, 50), n, placement);
    expect(after.fits).toBe(false);
    // Releasing one brings the fit back.
    l.remove([...l.pods.keys()][0]);
    expect(fitCached(mpsPod(64, 50), n, placement).fits).toBe(true);
  });

  it('a new placement epoch (the chooser\'s inputs changed) is never answered from the old one', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'spark', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10 }));
    const n = l.nodes.get('spark')!;
    const a = fitCached(mpsPod(8, 10), n, placement);
    expect(fitCached(mpsPod(8, 10), n, { ...placement, epoch: 'other' })).not.toBe(a);
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
    l.setNode(node({ name: 'spark', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10 }));
    const n = l.nodes.get('spark')!;
    const known = mpsPod(3, 11);
    fitCached(known, n, placement);
    fitCached(mpsPod(3, 12), n, placement); // seen once: probation
    const known2 = fitCached(known, n, placement); // seen again: its own table
    const a1 = fitCached(mpsPod(3, 13), n, placement); // seen once: probation
    expect(fitCached(known, n, placement)).toBe(known2); // from its own table
    // Seen again while the probation table still holds it: the same answers, now its own.
    expect(fitCached(mpsPod(3, 13), n, placement)).toBe(a1);
    fitCached(mpsPod(3, 14), n, placement); // another one-off: the probation table is reused…
    expect(fitCached(mpsPod(3, 13), n, placement)).toBe(a1); // …but 13's answers are no longer in it
  });
});
