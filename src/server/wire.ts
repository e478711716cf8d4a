// kube-scheduler's extender wire types (k8s.io/kube-scheduler/extender/v1: PascalCase keys, the Go
// structs have no json tags) and their validation. Decoding is total: a body is either a typed
// value or a WireError naming the field, and nothing downstream sees unvalidated shapes.

export interface ExtenderArgs {
  Pod: Record<string, unknown>;
  /** Full Node objects (nodeCacheCapable: false). */
  Nodes: { items: Record<string, unknown>[] } | null;
  /** Node names (nodeCacheCapable: true). */
  NodeNames: string[] | null;
}

export interface ExtenderFilterResult {
  Nodes: { metadata: Record<string, unknown>; items: unknown[] } | null;
  NodeNames: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}

export interface HostPriority {
  Host: string;
  Score: number;
}

export interface ExtenderBindingArgs {
  PodName: string;
  PodNamespace: string;
  PodUID: string;
  Node: string;
}

export interface MetaVictims {
  Pods: { UID: string }[];
  NumPDBViolations: number;
}

export interface ExtenderPreemptionArgs {
  Pod: Record<string, unknown>;
  NodeNameToMetaVictims: Record<string, MetaVictims>;
}

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/** Longest name/uid we accept: Kubernetes names are ≤ 253 characters. */
const MAX_NAME = 253;
/** Deepest nesting accepted inside a Pod or Node (real objects stay under ~15). */
const MAX_DEPTH = 64;

function isRec(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkDepth(v: unknown, field: string): void {
  // Iterative so a hostile body cannot overflow our stack.
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d > MAX_DEPTH) throw new WireError(`${field}: nested deeper than ${MAX_DEPTH} levels`);
    for (const c of Object.values(x as Record<string, unknown>)) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
}

