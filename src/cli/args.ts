// Command-line parsing for every gpu-ledger and kubectl-gpu_ledger command: node's parseArgs, with
// its errors said in our words ("unknown flag --snapshots for gpu-ledger explain; did you mean
// --snapshot?") and `-h`/`--help` everywhere. Every mistake is a UsageError: exit code 2.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec {
  /** "gpu-ledger explain", as errors name it. */
  command: string;
  options: Options;
  allowPositionals?: boolean;
}

export type Parsed = { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

function suggest(flag: string, options: Options): string {
  const name = flag.replace(/^-+/, '').split('=')[0];
  let best: string | null = null;
  let bestD = Infinity;
  for (const o of Object.keys(options)) {
    const dd = distance(name, o);
    if (dd < bestD) [best, bestD] = [o, dd];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(name.length / 3)) ? `; did you mean --${best}?` : '';
}

/** Parses argv; `-h`/`--help` returns 'help'. Errors are UsageErrors naming the flag and the command. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): Parsed | 'help' {
  const options: Options = { help: { type: 'boolean', short: 'h' }, ...spec.options };
  const see = `(see ${spec.command} --help)`;
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: spec.allowPositionals ?? false, strict: true }) as Parsed;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
    const flag = quoted.split(' ')[0];
    switch (e.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown flag ${flag} for ${spec.command}${suggest(flag, options)} ${see}`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        throw new UsageError(/does not take an argument/.test(e.message ?? '') ? `flag ${flag} takes no value ${see}` : `flag ${flag} needs a value ${see}`);
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new UsageError(`unexpected argument "${quoted}": ${spec.command} takes flags only ${see}`);
      default:
        throw new UsageError(`${e.message ?? String(err)} ${see}`);
    }
  }
  if (parsed.values.help) return 'help';
  return parsed;
}
