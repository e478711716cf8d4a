// `gpu-ledger explain --snapshot <file>... [--config f] [--json] <pod.yaml>`

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { explainPod, renderExplanation } from '../explain/explain.js';
import { loadConfigFile } from '../model/config.js';
import { defaultConfig } from '../model/config-types.js';
import { Pipeline } from '../prioritize/pipeline.js';
import { parseYaml } from '../model/yaml.js';
import { ClusterState } from '../state/cluster-state.js';
import { loadSnapshotFiles } from './snapshot-files.js';

export const EXPLAIN_USAGE = 'usage: gpu-ledger explain --snapshot <cluster.yaml>... [--config <file>] [--json] <pod.yaml>';

export async function runExplain(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { snapshot: { type: 'string', multiple: true }, config: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    out(EXPLAIN_USAGE + '\n');
    return 0;
  }
  if (!values.snapshot?.length || positionals.length !== 1) throw new UsageError(EXPLAIN_USAGE);
  const config = values.config ? loadConfigFile(values.config) : defaultConfig();
  const snap = await loadSnapshotFiles(values.snapshot);
  const state = new ClusterState({ config });
  state.resetNodes(snap.nodes);
  state.resetPods(snap.pods);
  const podFile = positionals[0];
  let pod: unknown;
  try {
    pod = parseYaml(await readFile(podFile, 'utf8'));
  } catch (err) {
    throw new UsageError(`${podFile}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (pod === null || typeof pod !== 'object' || (pod as { kind?: unknown }).kind !== 'Pod') throw new UsageError(`${podFile}: expected a Pod`);
  const e = explainPod(state.parse(pod), new Pipeline(state));
  out(values.json ? JSON.stringify(e, null, 2) + '\n' : renderExplanation(e) + '\n');
  // 0: fits somewhere (or is placed); 1: fits nowhere, or the pod's GPU spec is invalid.
  return e.fitsSomewhere ? 0 : 1;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
