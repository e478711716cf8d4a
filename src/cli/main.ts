// The gpu-ledger CLI: `serve`, `explain`, `replay`, `version`.

import { readFileSync } from 'node:fs';
import { runExplain } from './explain.js';
import { runReplay } from './replay.js';

const HELP = `gpu-ledger — Kubernetes scheduler extender for shared NVIDIA GPUs

usage:
  gpu-ledger serve [--snapshot <file>...] [flags]   serve the extender (see gpu-ledger serve --help)
  gpu-ledger explain --snapshot <file>... [--json] <pod.yaml>
                                                    why each node fits the pod or not
  gpu-ledger replay --nodes <csv> --pods <csv> [--policy a,b] [--seeds 42..51] [--json] [--plot f.svg]
                                                    placement quality on a GPU-sharing trace
  gpu-ledger version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
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
        process.stdout.write(`gpu-ledger ${version()}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        return 0;
      default:
        process.stderr.write(`gpu-ledger: unknown command "${command}"\n${HELP}`);
        return 2;
    }
  } catch (err) {
    // One clear line, no stack trace: these are the user's inputs (files, flags, config).
    process.stderr.write(`gpu-ledger ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}