function name(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new WireError(`${field} must be a non-empty string, got ${describe(v)}`);
  if (v.length > MAX_NAME) throw new WireError(`${field} is longer than ${MAX_NAME} characters`);
  return v;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function pod(v: unknown): Record<string, unknown> {
  if (!isRec(v)) throw new WireError(`Pod must be a Pod object, got ${describe(v)}`);
  checkDepth(v, 'Pod');
  const md = v.metadata;
  if (md !== undefined && !isRec(md)) throw new WireError(`Pod.metadata must be an object, got ${describe(md)}`);
  if (md && md.uid !== undefined && typeof md.uid !== 'string') throw new WireError(`Pod.metadata.uid must be a string, got ${describe(md.uid)}`);
  if (md && md.uid !== undefined) name(md.uid, 'Pod.metadata.uid');
  if (v.spec !== undefined && !isRec(v.spec)) throw new WireError(`Pod.spec must be an object, got ${describe(v.spec)}`);
  return v;
}

export function decodeExtenderArgs(body: unknown): ExtenderArgs {
  if (!isRec(body)) throw new WireError(`body must be ExtenderArgs {Pod, Nodes, NodeNames}, got ${describe(body)}`);
  const p = pod(body.Pod);
  let names: string[] | null = null;
  let nodes: { items: Record<string, unknown>[] } | null = null;
  if (body.NodeNames !== undefined && body.NodeNames !== null) {
    if (!Array.isArray(body.NodeNames)) throw new WireError(`NodeNames must be an array of strings or null, got ${describe(body.NodeNames)}`);
    const list = body.NodeNames as unknown[];
    // The common case checked inline; the field name is built only for an error.
    for (let i = 0; i < list.length; i++) {
      const n = list[i];
      if (typeof n !== 'string' || n.length === 0 || n.length > MAX_NAME) name(n, `NodeNames[${i}]`);
    }
    names = list as string[];
  }
  if (body.Nodes !== undefined && body.Nodes !== null) {
    if (!isRec(body.Nodes)) throw new WireError(`Nodes must be a NodeList or null, got ${describe(body.Nodes)}`);
    const items = body.Nodes.items ?? [];
    if (!Array.isArray(items)) throw new WireError(`Nodes.items must be an array, got ${describe(items)}`);
    nodes = {
      items: items.map((n, i) => {
        if (!isRec(n) || !isRec(n.metadata)) throw new WireError(`Nodes.items[${i}] must be a Node with metadata`);
        name(n.metadata.name, `Nodes.items[${i}].metadata.name`);
        checkDepth(n, `Nodes.items[${i}]`);
        return n;
      }),
    };
  }
  if (names === null && nodes === null) throw new WireError('one of NodeNames or Nodes must be set');
  return { Pod: p, Nodes: nodes, NodeNames: names };
}

export function decodeBindingArgs(body: unknown): ExtenderBindingArgs {
  if (!isRec(body)) throw new WireError(`body must be ExtenderBindingArgs {PodName, PodNamespace, PodUID, Node}, got ${describe(body)}`);
  return {
    PodName: name(body.PodName, 'PodName'),
    PodNamespace: name(body.PodNamespace, 'PodNamespace'),
    PodUID: name(body.PodUID, 'PodUID'),
    Node: name(body.Node, 'Node'),
  };
}

export function decodePreemptionArgs(body: unknown): ExtenderPreemptionArgs {
  if (!isRec(body)) throw new WireError(`body must be ExtenderPreemptionArgs {Pod, NodeNameToVictims, NodeNameToMetaVictims}, got ${describe(body)}`);
  const p = pod(body.Pod);
  const out: Record<string, MetaVictims> = {};
  const uidsOf = (list: unknown, field: string, key: 'UID' | 'pod'): { UID: string }[] => {
    if (list === null || list === undefined) return [];
    if (!Array.isArray(list)) throw new WireError(`${field} must be an array, got ${describe(list)}`);
    return list.map((v, i) => {
      if (!isRec(v)) throw new WireError(`${field}[${i}] must be an object`);
      if (key === 'UID') return { UID: name(v.UID, `${field}[${i}].UID`) };
      const md = isRec(v.metadata) ? v.metadata : {};
      return { UID: name(md.uid, `${field}[${i}].metadata.uid`) };
    });
  };
  const pdb = (v: unknown, field: string): number => {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new WireError(`${field} must be a non-negative integer, got ${describe(v)}`);
    return v;
  };
  if (body.NodeNameToMetaVictims !== undefined && body.NodeNameToMetaVictims !== null) {
    if (!isRec(body.NodeNameToMetaVictims)) throw new WireError(`NodeNameToMetaVictims must be an object, got ${describe(body.NodeNameToMetaVictims)}`);
    for (const [node, v] of Object.entries(body.NodeNameToMetaVictims)) {
      name(node, 'NodeNameToMetaVictims key');
      if (!isRec(v)) throw new WireError(`NodeNameToMetaVictims[${node}] must be {Pods, NumPDBViolations}`);
      out[node] = { Pods: uidsOf(v.Pods, `NodeNameToMetaVictims[${node}].Pods`, 'UID'), NumPDBViolations: pdb(v.NumPDBViolations, `NodeNameToMetaVictims[${node}].NumPDBViolations`) };
    }
  } else if (body.NodeNameToVictims !== undefined && body.NodeNameToVictims !== null) {
    if (!isRec(body.NodeNameToVictims)) throw new WireError(`NodeNameToVictims must be an object, got ${describe(body.NodeNameToVictims)}`);
    for (const [node, v] of Object.entries(body.NodeNameToVictims)) {
      name(node, 'NodeNameToVictims key');
      if (!isRec(v)) throw new WireError(`NodeNameToVictims[${node}] must be {Pods, NumPDBViolations}`);
      out[node] = { Pods: uidsOf(v.Pods, `NodeNameToVictims[${node}].Pods`, 'pod'), NumPDBViolations: pdb(v.NumPDBViolations, `NodeNameToVictims[${node}].NumPDBViolations`) };
    }
  }
  return { Pod: p, NodeNameToMetaVictims: out };
}
