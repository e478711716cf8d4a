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

/**
 * Kubernetes' own limits on the strings gpu-ledger reads (apimachinery validation): object names and
 * node names are DNS subdomains (≤ 253), namespaces DNS labels (≤ 63). A UID is 36 characters; 253
 * still admits any name-like UID a test or another system may use. resourceVersions are etcd
 * revisions (≤ 20 digits); 64 leaves room for opaque ones.
 */
export const LIMITS = {
  name: 253,
  namespace: 63,
  uid: 253,
  resourceVersion: 64,
  labelName: 63,
  labelPrefix: 253,
  labelValue: 63,
  /** Σ (key + value) over an object's annotations (TotalAnnotationSizeLimitB). */
  annotationsTotal: 256 * 1024,
  /**
   * Candidate nodes per request (NodeNames, Nodes.items, NodeNameToMetaVictims): the largest
   * clusters run today have 65,000 nodes (Kubernetes itself is tested at 5,000).
   */
  nodes: 100_000,
  /** Victims proposed on one node: kubelets run at most a few hundred pods (default 110). */
  victimsPerNode: 1000,
} as const;
/** Deepest nesting accepted inside a Pod or Node (real objects stay under ~15). */
const MAX_DEPTH = 64;

function isRec(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkDepth(v: unknown, field: string): void {
  // Iterative so a hostile body cannot overflow our stack; two parallel stacks and for…in, so a
  // well-formed Pod (a few hundred objects with its managedFields) costs no garbage per object.
  const objects: object[] = [];
  const depths: number[] = [];
  if (v !== null && typeof v === 'object') {
    objects.push(v);
    depths.push(0);
  }
  while (objects.length > 0) {
    const x = objects.pop() as Record<string, unknown>;
    const d = depths.pop()!;
    if (d > MAX_DEPTH) throw new WireError(`${field}: nested deeper than ${MAX_DEPTH} levels`);
    for (const k in x) {
      // An own "__proto__" key (JSON.parse makes one) is not what x["__proto__"] reads.
      const c = k === '__proto__' ? Object.getOwnPropertyDescriptor(x, k)?.value : x[k];
      if (c !== null && typeof c === 'object') {
        objects.push(c);
        depths.push(d + 1);
      }
    }
  }
}

/** A value for an error message: strings cut to 40 characters, with their length. */
export function shown(v: string): string {
  return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}… (${v.length} characters)` : JSON.stringify(v);
}

function bounded(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0) throw new WireError(`${field} must be a non-empty string, got ${describe(v)}`);
  if (v.length > max) throw new WireError(`${field} is longer than ${max} characters: ${shown(v)}`);
  return v;
}

function name(v: unknown, field: string): string {
  return bounded(v, field, LIMITS.name);
}

function count(list: { length: number }, field: string, max: number): void {
  if (list.length > max) throw new WireError(`${field} has ${list.length} entries, more than ${max}`);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** A label or annotation key: `[prefix/]name`, prefix ≤ 253, name 1..63. */
function checkKey(key: string, field: string): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  const nm = slash >= 0 ? key.slice(slash + 1) : key;
  if (nm.length === 0 || nm.length > LIMITS.labelName) throw new WireError(`${field}: key ${shown(key)}: the name part must be 1 to ${LIMITS.labelName} characters`);
  if (slash >= 0 && (prefix.length === 0 || prefix.length > LIMITS.labelPrefix)) throw new WireError(`${field}: key ${shown(key)}: the prefix must be 1 to ${LIMITS.labelPrefix} characters`);
}

function checkStringMap(v: unknown, field: string, kind: 'labels' | 'annotations'): void {
  if (v === undefined || v === null) return;
  if (!isRec(v)) throw new WireError(`${field} must be a map of strings, got ${describe(v)}`);
  let total = 0;
  for (const key in v) {
    const value = v[key];
    if (typeof value !== 'string') throw new WireError(`${field}[${shown(key)}] must be a string, got ${describe(value)}`);
    checkKey(key, field);
    if (kind === 'labels' && value.length > LIMITS.labelValue) throw new WireError(`${field}[${shown(key)}] is longer than ${LIMITS.labelValue} characters: ${shown(value)}`);
    total += key.length + value.length;
  }
  if (kind === 'annotations' && total > LIMITS.annotationsTotal) throw new WireError(`${field} total ${total} characters, more than ${LIMITS.annotationsTotal} (256 KiB)`);
}

/** metadata of a Pod or Node from the request: identity strings, labels and annotations bounded. */
function checkMetadata(md: unknown, field: string, nameRequired: boolean): void {
  if (md === undefined && !nameRequired) return;
  if (!isRec(md)) throw new WireError(`${field} must be an object, got ${describe(md)}`);
  if (md.name !== undefined || nameRequired) name(md.name, `${field}.name`);
  if (md.namespace !== undefined && md.namespace !== '') bounded(md.namespace, `${field}.namespace`, LIMITS.namespace);
  if (md.uid !== undefined) bounded(md.uid, `${field}.uid`, LIMITS.uid);
  if (md.resourceVersion !== undefined && md.resourceVersion !== '') bounded(md.resourceVersion, `${field}.resourceVersion`, LIMITS.resourceVersion);
  checkStringMap(md.labels, `${field}.labels`, 'labels');
  checkStringMap(md.annotations, `${field}.annotations`, 'annotations');
}

function pod(v: unknown): Record<string, unknown> {
  if (!isRec(v)) throw new WireError(`Pod must be a Pod object, got ${describe(v)}`);
  checkDepth(v, 'Pod');
  checkMetadata(v.metadata, 'Pod.metadata', false);
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
    count(list, 'NodeNames', LIMITS.nodes);
    // The common case checked inline; the field name is built only for an error.
    for (let i = 0; i < list.length; i++) {
      const n = list[i];
      if (typeof n !== 'string' || n.length === 0 || n.length > LIMITS.name) name(n, `NodeNames[${i}]`);
    }
    names = list as string[];
  }
  if (body.Nodes !== undefined && body.Nodes !== null) {
    if (!isRec(body.Nodes)) throw new WireError(`Nodes must be a NodeList or null, got ${describe(body.Nodes)}`);
    const items = body.Nodes.items ?? [];
    if (!Array.isArray(items)) throw new WireError(`Nodes.items must be an array, got ${describe(items)}`);
    count(items, 'Nodes.items', LIMITS.nodes);
    nodes = {
      items: items.map((n, i) => {
        if (!isRec(n) || !isRec(n.metadata)) throw new WireError(`Nodes.items[${i}] must be a Node with metadata`);
        checkDepth(n, `Nodes.items[${i}]`);
        checkMetadata(n.metadata, `Nodes.items[${i}].metadata`, true);
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
    PodNamespace: bounded(body.PodNamespace, 'PodNamespace', LIMITS.namespace),
    PodUID: bounded(body.PodUID, 'PodUID', LIMITS.uid),
    Node: name(body.Node, 'Node'),
  };
}

export function decodePreemptionArgs(body: unknown): ExtenderPreemptionArgs {
  if (!isRec(body)) throw new WireError(`body must be ExtenderPreemptionArgs {Pod, NodeNameToVictims, NodeNameToMetaVictims}, got ${describe(body)}`);
  const p = pod(body.Pod);
  // No prototype: a node named "__proto__" is a key like any other.
  const out: Record<string, MetaVictims> = Object.create(null) as Record<string, MetaVictims>;
  const uidsOf = (list: unknown, field: string, key: 'UID' | 'pod'): { UID: string }[] => {
    if (list === null || list === undefined) return [];
    if (!Array.isArray(list)) throw new WireError(`${field} must be an array, got ${describe(list)}`);
    count(list, field, LIMITS.victimsPerNode);
    return list.map((v, i) => {
      if (!isRec(v)) throw new WireError(`${field}[${i}] must be an object`);
      if (key === 'UID') return { UID: bounded(v.UID, `${field}[${i}].UID`, LIMITS.uid) };
      const md = isRec(v.metadata) ? v.metadata : {};
      return { UID: bounded(md.uid, `${field}[${i}].metadata.uid`, LIMITS.uid) };
    });
  };
  const pdb = (v: unknown, field: string): number => {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new WireError(`${field} must be a non-negative integer, got ${describe(v)}`);
    return v;
  };
  if (body.NodeNameToMetaVictims !== undefined && body.NodeNameToMetaVictims !== null) {
    if (!isRec(body.NodeNameToMetaVictims)) throw new WireError(`NodeNameToMetaVictims must be an object, got ${describe(body.NodeNameToMetaVictims)}`);
    const entries = Object.entries(body.NodeNameToMetaVictims);
    count(entries, 'NodeNameToMetaVictims', LIMITS.nodes);
    for (const [node, v] of entries) {
      name(node, 'NodeNameToMetaVictims key');
      if (!isRec(v)) throw new WireError(`NodeNameToMetaVictims[${node}] must be {Pods, NumPDBViolations}`);
      out[node] = { Pods: uidsOf(v.Pods, `NodeNameToMetaVictims[${node}].Pods`, 'UID'), NumPDBViolations: pdb(v.NumPDBViolations, `NodeNameToMetaVictims[${node}].NumPDBViolations`) };
    }
  } else if (body.NodeNameToVictims !== undefined && body.NodeNameToVictims !== null) {
    if (!isRec(body.NodeNameToVictims)) throw new WireError(`NodeNameToVictims must be an object, got ${describe(body.NodeNameToVictims)}`);
    const entries = Object.entries(body.NodeNameToVictims);
    count(entries, 'NodeNameToVictims', LIMITS.nodes);
    for (const [node, v] of entries) {
      name(node, 'NodeNameToVictims key');
      if (!isRec(v)) throw new WireError(`NodeNameToVictims[${node}] must be {Pods, NumPDBViolations}`);
      out[node] = { Pods: uidsOf(v.Pods, `NodeNameToVictims[${node}].Pods`, 'pod'), NumPDBViolations: pdb(v.NumPDBViolations, `NodeNameToVictims[${node}].NumPDBViolations`) };
    }
  }
  return { Pod: p, NodeNameToMetaVictims: out };
}
