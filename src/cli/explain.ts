// `gpu-ledger explain --snapshot <file>... [--config f] [--json] <pod.yaml>`

import { readFile } from 'node:fs/promises';
import { explainPod, renderExplanation } from '../explain/explain.js';
import { loadConfigFile } from '../model/config.js';
import { defaultConfig } from '../model/config-types.js';
import { Pipeline } from '../prioritize/pipeline.js';
import { parseYaml } from '../model/yaml.js';
import { parseCommand } from './args.js';
import { loadSnapshotState } from './snapshot-files.js';
import { UsageError } from './usage-error.js';

export { UsageError } from './usage-error.js';

export const EXPLAIN_USAGE = 'usage: gpu-ledger explain --snapshot <cluster.yaml>... [--config <file>] [--json] <pod.yaml>';

export const EXPLAIN_HELP = `${EXPLAIN_USAGE}

Why each GPU node fits the pod or not, and what would fit: the same fit and score code the
extender runs, against a snapshot of the cluster (what \`kubectl get nodes,pods -A -o yaml\` prints).

options:
  --snapshot <file>   v1 List of Nodes and Pods, YAML or JSON (repeat for several files)
  --config <file>     gpu-ledger config file (node pools, tiers, scoring weights)
  --json              the explanation as JSON instead of a table
  -h, --help          this help

exit codes: 0 the pod fits somewhere (or is placed), 1 it fits nowhere or its GPU spec is invalid,
            2 usage error (flags, unreadable files)

examples:
  gpu-ledger explain --snapshot examples/demo-cluster.yaml examples/pods/large-mps.yaml
  kubectl get nodes,pods -A -o yaml > cluster.yaml && gpu-ledger explain --json --snapshot cluster.yaml pod.yaml
  (against a running server: kubectl gpu-ledger explain <ns>/<pod>, or POST the pod to /explain)
`;

export async function runExplain(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const parsed = parseCommand({ command: 'gpu-ledger explain', options: { snapshot: { type: 'string', multiple: true }, config: { type: 'string' }, json: { type: 'boolean' } }, allowPositionals: true }, argv);
  if (parsed === 'help') {
    out(EXPLAIN_HELP);
    return 0;
  }
  const { values, positionals } = parsed;
  const snapshot = values.snapshot as string[] | undefined;
  if (!snapshot?.length) throw new UsageError(`--snapshot <file> is required (see gpu-ledger explain --help)`);
  if (positionals.length !== 1) throw new UsageError(`expected one pod file, got ${positionals.length === 0 ? 'none' : positionals.map((p) => `"${p}"`).join(' ')} (see gpu-ledger explain --help)`);
  const config = values.config ? loadConfigFile(values.config as string) : defaultConfig();
  const state = await loadSnapshotState(snapshot, config);
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
