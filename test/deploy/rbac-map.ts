// What gpu-ledger's Kubernetes API calls need in RBAC terms, and a scanner that finds those calls
// in the source. rbac.test.ts scans src/kube/ with it, so the permissions the ClusterRole must grant
// are derived from the code rather than written down by hand, and it checks this table against the
// generated client (the HTTP method and path each method really uses).

export interface Permission {
  /** "" for the core group */
  apiGroup: string;
  /** resource or resource/subresource */
  resource: string;
  verb: string;
}

export type ApiClass = 'CoreV1Api' | 'EventsV1Api' | 'CoordinationV1Api' | 'PolicyV1Api';

/** The API classes the table knows; a client of any other class is reported, never ignored. */
export const API_CLASSES: readonly ApiClass[] = ['CoreV1Api', 'EventsV1Api', 'CoordinationV1Api', 'PolicyV1Api'];

export interface MethodRule extends Permission {
  api: ApiClass;
}

const core = (resource: string, verb: string): MethodRule => ({ api: 'CoreV1Api', apiGroup: '', resource, verb });

/**
 * @kubernetes/client-node 1.x API methods → permission. Methods of the same name on different API
 * classes (createNamespacedEvent on CoreV1Api and EventsV1Api) list both; the scanner keeps those
 * whose class the file references.
 */
export const METHOD_RULES: Readonly<Record<string, readonly MethodRule[]>> = {
  // nodes
  listNode: [core('nodes', 'list')],
  readNode: [core('nodes', 'get')],
  patchNode: [core('nodes', 'patch')],
  replaceNode: [core('nodes', 'update')],
  readNodeStatus: [core('nodes/status', 'get')],
  patchNodeStatus: [core('nodes/status', 'patch')],
  // pods
  listPodForAllNamespaces: [core('pods', 'list')],
  listNamespacedPod: [core('pods', 'list')],
  readNamespacedPod: [core('pods', 'get')],
  patchNamespacedPod: [core('pods', 'patch')],
  replaceNamespacedPod: [core('pods', 'update')],
  deleteNamespacedPod: [core('pods', 'delete')],
  readNamespacedPodStatus: [core('pods/status', 'get')],
  patchNamespacedPodStatus: [core('pods/status', 'patch')],
  replaceNamespacedPodStatus: [core('pods/status', 'update')],
  createNamespacedPodEviction: [core('pods/eviction', 'create')],
  // binding: the pod subresource, and the legacy namespaced "bindings" collection
  createNamespacedPodBinding: [core('pods/binding', 'create')],
  createNamespacedBinding: [core('bindings', 'create')],
  // events, both groups
  createNamespacedEvent: [core('events', 'create'), { api: 'EventsV1Api', apiGroup: 'events.k8s.io', resource: 'events', verb: 'create' }],
  patchNamespacedEvent: [core('events', 'patch'), { api: 'EventsV1Api', apiGroup: 'events.k8s.io', resource: 'events', verb: 'patch' }],
  // PodDisruptionBudgets (preemption orders victims by the budgets they would violate)
  listPodDisruptionBudgetForAllNamespaces: [{ api: 'PolicyV1Api', apiGroup: 'policy', resource: 'poddisruptionbudgets', verb: 'list' }],
  listNamespacedPodDisruptionBudget: [{ api: 'PolicyV1Api', apiGroup: 'policy', resource: 'poddisruptionbudgets', verb: 'list' }],
  // other objects a scheduler extender might read
  listNamespace: [core('namespaces', 'list')],
  readNamespace: [core('namespaces', 'get')],
  readNamespacedConfigMap: [core('configmaps', 'get')],
  // leases (leader election of its own)
  readNamespacedLease: [{ api: 'CoordinationV1Api', apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'get' }],
  createNamespacedLease: [{ api: 'CoordinationV1Api', apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'create' }],
  replaceNamespacedLease: [{ api: 'CoordinationV1Api', apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'update' }],
};

/** The API server path of a collection or object → (group, resource). Undefined if not an API path. */
export function resourceOfPath(path: string): { apiGroup: string; resource: string; named: boolean } | undefined {
  const p = path.split('?')[0].replace(/\/+$/, '');
  let m = /^\/api\/v1\/(.*)$/.exec(p);
  let group = '';
  let rest: string;
  if (m) rest = m[1];
  else {
    m = /^\/apis\/([^/]+)\/[^/]+\/(.*)$/.exec(p);
    if (!m) return undefined;
    group = m[1];
    rest = m[2];
  }
  const parts = rest.split('/').filter((s) => s !== '');
  // /namespaces/{ns}/<resource>/... (but /namespaces and /namespaces/{name} are the namespace itself)
  if (parts[0] === 'namespaces' && parts.length >= 3) parts.splice(0, 2);
  if (parts.length === 0) return undefined;
  const [resource, name, sub] = parts;
  return { apiGroup: group, resource: sub ? `${resource}/${sub}` : resource, named: name !== undefined };
}

/** RBAC verb of an HTTP request on a path (as the API server's request info computes it). */
export function verbOfRequest(method: string, path: string): string | undefined {
  const r = resourceOfPath(path);
  if (!r) return undefined;
  switch (method.toUpperCase()) {
    case 'GET':
      return r.named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return r.named ? 'delete' : 'deletecollection';
    default:
      return undefined;
  }
}

export interface ScanResult {
  permissions: Permission[];
  /** the calls that were found, for reporting (method names and watched paths) */
  calls: string[];
  /** things that look like API access the table cannot map: the test fails on them */
  unmapped: string[];
}

/** Generic client entry points whose permissions cannot be read off the call site. */
const OPAQUE_CLIENTS = ['KubernetesObjectApi', 'makeApiClient(CustomObjectsApi', '.request('];

