// Placement quality on the public Alibaba GPU-sharing trace (FGD, USENIX ATC '23): every trace
// variant × policy × seed through `replay`, compared with the paper's published table.
//
//   npm run bench:trace -- [--trace-dir ../shared/trace] [--variants default,cpu050,…]
//                          [--policies fgd,gpu-ledger] [--seeds 42..51] [--plot-dir docs]
//
// Prints a markdown table, writes JSON to bench/results/trace-<date>.json and, with --plot-dir,
// one SVG per variant (unallocated GPU % vs arrived %).

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseSeeds, replay } from '../src/cli/replay.js';
import { POLICIES, type Policy } from '../src/cli/replay/experiment.js';
import { renderSvg, type PolicyReport } from '../src/cli/replay/report.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The paper's table (unallocated GPU % at 100 % arrived, mean over seeds 42..51), from the trace's README. */
export const PUBLISHED: Record<string, Partial<Record<Policy, number>>> = {
  default: { random: 13.7, dotprod: 9.38, 'gpu-packing': 8.22, 'best-fit': 7.14, fgd: 4.77 },
  cpu050: { random: 10.98, dotprod: 6.97, 'gpu-packing': 6.54, 'best-fit': 6.44, fgd: 5.0 },
  cpu100: { random: 12.57, dotprod: 8.27, 'gpu-packing': 7.5, 'best-fit': 6.74, fgd: 4.79 },
  gpushare40: { random: 15.14, dotprod: 10.7, 'gpu-packing': 10.23, 'best-fit': 8.56, fgd: 6.04 },
  gpushare80: { random: 19.38, dotprod: 15.86, 'gpu-packing': 15.35, 'best-fit': 13.34, fgd: 10.92 },
  gpuspec10: { random: 13.74, dotprod: 9.83, 'gpu-packing': 7.76, 'best-fit': 6.9, fgd: 5.34 },
  gpuspec20: { random: 14.1, dotprod: 11.71, 'gpu-packing': 10.72, 'best-fit': 11.54, fgd: 5.34 },
  multigpu20: { random: 13.08, dotprod: 8.15, 'gpu-packing': 6.5, 'best-fit': 6.27, fgd: 4.47 },
  multigpu30: { random: 13.37, dotprod: 6.89, 'gpu-packing': 5.3, 'best-fit': 5.43, fgd: 3.64 },
};

/** The published FGD standard deviations (the same table): the target is an sd at most 1.5× these. */
export const PUBLISHED_FGD_SD: Record<string, number> = {
  default: 0.11,
  cpu050: 0.11,
  cpu100: 0.14,
  gpushare40: 0.07,
  gpushare80: 0.11,
  gpuspec10: 0.19,
  gpuspec20: 0.13,
  multigpu20: 0.16,
  multigpu30: 0.1,
};

/** The targets: at least 0.5 points fewer unallocated GPUs than published FGD, sd at most 1.5× FGD's. */
export const TARGET_MARGIN = 0.5;
export const TARGET_SD_RATIO = 1.5;

