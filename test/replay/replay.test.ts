import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runAll, runReplay, parseSeeds } from '../../src/cli/replay.js';
import { gpuPackingScore } from '../../src/cli/replay/baselines.js';
import { podGpuMilli, prng, runExperiment, workloadFor } from '../../src/cli/replay/experiment.js';
import { nodeTraceFrag, traceShapes } from '../../src/cli/replay/frag.js';
import { bucket } from '../../src/cli/replay/report.js';
import { loadSchedulerModel } from '../../src/cli/replay/sched-config.js';
import { bestFitChooser, fit, type FitOptions } from '../../src/gpu/place.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { parsePodDemand } from '../../src/model/demand.js';
import { parseNodeInventory } from '../../src/model/inventory.js';
import { parseTraceNodes, parseTracePods, traceNodeObject, tracePodObject, type TraceNode, type TracePod } from '../../src/model/trace.js';
import type { PodDemand } from '../../src/model/types.js';
import { Ledger, type NodeLedger } from '../../src/state/ledger.js';

const traceNodeInventory = (n: TraceNode) => parseNodeInventory(traceNodeObject(n), defaultConfig())!;
const tracePodDemand = (p: TracePod, uid: string) => parsePodDemand(tracePodObject(p, uid), defaultConfig().tiers);
const fitPod = (d: PodDemand, n: NodeLedger, o: Partial<FitOptions> = {}) => fit(d, n, { chooser: bestFitChooser, ...o });

const nodesCsv = readFileSync('test/fixtures/trace/nodes.csv', 'utf8');
const podsCsv = readFileSync('test/fixtures/trace/pods.csv', 'utf8');

describe('trace CSVs', () => {
  it('parses nodes and sorts pods by name, clamping gpu_milli and reading gpu_spec', () => {
    const nodes = parseTraceNodes(nodesCsv, 'nodes.csv');
    expect(nodes.map((n) => [n.name, n.gpus, n.model])).toEqual([
      ['n-a', 2, 'T4'],
      ['n-b', 1, 'V100M16'],
      ['n-c', 0, ''],
    ]);
    const pods = parseTracePods(podsCsv, 'pods.csv');
    expect(pods.map((p) => p.name)).toEqual(['p-01', 'p-02', 'p-03', 'p-04', 'p-05', 'p-06']);
    expect(pods.find((p) => p.name === 'p-04')).toMatchObject({ gpuMilli: 1000, numGpu: 1, gpuSpec: ['T4'] }); // 2500 → 1000
    expect(pods.find((p) => p.name === 'p-05')).toMatchObject({ gpuMilli: 0, numGpu: 0 }); // ≤ 0 → CPU-only
    expect(pods.find((p) => p.name === 'p-06')!.gpuSpec).toEqual(['V100M16', 'V100M32']);
  });

  it('reads the five-column multigpu files', () => {
    const pods = parseTracePods(readFileSync('test/fixtures/trace/pods-multigpu.csv', 'utf8'), 'm.csv');
    expect(pods.map((p) => [p.name, p.numGpu, p.gpuMilli, p.gpuSpec.length])).toEqual([
      ['m-1', 2, 1000, 0],
      ['m-2', 1, 300, 0],
    ]);
  });

  it('names the file, line and column of a bad value', () => {
    expect(() => parseTraceNodes('sn,cpu_milli,memory_mib,gpu,model\nx,lots,1,1,T4\n', 'bad.csv')).toThrow('bad.csv:2: cpu_milli "lots" is not a number');
    expect(() => parseTracePods('name,cpu_milli\n', 'p.csv')).toThrow(/missing column "memory_mib"/);
  });
});

