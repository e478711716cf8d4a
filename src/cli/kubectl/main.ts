// `kubectl gpu-ledger` (the executable bin/kubectl-gpu_ledger on PATH): top, explain, ledger, version.
// Exit codes: 0 done (explain: the pod fits somewhere), 1 explain: fits nowhere, or gpu-ledger / the
// API server refused, 2 usage.

import { renderExplanation, type PodExplanation } from '../../explain/explain.js';
import { MAX_PAGE, type LedgerQuery } from '../../explain/ledger-query.js';
import type { LedgerView } from '../../explain/ledger-view.js';
import { loadConfigFile } from '../../model/config.js';
import { defaultConfig } from '../../model/config-types.js';
import { toYaml } from '../../model/yaml.js';
import { loadKubeConfig } from '../../kube/kubeconfig.js';
import { parseCommand, type Parsed } from '../args.js';
import { UsageError } from '../usage-error.js';
import { packageVersion } from '../version.js';
import { DEFAULT_NAMESPACE, DEFAULT_SERVICE, proxySource, serverSource } from './http-source.js';
import { readPodFile, snapshotSource, SourceError, wholeLedger, type LedgerSource } from './source.js';
import { renderTop } from './top.js';

const SOURCE_HELP = `where the ledger comes from (default: the API server's service proxy, with your kubeconfig):
  --server <url>                 a gpu-ledger status port, e.g. http://127.0.0.1:8889 after
                                 kubectl -n gpu-ledger port-forward svc/gpu-ledger-metrics 8889
  --kubeconfig <file>            kubeconfig (default: KUBECONFIG, then ~/.kube/config)
  --context <name>               kubeconfig context
  --gpu-ledger-namespace <ns>    namespace of gpu-ledger's Service (default ${DEFAULT_NAMESPACE})
  --service <name[:port]>        the status port's Service and port name (default ${DEFAULT_SERVICE})
  --snapshot <file>              offline: v1 List file(s) of Nodes and Pods (kubectl get nodes,pods -A -o yaml)
  --config <file>                with --snapshot: gpu-ledger's config file (pools, tiers)`;

const HELP = `kubectl gpu-ledger — look at gpu-ledger's ledger of shared NVIDIA GPUs

usage:
  kubectl gpu-ledger top [-o wide|json|yaml] [--node N] [--pool P] [--mode M] [-n NS]
                                        per node and GPU: used/total per dimension, pods, exclusive, problems
  kubectl gpu-ledger explain <ns>/<pod> | <pod> -n <ns> | -f <pod.yaml> [-o json|yaml]
                                        why the pod fits each node or not, and what would fit
  kubectl gpu-ledger ledger [-o yaml|json] [filters]
                                        the whole ledger: every node, GPU and pod
  kubectl gpu-ledger version

${SOURCE_HELP}

examples:
  kubectl gpu-ledger top
  kubectl gpu-ledger top -o wide --mode mps -n ai
  kubectl gpu-ledger explain ai/llama-70b
  kubectl gpu-ledger explain -f pod.yaml --server http://127.0.0.1:8889
  kubectl gpu-ledger top --snapshot examples/demo-cluster.yaml
  kubectl gpu-ledger ledger -o json > ledger.json

Install: put bin/kubectl-gpu_ledger on your PATH (npm install -g gpu-ledger does); kubectl finds it.
`;

const SOURCE_OPTIONS = {
  server: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'gpu-ledger-namespace': { type: 'string' },
  service: { type: 'string' },
  snapshot: { type: 'string', multiple: true },
  config: { type: 'string' },
} as const;
const FILTER_OPTIONS = { node: { type: 'string' }, pool: { type: 'string' }, mode: { type: 'string' }, namespace: { type: 'string', short: 'n' } } as const;
const OUTPUT = { output: { type: 'string', short: 'o' } } as const;

type Values = Parsed['values'];
const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