const fmt = (r: PolicyReport | undefined) => (r ? `${r.unallocatedAt100.mean.toFixed(2)} (${r.unallocatedAt100.sd.toFixed(2)})` : '—');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'trace-dir': { type: 'string', default: resolve(repo, '..', 'shared', 'trace') },
      variants: { type: 'string', default: Object.keys(PUBLISHED).join(',') },
      policies: { type: 'string', default: 'fgd,gpu-ledger-alone,gpu-ledger' },
      seeds: { type: 'string', default: '42..51' },
      'plot-dir': { type: 'string' },
    },
  });
  const dir = values['trace-dir'];
  const nodesFile = join(dir, 'openb_node_list_gpu_node.csv');
  if (!existsSync(nodesFile)) {
    throw new Error(`${nodesFile} not found: download cluster-trace-gpu-v2023/csv from github.com/alibaba/clusterdata and pass --trace-dir`);
  }
  const policies = values.policies.split(',').map((s) => s.trim()) as Policy[];
  for (const p of policies) if (!(POLICIES as readonly string[]).includes(p)) throw new Error(`--policies: "${p}" is not one of ${POLICIES.join(', ')}`);
  const seeds = parseSeeds(values.seeds);
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown CPU', cores: os.cpus().length, node: process.version, date: new Date().toISOString().slice(0, 10) };

  const results: Record<string, PolicyReport[]> = {};
  const seconds: Record<string, number> = {};
  for (const variant of values.variants.split(',').map((s) => s.trim())) {
    const podsFile = join(dir, `openb_pod_list_${variant}.csv`);
    if (!existsSync(podsFile)) throw new Error(`${podsFile} not found (variants: ${Object.keys(PUBLISHED).join(', ')})`);
    process.stderr.write(`${variant}… `);
    const t0 = performance.now();
    results[variant] = await replay(nodesFile, podsFile, policies, seeds);
    seconds[variant] = (performance.now() - t0) / 1000;
    process.stderr.write(`${seconds[variant].toFixed(0)} s\n`);
    if (values['plot-dir']) {
      mkdirSync(values['plot-dir'], { recursive: true });
      writeFileSync(join(values['plot-dir'], `placement-${variant}.svg`), renderSvg(results[variant], `Unallocated GPUs vs arrived workload — ${variant} (seeds ${values.seeds})`));
    }
  }

  const lines: string[] = [];
  lines.push(`Unallocated GPU % at 100 % arrived, mean (sd) over seeds ${values.seeds}; published = the FGD paper's table.`);
  lines.push(`Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}. Command: \`npm run bench:trace -- --policies ${values.policies} --seeds ${values.seeds}\`.`);
  lines.push('');
  const head = ['trace', ...policies.flatMap((p) => (PUBLISHED.default[p] !== undefined ? [`${p} (published)`, `${p} (ours)`] : [p])), 'gpu-ledger vs published FGD', 'targets (≥ 0.5 pt, sd ≤ 1.5× FGD)'];
  lines.push(`| ${head.join(' | ')} |`);
  lines.push(`|${head.map(() => '---').join('|')}|`);
  for (const [variant, reports] of Object.entries(results)) {
    const cells = [variant];
    for (const p of policies) {
      const r = reports.find((x) => x.policy === p);
      if (PUBLISHED.default[p] !== undefined) cells.push(PUBLISHED[variant]?.[p]?.toFixed(2) ?? '—', fmt(r));
      else cells.push(fmt(r));
    }
    const ours = reports.find((x) => x.policy === 'gpu-ledger');
    const fgd = PUBLISHED[variant]?.fgd;
    cells.push(ours && fgd !== undefined ? `${(ours.unallocatedAt100.mean - fgd).toFixed(2)} pt — ${ours.unallocatedAt100.mean < fgd ? 'fewer unallocated (win)' : 'more unallocated (loss)'}` : '—');
    const sdLimit = TARGET_SD_RATIO * (PUBLISHED_FGD_SD[variant] ?? NaN);
    cells.push(
      ours && fgd !== undefined
        ? `margin ${ours.unallocatedAt100.mean <= fgd - TARGET_MARGIN ? 'met' : 'NOT met'}, sd ${ours.unallocatedAt100.sd <= sdLimit ? 'met' : `NOT met (limit ${sdLimit.toFixed(2)})`}`
        : '—',
    );
    lines.push(`| ${cells.join(' | ')} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');

  const out = join(repo, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `trace-${machine.date}.json`);
  writeFileSync(file, JSON.stringify({ machine, seeds, policies, seconds, results: Object.fromEntries(Object.entries(results).map(([v, rs]) => [v, rs.map(({ curve: _c, ...rest }) => rest)])) }, null, 2) + '\n');
  process.stderr.write(`wrote ${file}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
