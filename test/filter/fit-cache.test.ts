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
});
