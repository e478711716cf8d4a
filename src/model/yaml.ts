// The one YAML parser of the project (POST /explain bodies, snapshot files, the config file, CLI pod
// files). js-yaml turns an alias (`*a`) into a second reference to the anchored object, so a small
// document can describe an exponentially large tree ("billion laughs"): the parse is quick, but
// every later walk of the result (demand parsing, explain, JSON.stringify) visits each path and
// holds the event loop for seconds or minutes. Kubernetes objects never contain anchors
// (`kubectl get -o yaml` writes none), so anchors are refused at the first one, with its line,
// while the document is still being parsed: the cost of a hostile document is the cost of reading
// it up to that anchor. js-yaml itself bounds nesting (maxDepth) and merge keys (maxTotalMergeKeys).

import yaml, { type LoadOptions } from 'js-yaml';

export class YamlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'YamlError';
  }
}

/** 1-based line of `index` in `text` (only computed for an error). */
function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

const OPTIONS: LoadOptions = {
  json: true,
  listener(event, state) {
    // At a node's close, `state.anchor` is that node's own anchor (js-yaml restores it after the
    // children): the first anchored node ends the parse. Aliases need an anchor, so none survive.
    const anchor = (state as unknown as { anchor: string | null }).anchor;
    if (event !== 'close' || anchor === null || anchor === undefined) return;
    const at = state.input.lastIndexOf(`&${anchor}`, state.position);
    const line = lineAt(state.input, at >= 0 ? at : state.position);
    throw new YamlError(`line ${line}: YAML anchors and aliases are not accepted (found &${anchor.length > 40 ? `${anchor.slice(0, 40)}…` : anchor}); write the value out`);
  },
};

/** Parses one YAML (or JSON) document. Throws YamlError (anchors) or js-yaml's YAMLException. */
export function parseYaml(text: string): unknown {
  const doc = yaml.load(text, OPTIONS);
  assertTree(doc);
  return doc;
}

/** Parses every document of a YAML stream. */
export function parseYamlAll(text: string): unknown[] {
  const docs = yaml.loadAll(text, null, OPTIONS);
  assertTree(docs);
  return docs;
}

/**
 * Backstop for the listener: the result must be a tree (no object reachable twice). One visit
 * per object, so O(size of the parsed text).
 */
function assertTree(root: unknown): void {
  if (root === null || typeof root !== 'object') return;
  const seen = new Set<object>();
  const stack: object[] = [root];
  while (stack.length > 0) {
    const o = stack.pop()!;
    if (seen.has(o)) throw new YamlError('YAML anchors and aliases are not accepted (a value appears twice by reference)');
    seen.add(o);
    for (const v of Array.isArray(o) ? o : Object.values(o)) if (v !== null && typeof v === 'object') stack.push(v as object);
  }
}

/** Data as YAML for people (`kubectl gpu-ledger -o yaml`): no anchors (noRefs), no line folding. */
export function toYaml(value: unknown): string {
  return yaml.dump(value, { noRefs: true, lineWidth: -1, sortKeys: false });
}
