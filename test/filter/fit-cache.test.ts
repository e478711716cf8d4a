import { describe, expect, it } from 'vitest';
import { fitPod } from '../../src/filter/fit.js';
import { demandShapeKey, fitPodCached } from '../../src/filter/fit-cache.js';
import { Ledger } from '../../src/state/ledger.js';
import { GiB, mpsPod, node } from '../helpers/make.js';

describe('fit cache', () => {
  it('pods of the same shape share a key; identity does not matter, shape does', () => {
    expect(demandShapeKey(mpsPod(8, 10))).toBe(demandShapeKey(mpsPod(8, 10)));
    expect(demandShapeKey(mpsPod(8, 10))).not.toBe(demandShapeKey(mpsPod(8, 20)));
    expect(demandShapeKey(mpsPod(8, 10))).not.toBe(demandShapeKey(mpsPod(8, 10, { isolation: 'exclusive' })));
  });

  it('answers from the cache until the node changes, then recomputes', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'spark', mode: 'mps', memoryBytes: 128 * GiB, replicas: 10 }));
    const n = l.nodes.get('spark')!;
    const first = fitPodCached(mpsPod(64, 50), n);
    expect(fitPodCached(mpsPod(64, 50), n)).toBe(first); // same object: served from the cache
    // Fill the node: the cached "fits" must not survive the change.
    for (let i = 0; i < 2; i++) {
      const d = mpsPod(64, 50);
      const r = fitPod(d, n);
      if (!r.fits) throw new Error('fits');
      l.put({ uid: d.uid, namespace: 'x', name: d.uid, node: 'spark', takes: r.takes, state: 'bound', expiresAt: Infinity });
    }
    const after = fitPodCached(mpsPod(64, 50), n);
    expect(after.fits).toBe(false);
    // Releasing one brings the fit back.
    l.remove([...l.pods.keys()][0]);
    expect(fitPodCached(mpsPod(64, 50), n).fits).toBe(true);
  });
});
