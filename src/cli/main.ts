// The gpu-ledger CLI: `serve`, `explain`, `replay`, `version`, `help`.

import { EXPLAIN_HELP, runExplain } from './explain.js';
import { REPLAY_HELP, runReplay } from './replay.js';
import { UsageError } from './usage-error.js';
import { packageVersion } from './version.js';

const HELP = `gpu-ledger — Kubernetes scheduler extender for shared NVIDIA GPUs

usage:
  gpu-ledger serve [--snapshot <file>...] [flags]   serve the extender, the status port and the ledger page
  gpu-ledger explain --snapshot <file>... [--json] <pod.yaml>
                                                    why each node fits the pod or not, and what would
  gpu-ledger replay --nodes <csv> --pods <csv> [--policy a,b] [--seeds 42..51] [--json] [--plot f.svg]
                                                    placement quality on a GPU-sharing trace
  gpu-ledger version                                the version (also --version)
  gpu-ledger help [command]                         this help, or a command's (also <command> --help)

Against a running gpu-ledger, use the kubectl plugin: kubectl gpu-ledger top | explain | ledger.

examples:
  gpu-ledger serve --snapshot examples/demo-cluster.yaml
  gpu-ledger explain --snapshot examples/demo-cluster.yaml examples/pods/large-mps.yaml
`;

const COMMANDS = ['serve', 'explain', 'replay', 'version', 'help'];

async function serveHelp(): Promise<string> {
  return (await import('./serve.js')).SERVE_USAGE;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const { runServe } = await import('./serve.js');
        return await runServe(rest);
      }
      case 'explain':
        return await runExplain(rest);
      case 'replay':
        return await runReplay(rest);
      case 'version':
      case '--version':
      case '-v':
        process.stdout.write(`gpu-ledger ${packageVersion()}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h': {
        const about = command === 'help' ? rest[0] : undefined;
        const texts: Record<string, () => Promise<string> | string> = { serve: serveHelp, explain: () => EXPLAIN_HELP, replay: () => REPLAY_HELP, version: () => 'usage: gpu-ledger version\n', help: () => HELP };
        if (about !== undefined && !texts[about]) throw new UsageError(`unknown command "${about}" (commands: ${COMMANDS.join(', ')})`);
        process.stdout.write(await (about ? texts[about]() : HELP));
        return 0;
      }
      default:
        process.stderr.write(`gpu-ledger: unknown command "${command}" (commands: ${COMMANDS.join(', ')}; see gpu-ledger --help)\n`);
        return 2;
    }
  } catch (err) {
    // One clear line, no stack trace: these are the user's inputs (files, flags, config).
    process.stderr.write(`gpu-ledger ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}
