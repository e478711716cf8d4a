// The workload's shape list is the placement epoch every fit and score memo keys on: a refresh
// that yields the same distribution must hand out the same array (nothing to recompute), and a
// changed distribution a new one.
import { describe, expect, it } from 'vitest';
import { WorkloadModel } from '../../src/state/workload.js';

const GiB = 2 ** 30;

describe('workload epoch', () => {
  it('stays the same array while the distribution does not change', () => {
    const w = new WorkloadModel([], { maxShapes: 16, coverage: 0.95, refreshEvery: 4 });
    w.observePod('a', { memoryBytes: 8 * GiB, threadMilli: 100, gpus: 1, cpuMilli: 100 });
    const first = w.shapes();
    for (let i = 0; i < 50; i++) {
      w.observePod(`p${i}`, { memoryBytes: 8 * GiB, threadMilli: 100, gpus: 1, cpuMilli: 100 });
      expect(w.shapes()).toBe(first);
    }
    w.observePod('other', { memoryBytes: 40 * GiB, threadMilli: 500, gpus: 1, cpuMilli: 100 });
    // Refreshed at the next interval: a new shape, a new array, with both shapes.
    for (let i = 0; i < 20; i++) w.observePod(`q${i}`, { memoryBytes: 40 * GiB, threadMilli: 500, gpus: 1, cpuMilli: 100 });
    const after = w.shapes();
    expect(after).not.toBe(first);
    expect(after.map((s) => s.memoryBytes).sort()).toEqual([8 * GiB, 40 * GiB].sort());
    expect(after.reduce((a, s) => a + s.p, 0)).toBeCloseTo(1, 12);
  });
});
