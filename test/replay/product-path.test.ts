// The replay is the product: every decision the `gpu-ledger` replay policy makes — the filter's
// survivors, prioritize's 0..10 scores, the GPUs bind takes — is what a running server answers to
// the same requests over HTTP, in the same order, on the same nodes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, runExperiment, type RunResult } from '../../src/cli/replay/experiment.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { traceNodeObject, type TraceNode, type TracePod } from '../../src/model/trace.js';
import { post, serve } from '../server/harness.js';

/** A small synthetic trace: a mix of 1-, 2-, 4- and 8-GPU nodes and share, whole and multi-GPU pods. */
function trace(seed: number): { nodes: TraceNode[]; pods: TracePod[] } {
  const r = prng(seed);
  const models = ['T4', 'V100M32', 'A10', 'P100'];
  const nodes = Array.from({ length: 14 }, (_, i) => ({ name: `n-${String(i).padStart(2, '0')}`, cpuMilli: 32_000 + 32_000 * (i % 3), memoryMiB: 262_144, gpus: [1, 2, 4, 8][i % 4], model: models[i % models.length] }));
  const milli = [50, 110, 250, 470, 500, 810, 1000];
  const pods = Array.from({ length: 120 }, (_, i) => {
    const whole = r() < 0.2;
    const numGpu = whole ? 1 + Math.floor(r() * 2) : 1;
    return {
      name: `p-${String(i).padStart(3, '0')}`,
      cpuMilli: 1000 * (1 + Math.floor(r() * 8)),
      memoryMiB: 4096,
      numGpu,
      gpuMilli: whole ? 1000 : milli[Math.floor(r() * milli.length)],
      gpuSpec: r() < 0.1 ? [models[Math.floor(r() * models.length)]] : [],
    };
  });
  return { nodes, pods };
}

describe('replay decisions = server decisions', () => {
  const { nodes, pods } = trace(7);
  let run: RunResult;
  let s: RunningServer;
  beforeAll(async () => {
    run = runExperiment(nodes, pods, 'gpu-ledger', 42, { record: true });
    const dir = mkdtempSync(join(tmpdir(), 'gpu-ledger-replay-'));
    const file = join(dir, 'cluster.json');
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes.map(traceNodeObject) }));
    s = await serve([file]);
  });
  afterAll(async () => {
    await s.close();
  });

  it('filter survivors, prioritize scores and the GPUs bind takes match pod by pod', async () => {
    const decisions = run.decisions!;
    expect(decisions.length).toBe(run.pods);
    let placed = 0;
    for (const d of decisions) {
      const md = d.pod.metadata as { name: string; namespace: string; uid: string };
      if (d.feasible.length === 0) continue;
      const args = { Pod: d.pod, Nodes: null, NodeNames: d.feasible };
      const f = (await post(`${s.url}/filter`, args)).json as { NodeNames: string[] };
      const passed = f.NodeNames;
      if (passed.length > 1) {
        const p = (await post(`${s.url}/prioritize`, { ...args, NodeNames: passed })).json as { Host: string; Score: number }[];
        // Read as kube-scheduler reads it: a host the reply leaves out scores 0.
        const scores: Record<string, number> = Object.fromEntries(passed.map((n) => [n, 0]));
        for (const h of p) {
          expect(passed, md.name).toContain(h.Host);
          expect(h.Score, md.name).not.toBe(0);
          scores[h.Host] = h.Score;
        }
        expect(scores, md.name).toEqual(d.scores);
      }
      if (d.node === null) {
        expect(passed).toEqual([]);
        continue;
      }
      expect(passed).toContain(d.node);
      const b = (await post(`${s.url}/bind`, { PodName: md.name, PodNamespace: md.namespace, PodUID: md.uid, Node: d.node })).json as { Error: string };
      expect(b.Error).toBe('');
      expect(s.state.ledger.pods.get(md.uid)?.sequence, md.name).toEqual(d.gpus);
      placed++;
    }
    expect(placed).toBeGreaterThan(60);
    expect(run.failedPods).toBeGreaterThan(0); // topped up to 130 %: some pods must fail, on both sides
  });
});

describe('replay placements checked by independent accounting', () => {
  it('every GPU pod gets as many distinct GPUs as it asks, on GPUs the node has, and no GPU is given more than all of it', () => {
    const r = prng(11);
    const nodes: TraceNode[] = Array.from({ length: 16 }, (_, i) => ({ name: `m-${i}`, cpuMilli: 96_000, memoryMiB: 786_432, gpus: [1, 2, 4, 8][i % 4], model: 'V100M32' }));
    const pods: TracePod[] = Array.from({ length: 200 }, (_, i) => {
      const numGpu = [1, 1, 1, 2, 4, 8][Math.floor(r() * 6)];
      return { name: `q-${i}`, cpuMilli: 1000, memoryMiB: 1024, numGpu, gpuMilli: numGpu > 1 ? 1000 : [100, 250, 500, 1000][Math.floor(r() * 4)], gpuSpec: [] };
    });
    for (const policy of ['gpu-ledger', 'gpu-ledger-alone', 'fgd', 'best-fit'] as const) {
      const run = runExperiment(nodes, pods, policy, 42, { record: policy.startsWith('gpu-ledger') });
      const final = run.rows[run.rows.length - 1];
      expect(final.allocated).toBeLessThanOrEqual(run.totalGpuMilli);
      if (!run.decisions) continue;
      const used = new Map<string, number>();
      let bigPlaced = 0;
      for (const d of run.decisions) {
        if (d.node === null) continue;
        const p = pods.find((x) => x.name === (d.pod.metadata as { name: string }).name)!;
        const gpus = nodes.find((n) => n.name === d.node)!.gpus;
        expect(new Set(d.gpus).size).toBe(p.numGpu);
        for (const g of d.gpus) {
          expect(g).toBeLessThan(gpus);
          used.set(`${d.node}/${g}`, (used.get(`${d.node}/${g}`) ?? 0) + p.gpuMilli);
        }
        if (p.numGpu === 8) bigPlaced++;
      }
      for (const [gpu, milli] of used) expect(milli, gpu).toBeLessThanOrEqual(1000);
      expect(bigPlaced).toBeGreaterThan(0);
    }
  });
});