/**
 * Finds API calls in TypeScript source text:
 *  - `<client>.method(` for every method in METHOD_RULES, where <client> is a variable or field
 *    assigned from `makeApiClient(<ApiClass>)` (or typed as one); its class picks the rule, so
 *    CoreV1Api and EventsV1Api events are told apart. In a file that creates no client (a sample,
 *    or clients passed in), any receiver counts;
 *  - plain requests `.send('POST', `/api/v1/namespaces/${ns}/pods/${name}/binding`, …)` (and
 *    `.request(…)`): the verb from the HTTP method and the literal path; a non-literal path → unmapped;
 *  - string literals that are collection paths ('/api/v1/nodes', `/api/v1/namespaces/${ns}/pods`),
 *    as used with Watch.watch / makeInformer → list + watch;
 *  - other API path literals, generic clients, and methods of the client's API classes that the
 *    table lacks (`knownApiMethods`) called on a client → unmapped (someone must extend the table).
 */
export function scanSource(text: string, knownApiMethods: ReadonlySet<string> = new Set()): ScanResult {
  const code = stripComments(text);
  const permissions: Permission[] = [];
  const calls: string[] = [];
  const unmapped: string[] = [];
  const apiClasses: readonly string[] = API_CLASSES;
  // receiver expression (as written, `this.` kept) → API class
  const clients = new Map<string, string>();
  for (const m of code.matchAll(/((?:this\.)?[A-Za-z_$][\w$]*)\s*=\s*[\w$.]+\.makeApiClient\(\s*([A-Za-z_$][\w$]*Api)\s*\)/g)) clients.set(m[1], m[2]);
  for (const m of code.matchAll(/(?:private|public|protected|readonly|\s)\s*([A-Za-z_$][\w$]*)\s*:\s*([A-Za-z_$][\w$]*Api)\b/g)) {
    if (!clients.has(m[1])) clients.set(`this.${m[1]}`, m[2]);
    if (!clients.has(m[1])) clients.set(m[1], m[2]);
  }
  const anyReceiver = clients.size === 0;
  const mentioned = apiClasses.filter((c) => code.includes(c));
  for (const m of code.matchAll(/((?:this\.)?[A-Za-z_$][\w$]*)\s*\.\s*([A-Za-z_$][\w$]*)\s*\(/g)) {
    const [, receiver, name] = m;
    const cls = clients.get(receiver);
    if (!anyReceiver && cls === undefined) continue;
    if (cls !== undefined && !apiClasses.includes(cls)) {
      unmapped.push(`${cls}.${name}() (API class not in the table: add it to API_CLASSES and METHOD_RULES)`);
      continue;
    }
    // Own entries only: `x.toString(` must not find Object.prototype.toString.
    const rules = Object.hasOwn(METHOD_RULES, name) ? METHOD_RULES[name] : undefined;
    if (rules) {
      const pick = cls !== undefined ? rules.filter((r) => r.api === cls) : rules.filter((r) => mentioned.length === 0 || mentioned.includes(r.api));
      if (pick.length === 0) {
        unmapped.push(`${cls ?? '?'}.${name}() (no rule for this API class)`);
        continue;
      }
      for (const r of pick) permissions.push({ apiGroup: r.apiGroup, resource: r.resource, verb: r.verb });
      calls.push(name);
    } else if (knownApiMethods.has(name)) {
      unmapped.push(`${name}() (add it to METHOD_RULES)`);
    }
  }
  // Plain requests (src/kube/api-write.ts): `.send('POST', `/api/v1/…`)` — the verb from the HTTP
  // method and the path, as the API server's request info computes it. The path must be a literal.
  const written = new Set<number>();
  // What is left once the mapped plain requests are taken out (for the generic-client check below).
  let rest = code;
  for (const m of code.matchAll(/\.(?:send|request)\(\s*'([A-Z]+)'\s*,\s*(?:(['"`])(\/apis?\/[^'"`\s]*)\2)?/g)) {
    const [, method, , raw] = m;
    const path = raw?.replace(/\$\{[^}]*\}/g, '{x}');
    const r = path ? resourceOfPath(path) : undefined;
    const verb = path ? verbOfRequest(method, path) : undefined;
    if (!r || !verb) {
      unmapped.push(`${method} request without a literal API path (its permission cannot be derived)`);
      continue;
    }
    written.add(m.index + m[0].indexOf(raw));
    rest = rest.replace(m[0], '');
    permissions.push({ apiGroup: r.apiGroup, resource: r.resource, verb });
    calls.push(`${method} ${raw}`);
  }
  for (const m of code.matchAll(/(['"`])(\/apis?\/[^'"`\s]*)\1/g)) {
    if (written.has(m.index + 1)) continue;
    const path = m[2].replace(/\$\{[^}]*\}/g, '{x}');
    const r = resourceOfPath(path);
    if (!r) continue;
    if (!r.named) {
      permissions.push({ apiGroup: r.apiGroup, resource: r.resource, verb: 'list' }, { apiGroup: r.apiGroup, resource: r.resource, verb: 'watch' });
      calls.push(`watch ${m[2]}`);
    } else {
      unmapped.push(`raw API path ${m[2]} (verb unknown: map it by hand)`);
    }
  }
  for (const c of OPAQUE_CLIENTS) if (rest.includes(c)) unmapped.push(`${c} (generic client: permissions not derivable)`);
  return { permissions, calls, unmapped };
}

function stripComments(text: string): string {
  // good enough for our sources: drops // line comments and /* */ blocks, keeps string contents
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

export function permissionKey(p: Permission): string {
  return `${p.apiGroup === '' ? 'core' : p.apiGroup}/${p.resource}:${p.verb}`;
}