export async function sourceOf(v: Values): Promise<LedgerSource> {
  const snapshot = v.snapshot as string[] | undefined;
  const chosen = [str(v, 'server') !== undefined, Boolean(snapshot?.length), str(v, 'kubeconfig') !== undefined || str(v, 'context') !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new UsageError('choose one source: --server, --snapshot, or the kubeconfig (--kubeconfig/--context)');
  if (snapshot?.length) return snapshotSource(snapshot, str(v, 'config') ? loadConfigFile(str(v, 'config')!) : defaultConfig());
  if (str(v, 'config')) throw new UsageError('--config goes with --snapshot (a running gpu-ledger has its own)');
  const server = str(v, 'server');
  if (server !== undefined) return serverSource(server);
  let kc: ReturnType<typeof loadKubeConfig>;
  try {
    kc = loadKubeConfig(str(v, 'kubeconfig'));
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}; or --server URL`);
  }
  const context = str(v, 'context');
  if (context !== undefined) {
    if (!kc.getContextObject(context)) throw new UsageError(`--context "${context}" is not in the kubeconfig (contexts: ${kc.getContexts().map((c) => c.name).join(', ')})`);
    kc.setCurrentContext(context);
  }
  return proxySource(kc, str(v, 'gpu-ledger-namespace') ?? DEFAULT_NAMESPACE, str(v, 'service') ?? DEFAULT_SERVICE);
}

function queryOf(v: Values, limit = MAX_PAGE, pods?: number): LedgerQuery {
  return { node: str(v, 'node') ?? null, pool: str(v, 'pool') ?? null, mode: str(v, 'mode') ?? null, namespace: str(v, 'namespace') ?? null, limit, offset: 0, pods: pods ?? 16 };
}

function output(v: Values, allowed: readonly string[], fallback: string): string {
  const o = str(v, 'output') ?? fallback;
  if (!allowed.includes(o)) throw new UsageError(`-o "${o}" must be one of ${allowed.join(', ')}`);
  return o;
}

function encode(data: unknown, format: string): string {
  return format === 'json' ? JSON.stringify(data, null, 2) + '\n' : toYaml(data);
}

/** A ledger that is not in sync may be missing pods: say so next to what it shows. */
function warnIfNotReady(v: LedgerView, err: (s: string) => void): void {
  if (!v.ready) err('warning: gpu-ledger\'s ledger is not in sync with the API server (it places nothing until it is): what follows may be missing pods\n');
}

async function top(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const p = parseCommand({ command: 'kubectl gpu-ledger top', options: { ...SOURCE_OPTIONS, ...FILTER_OPTIONS, ...OUTPUT } }, argv);
  if (p === 'help') return help(out);
  const format = output(p.values, ['table', 'wide', 'json', 'yaml'], 'table');
  const v = await wholeLedger(await sourceOf(p.values), queryOf(p.values));
  warnIfNotReady(v, err);
  out(format === 'table' || format === 'wide' ? renderTop(v, format === 'wide') : encode(v, format));
  return 0;
}

async function ledger(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const p = parseCommand({ command: 'kubectl gpu-ledger ledger', options: { ...SOURCE_OPTIONS, ...FILTER_OPTIONS, ...OUTPUT } }, argv);
  if (p === 'help') return help(out);
  const format = output(p.values, ['yaml', 'json'], 'yaml');
  // Every pod of every GPU: smaller pages, more pods listed on each (the server bounds both).
  const v = await wholeLedger(await sourceOf(p.values), queryOf(p.values, 32, 512));
  warnIfNotReady(v, err);
  out(encode(v, format));
  return 0;
}

async function explain(argv: string[], out: (s: string) => void): Promise<number> {
  const p = parseCommand({ command: 'kubectl gpu-ledger explain', options: { ...SOURCE_OPTIONS, ...OUTPUT, namespace: { type: 'string', short: 'n' }, filename: { type: 'string', short: 'f' } }, allowPositionals: true }, argv);
  if (p === 'help') return help(out);
  const format = output(p.values, ['text', 'json', 'yaml'], 'text');
  const file = str(p.values, 'filename');
  let e: PodExplanation;
  if (file !== undefined) {
    if (p.positionals.length > 0) throw new UsageError('give a pod name or -f <file>, not both');
    const text = await readPodFile(file);
    e = await (await sourceOf(p.values)).explainPod(text);
  } else {
    if (p.positionals.length !== 1) throw new UsageError('explain needs one pod: <namespace>/<name>, <name> -n <namespace>, or -f <pod.yaml> (see kubectl gpu-ledger explain --help)');
    const arg = p.positionals[0];
    const [ns, name] = arg.includes('/') ? arg.split('/', 2) : [str(p.values, 'namespace') ?? 'default', arg];
    if (!ns || !name) throw new UsageError(`"${arg}" is not <namespace>/<name>`);
    e = await (await sourceOf(p.values)).explainByName(ns, name);
  }
  out(format === 'text' ? renderExplanation(e) + '\n' : encode(e, format));
  return e.fitsSomewhere ? 0 : 1;
}

function help(out: (s: string) => void): number {
  out(HELP);
  return 0;
}

export async function kubectlMain(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'top':
        return await top(rest, out, err);
      case 'ledger':
        return await ledger(rest, out, err);
      case 'explain':
        return await explain(rest, out);
      case 'version':
      case '--version':
        out(`kubectl-gpu_ledger ${packageVersion()}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        return help(out);
      default:
        throw new UsageError(`unknown command "${command}" (commands: top, explain, ledger, version; see kubectl gpu-ledger --help)`);
    }
  } catch (e) {
    err(`kubectl gpu-ledger${command && !command.startsWith('-') ? ` ${command}` : ''}: ${e instanceof Error ? e.message : String(e)}\n`);
    if (e instanceof UsageError) return 2;
    if (e instanceof SourceError) return e.status === 400 ? 2 : 1;
    // A kubeconfig that cannot be loaded, a config file with errors: the user's input.
    return 2;
  }
}


