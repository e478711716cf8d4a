// `gpu-ledger replay --nodes <csv> --pods <csv> [--policy a,b] [--seeds 42..51] [--json] [--plot f.svg]`

import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseTraceNodes, parseTracePods } from '../model/trace.js';
import { UsageError } from './explain.js';
import { POLICIES, runExperiment, type Policy } from './replay/experiment.js';
import { traceShapes } from './replay/frag.js';
import { renderSvg, renderTable, summarize, type PolicyReport } from './replay/report.js';

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
  return policies.map((policy) => summarize(seeds.map((seed) => runExperiment(nodes, pods, policy, seed, { shapes }))));
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
