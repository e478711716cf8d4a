// `gpu-ledger replay --nodes <csv> --pods <csv> [--policy a,b] [--seeds 42..51] [--json] [--plot f.svg]`

import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { parseTraceNodes, parseTracePods, type TraceNode, type TracePod } from '../model/trace.js';
import { UsageError } from './explain.js';
import { POLICIES, runExperiment, type Policy, type RunResult } from './replay/experiment.js';
import { traceShapes, type TraceShape } from './replay/frag.js';
import { renderSvg, renderTable, summarize, type PolicyReport } from './replay/report.js';
import { loadSchedulerModel } from './replay/sched-config.js';

export const REPLAY_USAGE = `usage: gpu-ledger replay --nodes <node csv> --pods <pod csv> [--policy <name>[,<name>...]] [--seeds 42..51] [--json] [--plot <file.svg>]
policies: ${POLICIES.join(', ')} (default: gpu-ledger)`;

export function parseSeeds(text: string): number[] {
  const range = /^(\d+)\.\.(\d+)$/.exec(text.trim());
  if (range) {
    const [a, b] = [Number(range[1]), Number(range[2])];
    if (b < a || b - a > 1000) throw new UsageError(`--seeds "${text}": expected a..b with a ≤ b (at most 1000 seeds)`);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  const list = text.split(',').map((s) => s.trim());
  if (list.some((s) => !/^\d+$/.test(s))) throw new UsageError(`--seeds "${text}": expected a range (42..51) or a list (1,2,3)`);
  return list.map(Number);
}

/**
 * Runs every (policy, seed) pair: on worker threads (one per core, at most one per run) when the
 * compiled worker exists, else in this thread (tests run from the TypeScript sources).
 */
export async function runAll(nodes: TraceNode[], pods: TracePod[], shapes: TraceShape[], jobs: readonly { policy: Policy; seed: number }[], workers = availableParallelism()): Promise<RunResult[]> {
  const workerUrl = new URL('./replay/worker.js', import.meta.url);
  const n = Math.min(workers, jobs.length);
  if (n <= 1 || !existsSync(workerUrl)) {
    const scheduler = loadSchedulerModel();
    return jobs.map((j) => runExperiment(nodes, pods, j.policy, j.seed, { shapes, scheduler }));
  }
  const results: RunResult[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, () => {
      const w = new Worker(workerUrl, { workerData: { nodes, pods, shapes } });
      return new Promise<void>((resolve, reject) => {
        const feed = () => {
          if (next >= jobs.length) {
            void w.terminate().then(() => resolve());
            return;
          }
          const id = next++;
          w.postMessage({ id, ...jobs[id] });
        };
        w.on('message', (m: { id: number; result: RunResult }) => {
          results[m.id] = m.result;
          feed();
        });
        w.on('error', reject);
        feed();
      });
    }),
  );
  return results;
}

export async function replay(nodesFile: string, podsFile: string, policies: Policy[], seeds: number[]): Promise<PolicyReport[]> {
  const read = async (f: string) => {
    try {
      return await readFile(f, 'utf8');
    } catch (err) {
      throw new UsageError(`${f}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const nodes = parseTraceNodes(await read(nodesFile), nodesFile).filter((n) => n.gpus > 0);
  const pods = parseTracePods(await read(podsFile), podsFile);
  const shapes = traceShapes(pods);
  const jobs = policies.flatMap((policy) => seeds.map((seed) => ({ policy, seed })));
  const results = await runAll(nodes, pods, shapes, jobs);
  return policies.map((policy) => summarize(results.filter((r) => r.policy === policy)));
}

export async function runReplay(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string' },
      pods: { type: 'string' },
      policy: { type: 'string', default: 'gpu-ledger' },
      seeds: { type: 'string', default: '42..51' },
      json: { type: 'boolean', default: false },
      plot: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    out(REPLAY_USAGE + '\n');
    return 0;
  }
  if (!values.nodes || !values.pods) throw new UsageError(REPLAY_USAGE);
  const policies = values.policy.split(',').map((s) => s.trim());
  for (const p of policies) if (!(POLICIES as readonly string[]).includes(p)) throw new UsageError(`--policy "${p}" is not one of ${POLICIES.join(', ')}`);
  const reports = await replay(values.nodes, values.pods, policies as Policy[], parseSeeds(values.seeds));
  if (values.plot) await writeFile(values.plot, renderSvg(reports, `Unallocated GPUs vs arrived workload — ${values.pods.split('/').pop()}`));
  if (values.json) out(JSON.stringify({ policies: reports }) + '\n');
  else out(renderTable(reports) + '\n');
  return 0;
}
