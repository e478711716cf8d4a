import { describe, expect, it } from 'vitest';
import { schedulerSummary, type SchedulerRun, type Variant } from '../../bench/scheduler.js';

function run(variant: Variant, nodes: number, round: number, podsPerSec: number): SchedulerRun {
  return { variant, nodes, pods: 1000, round, podsPerSec, wallSec: 1000 / podsPerSec, annotated: 0, cpuMsPerPod: { extender: 0, scheduler: 0, apiserver: 0, etcd: 0, extenderSystem: 0 } };
}

describe('bench:scheduler summary', () => {
  it('gives the median pods/s and the median of the per-round ratios to the same round’s stub', () => {
    const runs = [
      run('stub', 1000, 1, 50),
      run('gpu-ledger+bind', 1000, 1, 70), // 1.40× its round's stub
      run('stub', 1000, 2, 100),
      run('gpu-ledger+bind', 1000, 2, 90), // 0.90×
      run('stub', 1000, 3, 80),
      run('gpu-ledger+bind', 1000, 3, 60), // 0.75×
      run('stub', 5000, 1, 20),
      run('gpu-ledger', 5000, 1, 19),
    ];
    const lines = schedulerSummary(runs).split('\n');
    expect(lines.find((l) => l.startsWith('| 1000 | stub |'))).toBe('| 1000 | stub | 3 | 80.0 | 1.00× | 1.00×, 1.00×, 1.00× |');
    // The median of the rounds' ratios (0.90), not the ratio of the medians (70 / 80 = 0.875).
    expect(lines.find((l) => l.startsWith('| 1000 | gpu-ledger+bind |'))).toBe('| 1000 | gpu-ledger+bind | 3 | 70.0 | 0.90× | 1.40×, 0.90×, 0.75× |');
    expect(lines.find((l) => l.startsWith('| 5000 | gpu-ledger |'))).toBe('| 5000 | gpu-ledger | 1 | 19.0 | 0.95× | 0.95× |');
    expect(lines.some((l) => l.startsWith('| 1000 | gpu-ledger |'))).toBe(false);
  });

  it('takes the mean of the middle two for an even number of rounds', () => {
    const runs = [run('stub', 1000, 1, 100), run('gpu-ledger', 1000, 1, 80), run('stub', 1000, 2, 100), run('gpu-ledger', 1000, 2, 100)];
    expect(schedulerSummary(runs)).toContain('| 1000 | gpu-ledger | 2 | 90.0 | 0.90× | 0.80×, 1.00× |');
  });
});