describe('fragmentation measure (hand-computed)', () => {
  // One T4 node, 2 GPUs; GPU0 holds 700 milli (300 free), GPU1 idle (1000 free). CPU 64000 free.
  const ledger = new Ledger();
  const node = ledger.setNode(traceNodeInventory({ name: 'n', cpuMilli: 64000, memoryMiB: 1, gpus: 2, model: 'T4' }));
  const filler = tracePodDemand({ name: 'f', cpuMilli: 0, memoryMiB: 0, numGpu: 1, gpuMilli: 700, gpuSpec: [] }, 'f');
  const fit = fitPod(filler, node, { pinned: [0] });
  if (!fit.fits) throw new Error('fits');
  ledger.put({ uid: 'f', namespace: 't', name: 'f', node: 'n', takes: fit.takes, state: 'bound', expiresAt: Infinity });
  const shape = (gpuMilli: number, numGpu: number, p: number, extra: { cpuMilli?: number; spec?: string[] } = {}) => ({ cpuMilli: extra.cpuMilli ?? 1000, gpuMilli, numGpu, spec: extra.spec ?? [], p });

  it('a 500-milli shape cannot use GPU0\'s 300: F = 300', () => {
    expect(nodeTraceFrag(node, 64000, 'T4', [shape(500, 1, 1)])).toBeCloseTo(300, 9);
  });
  it('a 200-milli shape fits both GPUs: F = 0', () => {
    expect(nodeTraceFrag(node, 64000, 'T4', [shape(200, 1, 1)])).toBeCloseTo(0, 9);
  });
  it('a 2-GPU whole shape fits nowhere: F = idle = 1300', () => {
    expect(nodeTraceFrag(node, 64000, 'T4', [shape(1000, 2, 1)])).toBeCloseTo(1300, 9);
  });
  it('CPU-only, gpu_spec-excluded and CPU-starved shapes count all idle capacity', () => {
    expect(nodeTraceFrag(node, 64000, 'T4', [shape(0, 0, 1)])).toBeCloseTo(1300, 9);
    expect(nodeTraceFrag(node, 64000, 'T4', [shape(200, 1, 1, { spec: ['V100M16'] })])).toBeCloseTo(1300, 9);
    expect(nodeTraceFrag(node, 500, 'T4', [shape(200, 1, 1)])).toBeCloseTo(1300, 9);
  });
  it('weighted by the shapes\' probabilities: 0.5·300 + 0.25·0 + 0.25·1300 = 475', () => {
    expect(nodeTraceFrag(node, 64000, 'T4', [shape(500, 1, 0.5), shape(200, 1, 0.25), shape(1000, 2, 0.25)])).toBeCloseTo(475, 9);
  });
  it('target workload: most frequent shapes until 95 % of pods, renormalised', () => {
    const pods: TracePod[] = [
      ...Array.from({ length: 19 }, (_, i) => ({ name: `a${i}`, cpuMilli: 1000, memoryMiB: 1, numGpu: 1, gpuMilli: 500, gpuSpec: [] })),
      { name: 'b', cpuMilli: 2000, memoryMiB: 1, numGpu: 1, gpuMilli: 500, gpuSpec: [] },
    ];
    const shapes = traceShapes(pods);
    expect(shapes).toHaveLength(1); // 19/20 = 95 % covered by the first shape
    expect(shapes[0].p).toBe(1);
  });
});

