// Shared helpers for the deployment tests: find and parse the YAML under deploy/, walk pod specs.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEPLOY = join(REPO, 'deploy');

export type Rec = Record<string, unknown>;

export function isRec(v: unknown): v is Rec {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function asRec(v: unknown): Rec {
  return isRec(v) ? v : {};
}

export function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asStrings(v: unknown): string[] {
  return asList(v).filter((x): x is string => typeof x === 'string');
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function rel(path: string): string {
  return relative(REPO, path);
}

/** Every file under `dir` (recursively) whose name ends with one of `exts`. */
export function listFiles(dir: string, exts: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p, exts));
    else if (exts.some((e) => name.endsWith(e))) out.push(p);
  }
  return out;
}

export interface YamlDoc {
  file: string;
  index: number;
  doc: unknown;
}

/** All documents of a YAML file (empty documents dropped). Throws on invalid YAML or duplicate keys. */
export function loadYamlDocs(file: string): YamlDoc[] {
  const docs: YamlDoc[] = [];
  yaml.loadAll(readFileSync(file, 'utf8'), (doc) => {
    if (doc !== null && doc !== undefined) docs.push({ file, index: docs.length, doc });
  });
  return docs;
}

export function loadYamlText(text: string): unknown[] {
  return yaml.loadAll(text).filter((d) => d !== null && d !== undefined);
}

export function deployYamlFiles(): string[] {
  return listFiles(DEPLOY, ['.yaml', '.yml']);
}

export function allDeployDocs(): YamlDoc[] {
  return deployYamlFiles().flatMap(loadYamlDocs);
}

export function kindOf(doc: unknown): string | undefined {
  return str(asRec(doc).kind);
}

export function nameOf(doc: unknown): string | undefined {
  return str(asRec(asRec(doc).metadata).name);
}

export function namespaceOf(doc: unknown): string | undefined {
  return str(asRec(asRec(doc).metadata).namespace);
}

/** gpu-ledger config files (the --config format), recognised by name: not Kubernetes objects. */
export function isLedgerConfigFile(file: string): boolean {
  return /(^|\/)(config|gpu-ledger-config)\.yaml$/.test(file) && file.includes('/manifests/');
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

/** The pod spec inside a workload, a Pod, or a (partial) strategic-merge patch of one. */
export function podSpecOf(doc: unknown): Rec | undefined {
  const kind = kindOf(doc);
  const spec = asRec(asRec(doc).spec);
  if (kind === 'Pod') return spec;
  if (kind !== undefined && WORKLOAD_KINDS.has(kind)) {
    const podSpec = asRec(asRec(spec.template).spec);
    return Object.keys(podSpec).length > 0 ? podSpec : undefined;
  }
  return undefined;
}

export interface ContainerRef {
  name: string;
  /** init container with restartPolicy: Always (a Kubernetes sidecar) or a regular init container */
  init: boolean;
  container: Rec;
}

export function containersOf(podSpec: Rec): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const c of asList(podSpec.initContainers)) out.push({ name: str(asRec(c).name) ?? '', init: true, container: asRec(c) });
  for (const c of asList(podSpec.containers)) out.push({ name: str(asRec(c).name) ?? '', init: false, container: asRec(c) });
  return out;
}

/** Parses `--name=value` / `--name value` / `--flag` style args (positionals kept apart). */
export interface ParsedArg {
  name: string;
  value?: string;
  /** `--name=value` form */
  inline: boolean;
}

export function parseLongArgs(args: readonly string[], takesValue: (name: string) => boolean): { flags: ParsedArg[]; positionals: string[] } {
  const flags: ParsedArg[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq >= 0) {
      flags.push({ name: a.slice(2, eq), value: a.slice(eq + 1), inline: true });
    } else {
      const name = a.slice(2);
      if (takesValue(name) && i + 1 < args.length && !args[i + 1].startsWith('--')) {
        flags.push({ name, value: args[i + 1], inline: false });
        i++;
      } else {
        flags.push({ name, inline: false });
      }
    }
  }
  return { flags, positionals };
}

export function argValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
    if (args[i] === `--${name}` && i + 1 < args.length) return args[i + 1];
  }
  return undefined;
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
