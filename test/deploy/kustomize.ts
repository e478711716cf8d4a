// Kustomize helpers for the deployment tests:
//  - the files a kustomization refers to (resources, components, patches, generator files), to
//    check they exist and respect kustomize's load restrictor;
//  - a static assembly (resources + configMapGenerator, no patches) that needs no binary;
//  - `kubectl kustomize` rendering when kubectl is installed (the full truth, patches included).

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { asList, asRec, isRec, loadYamlDocs, loadYamlText, str, type Rec } from './files.js';

export interface KustomizationRef {
  /** where it is written (for messages) */
  field: string;
  /** as written */
  value: string;
  /** absolute path */
  path: string;
  kind: 'resource' | 'component' | 'patch' | 'generator-file';
}

export function findKustomizationFile(dir: string): string | undefined {
  for (const name of ['kustomization.yaml', 'kustomization.yml', 'Kustomization']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function loadKustomization(dir: string): Rec {
  const file = findKustomizationFile(dir);
  if (!file) throw new Error(`no kustomization in ${dir}`);
  return asRec(loadYamlDocs(file)[0]?.doc);
}

/** `key=path` or `path` in a generator's files list → the path. */
export function generatorFilePath(entry: string): { key: string; path: string } {
  const eq = entry.indexOf('=');
  return eq >= 0 ? { key: entry.slice(0, eq), path: entry.slice(eq + 1) } : { key: basename(entry), path: entry };
}

export function kustomizationRefs(dir: string): KustomizationRef[] {
  const k = loadKustomization(dir);
  const refs: KustomizationRef[] = [];
  const add = (field: string, value: unknown, kind: KustomizationRef['kind']) => {
    if (typeof value === 'string' && !/^[a-z]+:\/\//.test(value)) refs.push({ field, value, path: resolve(dir, value), kind });
  };
  asList(k.resources).forEach((r, i) => add(`resources[${i}]`, r, 'resource'));
  asList(k.components).forEach((r, i) => add(`components[${i}]`, r, 'component'));
  asList(k.patches).forEach((p, i) => add(`patches[${i}].path`, asRec(p).path, 'patch'));
  asList(k.patchesStrategicMerge).forEach((p, i) => add(`patchesStrategicMerge[${i}]`, p, 'patch'));
  for (const gen of ['configMapGenerator', 'secretGenerator']) {
    asList(k[gen]).forEach((g, i) => {
      asList(asRec(g).files).forEach((f, j) => {
        if (typeof f === 'string') add(`${gen}[${i}].files[${j}]`, generatorFilePath(f).path, 'generator-file');
      });
      const envs = asList(asRec(g).envs);
      envs.forEach((f, j) => add(`${gen}[${i}].envs[${j}]`, f, 'generator-file'));
    });
  }
  return refs;
}

/** Problems with a kustomization's references: missing targets, files outside its root. */
export function checkKustomizationRefs(dir: string): string[] {
  const errors: string[] = [];
  for (const ref of kustomizationRefs(dir)) {
    const where = `${relative(process.cwd(), dir)}: ${ref.field} ${ref.value}`;
    if (!existsSync(ref.path)) {
      errors.push(`${where}: does not exist`);
      continue;
    }
    const isDir = statSync(ref.path).isDirectory();
    if ((ref.kind === 'resource' || ref.kind === 'component') && isDir && !findKustomizationFile(ref.path)) errors.push(`${where}: directory without a kustomization`);
    if (ref.kind === 'component' && isDir && kindOfKustomization(ref.path) !== 'Component') errors.push(`${where}: is not a kind: Component`);
    if (ref.kind === 'resource' && isDir && kindOfKustomization(ref.path) === 'Component') errors.push(`${where}: a Component listed under resources`);
    // kustomize's default load restrictor (LoadRestrictionsRootOnly): files must be at or below
    // the kustomization's directory; only other kustomization directories may be elsewhere.
    if (!isDir && !ref.path.startsWith(dir + sep)) errors.push(`${where}: file outside the kustomization root (kustomize refuses it)`);
    if (ref.kind !== 'resource' && ref.kind !== 'component' && isDir) errors.push(`${where}: expected a file`);
  }
  return errors;
}

function kindOfKustomization(dir: string): string | undefined {
  return str(loadKustomization(dir).kind);
}

export interface Assembled {
  docs: Rec[];
  /** patches that the static assembly did not apply */
  unappliedPatches: string[];
}

/**
 * A kustomize subset, enough to cross-check objects without the binary: resources (files and
 * kustomization directories, recursively), components' resources, configMapGenerator with
 * create/replace/merge (no hash suffixes), per-object namespaces as written. Patches are listed,
 * not applied.
 */
export function assemble(dir: string): Assembled {
  const k = loadKustomization(dir);
  const docs: Rec[] = [];
  const unappliedPatches: string[] = [];
  const include = (paths: unknown[]) => {
    for (const r of paths) {
      if (typeof r !== 'string') continue;
      const p = resolve(dir, r);
      if (statSync(p).isDirectory()) {
        const sub = assemble(p);
        docs.push(...sub.docs);
        unappliedPatches.push(...sub.unappliedPatches);
      } else {
        for (const d of loadYamlDocs(p)) if (isRec(d.doc)) docs.push(d.doc);
      }
    }
  };
  include(asList(k.resources));
  include(asList(k.components));
  for (const g of asList(k.configMapGenerator)) {
    const gen = asRec(g);
    const name = str(gen.name) ?? '';
    const namespace = str(gen.namespace) ?? str(k.namespace);
    const data: Record<string, string> = {};
    for (const f of asList(gen.files)) {
      if (typeof f !== 'string') continue;
      const { key, path } = generatorFilePath(f);
      data[key] = readFileSync(resolve(dir, path), 'utf8');
    }
    const existing = docs.find((d) => d.kind === 'ConfigMap' && asRec(d.metadata).name === name && asRec(d.metadata).namespace === namespace);
    const behavior = str(gen.behavior) ?? 'create';
    if (behavior === 'create') {
      if (existing) throw new Error(`${dir}: configMapGenerator ${name} already exists (use behavior: replace or merge)`);
      docs.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(namespace ? { namespace } : {}) }, data });
    } else {
      if (!existing) throw new Error(`${dir}: configMapGenerator ${name} (behavior ${behavior}) has no ConfigMap ${namespace}/${name} to act on`);
      existing.data = behavior === 'replace' ? data : { ...asRec(existing.data), ...data };
    }
  }
  for (const p of asList(k.patches)) unappliedPatches.push(`${dir}: ${str(asRec(p).path) ?? 'inline patch'}`);
  return { docs, unappliedPatches };
}

let kubectlChecked: boolean | undefined;

export function hasKubectlKustomize(): boolean {
  if (kubectlChecked === undefined) {
    try {
      execFileSync('kubectl', ['kustomize', '--help'], { stdio: 'ignore', timeout: 20_000 });
      kubectlChecked = true;
    } catch {
      kubectlChecked = false;
    }
  }
  return kubectlChecked;
}

/** `kubectl kustomize <dir>` → objects. */
export function render(dir: string): Rec[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000, maxBuffer: 32 * 1024 * 1024 });
  return loadYamlText(out).filter(isRec);
}

export function overlayDirs(manifests: string): string[] {
  const root = join(manifests, 'overlays');
  return listDirs(root).filter((d) => findKustomizationFile(d));
}

function listDirs(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .map((n) => join(root, n))
    .filter((p) => statSync(p).isDirectory());
}