describe('replay bookkeeping', () => {
  const nodes = parseTraceNodes(nodesCsv, 'n').filter((n) => n.gpus > 0);
  const pods = parseTracePods(podsCsv, 'p');
  const total = nodes.reduce((a, n) => a + n.gpus * 1000, 0); // 3000

  it('tops the workload up to 130 % of GPU capacity, never past it', () => {
    const w = workloadFor(pods, total, prng(42));
    const sum = w.reduce((a, p) => a + podGpuMilli(p), 0);
    expect(sum).toBeLessThanOrEqual(1.3 * total);
    expect(sum + Math.min(...pods.filter((p) => podGpuMilli(p) > 0).map(podGpuMilli))).toBeGreaterThan(1.3 * total - 1000);
    expect(w.length).toBeGreaterThan(pods.length);
  });

  it('trims a workload above 130 %', () => {
    const big = Array.from({ length: 10 }, (_, i) => ({ name: `x${i}`, cpuMilli: 1, memoryMiB: 1, numGpu: 1, gpuMilli: 1000, gpuSpec: [] }));
    const w = workloadFor(big, 3000, prng(1));
    expect(w.reduce((a, p) => a + podGpuMilli(p), 0)).toBeLessThanOrEqual(3900);
  });

  it('counts arrived including failed pods, allocated only placed ones, and never overcommits', () => {
    const r = runExperiment(nodes, pods, 'best-fit', 42);
    const last = r.rows[r.rows.length - 1];
    expect(last.arrived).toBeGreaterThanOrEqual(1.3 * total - 1000);
    expect(last.allocated).toBeLessThanOrEqual(total);
    expect(r.failedPods).toBeGreaterThan(0); // 130 % cannot all fit
    expect(r.rows).toHaveLength(r.pods);
    for (let i = 1; i < r.rows.length; i++) expect(r.rows[i].arrived).toBeGreaterThanOrEqual(r.rows[i - 1].arrived);
  });

  it('buckets by round(100·arrived/total), filling empty buckets from x±1', () => {
    const rows = [
      { arrived: 0, allocated: 0, frag: 0, idle: 1000 },
      { arrived: 495, allocated: 400, frag: 100, idle: 600 }, // x = 50 (49.5 rounds to 50)
      { arrived: 505, allocated: 500, frag: 50, idle: 500 }, // x = 51 (50.5 rounds to 51)
      { arrived: 1000, allocated: 900, frag: 10, idle: 100 }, // x = 100
    ];
    const b = bucket(rows, 1000);
    expect(b.unallocated[50]).toBeCloseTo(60, 9);
    expect(b.unallocated[51]).toBeCloseTo(50, 9);
    expect(b.unallocated[52]).toBeCloseTo(50, 9); // empty: mean of 51 and 53 (53 empty too)
    expect(b.unallocated[100]).toBeCloseTo(10, 9);
    expect(b.fragAmount[100]).toBeCloseTo(1, 9);
    expect(Number.isNaN(b.unallocated[75])).toBe(true); // no rows within ±1
  });

  it('parses seed ranges and lists', () => {
    expect(parseSeeds('42..51')).toHaveLength(10);
    expect(parseSeeds('1,5')).toEqual([1, 5]);
    expect(() => parseSeeds('ten')).toThrow(/--seeds/);
  });
});

describe('gpu-ledger replay CLI', () => {
  it('--json prints one object with the documented shape; --plot writes an SVG', async () => {
    let out = '';
    const svg = `${process.env.TMPDIR ?? '/tmp'}/replay-test-${process.pid}.svg`;
    const code = await runReplay(['--nodes', 'test/fixtures/trace/nodes.csv', '--pods', 'test/fixtures/trace/pods.csv', '--policy', 'random,best-fit,fgd,gpu-ledger', '--seeds', '1..3', '--json', '--plot', svg], (s) => (out += s));
    expect(code).toBe(0);
    const j = JSON.parse(out) as { policies: { policy: string; unallocatedAt100: { mean: number; sd: number }; allocatedAtEnd: { mean: number; sd: number }; failedPods: { mean: number }; curve: { arrived: number; unallocated: number }[] }[] };
    expect(j.policies.map((p) => p.policy)).toEqual(['random', 'best-fit', 'fgd', 'gpu-ledger']);
    for (const p of j.policies) {
      expect(typeof p.unallocatedAt100.mean).toBe('number');
      expect(typeof p.unallocatedAt100.sd).toBe('number');
      expect(p.allocatedAtEnd.mean).toBeGreaterThan(0);
      expect(p.failedPods.mean).toBeGreaterThanOrEqual(0);
      expect(p.curve.length).toBeGreaterThan(5);
      expect(p.curve[0]).toHaveProperty('arrived');
      expect(p.curve[0]).toHaveProperty('unallocated');
    }
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*polyline[\s\S]*<\/svg>\n$/);
  });

  it('rejects unknown policies with a clear message', async () => {
    await expect(runReplay(['--nodes', 'a', '--pods', 'b', '--policy', 'magic'])).rejects.toThrow('--policy "magic" is not one of');
  });
});

