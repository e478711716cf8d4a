// `gpu-ledger replay --nodes <csv> --pods <csv> [--policy a,b] [--seeds 42..51] [--json] [--plot f.svg]`

import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { parseTraceNodes, parseTracePods, type TraceNode, type TracePod } from '../model/trace.js';
import { parseCommand } from './args.js';
import { progressLine, type Progress } from './progress.js';
import { UsageError } from './usage-error.js';
import { POLICIES, runExperiment, type Policy, type RunResult } from './replay/experiment.js';
import { traceShapes, type TraceShape } from './replay/frag.js';
import { renderSvg, renderTable, summarize, type PolicyReport } from './replay/report.js';
import { loadSchedulerModel } from './replay/sched-config.js';

export const REPLAY_USAGE = `usage: gpu-ledger replay --nodes <node csv> --pods <pod csv> [--policy <name>[,<name>...]] [--seeds 42..51] [--json] [--plot <file.svg>] [--quiet]
policies: ${POLICIES.join(', ')} (default: gpu-ledger)`;

export const REPLAY_HELP = `${REPLAY_USAGE}

Placement quality on a GPU-sharing trace (the Alibaba cluster-trace-gpu-v2023 CSVs): each policy ×
seed places the shuffled pods one by one and reports the unallocated GPU share as the workload
arrives. Runs are spread over one worker thread per core.

options:
  --nodes <csv>       openb_node_list_gpu_node.csv
  --pods <csv>        openb_pod_list_<variant>.csv
  --policy <list>     comma-separated policies (default gpu-ledger)
  --seeds <range>     42..51 or a list 1,2,3 (default 42..51)
  --json              the reports as JSON instead of a table
  --plot <file.svg>   also write an SVG plot
  --quiet             no progress line (it is shown on stderr only when stderr is a terminal)
  -h, --help          this help

examples:
  gpu-ledger replay --nodes trace/openb_node_list_gpu_node.csv --pods trace/openb_pod_list_default.csv --policy fgd,gpu-ledger
  gpu-ledger replay --nodes n.csv --pods p.csv --seeds 1..3 --json --quiet > report.json
`;

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
export async function runAll(nodes: TraceNode[], pods: TracePod[], shapes: TraceShape[], jobs: readonly { policy: Policy; seed: number }[], workers = availableParallelism(), onProgress: Progress = () => undefined): Promise<RunResult[]> {
  const workerUrl = new URL('./replay/worker.js', import.meta.url);
  const n = Math.min(workers, jobs.length);
  let done = 0;
  if (n <= 1 || !existsSync(workerUrl)) {
    const scheduler = loadSchedulerModel();
    return jobs.map((j) => {
      const r = runExperiment(nodes, pods, j.policy, j.seed, { shapes, scheduler });
      onProgress(++done, jobs.length, `${j.policy} seed ${j.seed}`);
      return r;
    });
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
          onProgress(++done, jobs.length, `${jobs[m.id].policy} seed ${jobs[m.id].seed}`);
          feed();
        });
        w.on('error', reject);
        feed();
      });
    }),
  );
  return results;
}

export async function replay(nodesFile: string, podsFile: string, policies: Policy[], seeds: number[], onProgress?: Progress): Promise<PolicyReport[]> {
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
  const results = await runAll(nodes, pods, shapes, jobs, availableParallelism(), onProgress);
  return policies.map((policy) => summarize(results.filter((r) => r.policy === policy)));
}

export async function runReplay(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: { isTTY?: boolean; write(s: string): unknown } = process.stderr): Promise<number> {
  const parsed = parseCommand(
    {
      command: 'gpu-ledger replay',
      options: { nodes: { type: 'string' }, pods: { type: 'string' }, policy: { type: 'string' }, seeds: { type: 'string' }, json: { type: 'boolean' }, plot: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
    },
    argv,
  );
  if (parsed === 'help') {
    out(REPLAY_HELP);
    return 0;
  }
  const values = parsed.values as { nodes?: string; pods?: string; policy?: string; seeds?: string; json?: boolean; plot?: string; quiet?: boolean };
  if (!values.nodes || !values.pods) throw new UsageError(`--nodes and --pods are required (see gpu-ledger replay --help)`);
  const policies = (values.policy ?? 'gpu-ledger').split(',').map((s) => s.trim());
  for (const p of policies) if (!(POLICIES as readonly string[]).includes(p)) throw new UsageError(`--policy "${p}" is not one of ${POLICIES.join(', ')}`);
  // Progress on a terminal only: piped or redirected stderr (CI logs, scripts) stays clean.
  const progress: Progress | undefined = err.isTTY && !values.quiet ? progressLine((s) => err.write(s)) : undefined;
  const reports = await replay(values.nodes, values.pods, policies as Policy[], parseSeeds(values.seeds ?? '42..51'), progress);
  if (values.plot) await writeFile(values.plot, renderSvg(reports, `Unallocated GPUs vs arrived workload — ${values.pods.split('/').pop()}`));
  if (values.json) out(JSON.stringify({ policies: reports }) + '\n');
  else out(renderTable(reports) + '\n');
  return 0;
}
