// The shipped KubeSchedulerConfiguration as the replay needs it: how much each gpu-ledger
// extender entry weighs, and how the profile's in-tree resource plugins score. Read from the file
// users deploy, so changing a weight or a scoring strategy there changes what `replay` measures.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseYaml } from '../../model/yaml.js';
import type { InTreeModel } from './kube-scores.js';

export interface SchedulerModel extends InTreeModel {
  /** The file the weights came from (relative to the package root when inside it). */
  source: string;
  /** Weight of the entry with `prioritizeVerb: prioritize` (GPU pods). */
  gpuWeight: number;
  /** Weight of the entry with `prioritizeVerb: prioritize-cpu` (pods without GPUs); 0 when absent. */
  cpuWeight: number;
}

/** The package root: the nearest directory above this file with gpu-ledger's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'gpu-ledger') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the gpu-ledger package root');
    dir = up;
  }
}

export const SHIPPED_SCHEDULER_CONFIG = 'deploy/scheduler-config/default-scheduler.yaml';

interface Extender {
  prioritizeVerb?: unknown;
  weight?: unknown;
}

interface PluginRef {
  name?: unknown;
  weight?: unknown;
}

interface Profile {
  plugins?: { score?: { enabled?: PluginRef[]; disabled?: PluginRef[] } };
  pluginConfig?: { name?: unknown; args?: { scoringStrategy?: { type?: unknown } } }[];
}

export function loadSchedulerModel(path: string = join(packageRoot(), SHIPPED_SCHEDULER_CONFIG)): SchedulerModel {
  const doc = parseYaml(readFileSync(path, 'utf8')) as { extenders?: Extender[]; profiles?: Profile[] } | null;
  const weightOf = (verb: string) => {
    const e = (doc?.extenders ?? []).find((x) => x.prioritizeVerb === verb);
    if (!e) return 0;
    if (typeof e.weight !== 'number' || e.weight <= 0) throw new Error(`${path}: extender with prioritizeVerb ${verb} has no positive weight`);
    return e.weight;
  };
  const profile = doc?.profiles?.[0] ?? {};
  const score = profile.plugins?.score ?? {};
  const disabled = (name: string) => (score.disabled ?? []).some((p) => p.name === name || p.name === '*');
  const pluginWeight = (name: string) => {
    const e = (score.enabled ?? []).find((p) => p.name === name);
    if (e) return typeof e.weight === 'number' ? e.weight : 1;
    return disabled(name) ? 0 : 1;
  };
  const strategy = profile.pluginConfig?.find((c) => c.name === 'NodeResourcesFit')?.args?.scoringStrategy?.type;
  const root = packageRoot();
  return {
    source: path.startsWith(root) ? path.slice(root.length + 1) : path,
    gpuWeight: weightOf('prioritize'),
    cpuWeight: weightOf('prioritize-cpu'),
    fitStrategy: strategy === 'MostAllocated' ? 'MostAllocated' : 'LeastAllocated',
    fitWeight: pluginWeight('NodeResourcesFit'),
    balancedWeight: pluginWeight('NodeResourcesBalancedAllocation'),
  };
}