describe('GpuPacking baseline (the simulator\'s integer score, hand-computed)', () => {
  const setup = (gpus: number, used: number[]) => {
    const ledger = new Ledger();
    const node = ledger.setNode(traceNodeInventory({ name: 'n', cpuMilli: 64000, memoryMiB: 1, gpus, model: 'T4' }));
    used.forEach((milli, gpu) => {
      if (milli <= 0) return;
      const d = tracePodDemand({ name: `u${gpu}`, cpuMilli: 0, memoryMiB: 0, numGpu: 1, gpuMilli: milli, gpuSpec: [] }, `u${gpu}`);
      const f = fitPod(d, node, { pinned: [gpu] });
      if (!f.fits) throw new Error('fits');
      ledger.put({ uid: `u${gpu}`, namespace: 't', name: `u${gpu}`, node: 'n', takes: f.takes, state: 'bound', expiresAt: Infinity });
    });
    return node;
  };
  const res = { cpuFree: 64000, memFree: 1, cpuCap: 64000, model: 'T4' };
  const pod = (numGpu: number, gpuMilli: number) => ({ cpuMilli: 0, memoryMiB: 0, gpuMilliTotal: numGpu * gpuMilli, numGpu, gpuMilli });

  it('an idle node: max(33 − GPUs, GPUs)', () => {
    expect(gpuPackingScore(setup(8, []), [], res, pod(1, 500))).toBe(25);
    expect(gpuPackingScore(setup(2, []), [], res, pod(1, 500))).toBe(31);
  });
  it('a share pod that fits a used GPU: 100 − (free % on it)/10, at least 50', () => {
    // GPU0 holds 700 (30 % free), GPU1 idle: the 200-milli pod goes on GPU0 → 100 − 3 = 97.
    expect(gpuPackingScore(setup(2, [700, 0]), [], res, pod(1, 200))).toBe(97);
  });
  it('a pod that needs idle GPUs of a used node: 50 − idle GPUs taken, at least 33', () => {
    expect(gpuPackingScore(setup(4, [700, 0, 0, 0]), [], res, pod(2, 1000))).toBe(48);
    expect(gpuPackingScore(setup(4, [700, 0, 0, 0]), [], res, pod(1, 500))).toBe(49);
  });
  it('CPU-only pods score 0; a pod that does not fit scores −∞', () => {
    expect(gpuPackingScore(setup(2, [700, 0]), [], res, pod(0, 0))).toBe(0);
    expect(gpuPackingScore(setup(2, [700, 900]), [], res, pod(1, 500))).toBe(-Infinity);
  });
});

describe('runAll', () => {
  it('gives the same runs as calling runExperiment directly, in job order', async () => {
    const nodes = parseTraceNodes(nodesCsv, 'nodes.csv').filter((n) => n.gpus > 0);
    const pods = parseTracePods(podsCsv, 'pods.csv');
    const shapes = traceShapes(pods);
    const jobs = [
      { policy: 'fgd' as const, seed: 1 },
      { policy: 'gpu-ledger' as const, seed: 2 },
      { policy: 'gpu-ledger-alone' as const, seed: 2 },
      { policy: 'random' as const, seed: 3 },
    ];
    const runs = await runAll(nodes, pods, shapes, jobs, 2);
    expect(runs.map((r) => [r.policy, r.seed])).toEqual(jobs.map((j) => [j.policy, j.seed]));
    const scheduler = loadSchedulerModel();
    for (const [i, j] of jobs.entries()) expect(runs[i]).toEqual(runExperiment(nodes, pods, j.policy, j.seed, { shapes, scheduler }));
  });
});
