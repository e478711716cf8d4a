// Snapshot files: what `kubectl get nodes,pods -A -o yaml` prints — a v1 List of Nodes and Pods,
// in YAML or JSON. Several documents per file and plain Node/Pod documents are accepted too.

import { parseYamlAll } from './yaml.js';

export interface Snapshot {
  nodes: unknown[];
  pods: unknown[];
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

function kindOf(v: unknown): string {
  return v !== null && typeof v === 'object' && typeof (v as { kind?: unknown }).kind === 'string' ? (v as { kind: string }).kind : '';
}

/** Where each item of a snapshot goes. */
export interface SnapshotSink {
  node(item: unknown): void;
  pod(item: unknown): void;
}

/**
 * Sorts one parsed document (or item) into nodes and pods: Lists are walked, Nodes and Pods kept,
 * other kinds (Services, … in a cluster dump) ignored; `where` names it in errors.
 */
export function addSnapshotItem(item: unknown, where: string, source: string, sink: SnapshotSink): void {
  const kind = kindOf(item);
  if (kind === 'Node') sink.node(item);
  else if (kind === 'Pod') sink.pod(item);
  else if (kind === 'List' || kind === 'NodeList' || kind === 'PodList') {
    const items = (item as { items?: unknown }).items;
    if (items === null || items === undefined) return;
    if (!Array.isArray(items)) throw new SnapshotError(`${source}: ${where}.items must be a list, got ${typeof items}`);
    items.forEach((it, i) => addSnapshotItem(it, `${where}.items[${i}]`, source, sink));
  } else if (item !== null && item !== undefined) {
    if (kind === '') throw new SnapshotError(`${source}: ${where} has no kind (expected a v1 List of Nodes and Pods)`);
  }
}

/** The kind of a document whose items were handed over one by one (see snapshot-files.ts): it must be a List. */
export function checkListKind(skeleton: unknown, source: string): void {
  const kind = kindOf(skeleton);
  if (kind !== 'List' && kind !== 'NodeList' && kind !== 'PodList') {
    throw new SnapshotError(`${source}: a document with items must be a v1 List, NodeList or PodList, got ${kind ? `kind ${kind}` : 'no kind'}`);
  }
}

/** Parses one snapshot file's text; `source` names it in errors. */
export function parseSnapshot(text: string, source: string): Snapshot {
  let docs: unknown[];
  try {
    // JSON (kubectl -o json) goes through JSON.parse: several times faster than the YAML parser
    // on a 75 MB cluster dump, with a lower memory peak. (serve streams JSON files item by item:
    // src/cli/snapshot-files.ts.)
    const t = text.trimStart();
    docs = t.startsWith('{') ? [JSON.parse(text) as unknown] : parseYamlAll(text);
  } catch (err) {
    throw new SnapshotError(`${source}: not valid YAML or JSON: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  const out: Snapshot = { nodes: [], pods: [] };
  const sink: SnapshotSink = { node: (n) => out.nodes.push(n), pod: (p) => out.pods.push(p) };
  docs.forEach((d, i) => addSnapshotItem(d, docs.length > 1 ? `document ${i}` : 'document', source, sink));
  return out;
}
