// RBAC: the permissions gpu-ledger needs are derived from the API calls in src/kube/ (through the
// table in rbac-map.ts, itself checked against the generated client), and the ClusterRole must grant
// all of them and nothing beyond them plus a short documented allow-list.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asList, asRec, asStrings, DEPLOY, kindOf, listFiles, loadYamlDocs, nameOf, REPO, type Rec } from './files.js';
import { API_CLASSES, METHOD_RULES, permissionKey, resourceOfPath, scanSource, verbOfRequest, type ApiClass, type Permission } from './rbac-map.js';

const core = (resource: string, verb: string): Permission => ({ apiGroup: '', resource, verb });

/** What live mode needs whatever the code looks like today (the extender protocol and README). */
const EXPECTED: readonly Permission[] = [
  core('nodes', 'list'),
  core('nodes', 'watch'),
  core('pods', 'list'),
  core('pods', 'watch'),
  // bindVerb: the extender creates the Binding itself (carrying the gpu-ledger.io/* annotations)
  core('pods/binding', 'create'),
];

/**
 * Granted without being required by EXPECTED; each needs a reason. Keep it short: anything here
 * that the code does not use is excess privilege.
 */
const ALLOW_LIST: readonly { permission: Permission; why: string }[] = [{ permission: core('pods', 'get'), why: 'binder reads a pod to settle a Binding that answered 409 Conflict or whose outcome is unknown' }];

// --- the generated client: method → (HTTP method, path) ---------------------------------------------
const require = createRequire(import.meta.url);
const CLIENT_APIS = join(dirname(require.resolve('@kubernetes/client-node')), 'gen', 'apis');

function clientMethods(api: ApiClass): Map<string, { method: string; path: string }> {
  const text = readFileSync(join(CLIENT_APIS, `${api}.js`), 'utf8');
  const out = new Map<string, { method: string; path: string }>();
  for (const m of text.matchAll(/async (\w+)\([^)]*\) \{[\s\S]*?const localVarPath = '([^']+)'[\s\S]*?HttpMethod\.(\w+)\)/g)) {
    if (!out.has(m[1])) out.set(m[1], { path: m[2], method: m[3] });
  }
  return out;
}
const CLIENT = new Map(API_CLASSES.map((api) => [api, clientMethods(api)]));
const KNOWN_METHODS = new Set([...CLIENT.values()].flatMap((m) => [...m.keys()]));

// --- the manifests ------------------------------------------------------------------------------------
const RBAC_DOCS: Rec[] = listFiles(join(DEPLOY, 'manifests'), ['.yaml'])
  .flatMap(loadYamlDocs)
  .map((d) => asRec(d.doc))
  .filter((d) => ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(kindOf(d) ?? ''));
const LEDGER_ROLE = RBAC_DOCS.find((d) => kindOf(d) === 'ClusterRole' && nameOf(d) === 'gpu-ledger');

function granted(role: Rec | undefined): Permission[] {
  return asList(role?.rules).flatMap((r) => {
    const rule = asRec(r);
    return asStrings(rule.apiGroups).flatMap((apiGroup) => asStrings(rule.resources).flatMap((resource) => asStrings(rule.verbs).map((verb) => ({ apiGroup, resource, verb }))));
  });
}

// --- the code -------------------------------------------------------------------------------------------
const KUBE_SOURCES = existsSync(join(REPO, 'src/kube')) ? listFiles(join(REPO, 'src/kube'), ['.ts']) : [];
const SCANS = KUBE_SOURCES.map((file) => ({ file, ...scanSource(readFileSync(file, 'utf8'), KNOWN_METHODS) }));
const found = SCANS.flatMap((s) => s.permissions);

describe('the scanner', () => {
  it('finds client calls and watched collection paths in source text', () => {
    const sample = `
      const api = kc.makeApiClient(CoreV1Api);
      const nodes = await api.listNode();
      await api.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName!=' });
      await watch.watch('/api/v1/nodes', {}, onEvent, onDone);
      const path = \`/api/v1/namespaces/\${ns}/pods\`;
      await api.patchNamespacedPod({ name, namespace, body }, opts);
      await api.createNamespacedPodBinding({ name, namespace, body });
      // await api.deleteNamespacedPod({ name, namespace }) -- commented out: not a call
    `;
    const r = scanSource(sample, KNOWN_METHODS);
    expect(r.unmapped).toEqual([]);
    expect([...new Set(r.permissions.map(permissionKey))].sort()).toEqual(['core/nodes:list', 'core/nodes:watch', 'core/pods/binding:create', 'core/pods:list', 'core/pods:patch', 'core/pods:watch']);
  });

  it('derives a plain request\'s permission from its HTTP method and literal path; a path it cannot read is reported', () => {
    const r = scanSource('await this.writer.send(\'POST\', `/api/v1/namespaces/${ns}/pods/${name}/binding`, JSON.stringify(b), signal);\nawait w.request(\'DELETE\', `/api/v1/namespaces/${ns}/events`, undefined, s);');
    expect(r.unmapped).toEqual([]);
    expect(r.permissions.map(permissionKey)).toEqual(['core/pods/binding:create', 'core/events:deletecollection']);
    const opaque = scanSource('await this.writer.send(\'POST\', path, body, signal);');
    expect(opaque.unmapped).toEqual(['POST request without a literal API path (its permission cannot be derived)']);
  });

  it('tells events of the two API groups apart by the client class the file uses', () => {
    const v1 = scanSource('const e = kc.makeApiClient(EventsV1Api); await e.createNamespacedEvent({ namespace, body });');
    expect(v1.permissions.map(permissionKey)).toEqual(['events.k8s.io/events:create']);
    const legacy = scanSource('const c = kc.makeApiClient(CoreV1Api); await c.createNamespacedEvent({ namespace, body });');
    expect(legacy.permissions.map(permissionKey)).toEqual(['core/events:create']);
  });

  it('reports what it cannot map instead of ignoring it', () => {
    const r = scanSource(
      `const api = kc.makeApiClient(CoreV1Api);
       await api.deleteCollectionNamespacedPod({ namespace });
       await sink.deleteNode(name); // not a client: ignored
       await fetch(\`/api/v1/namespaces/\${ns}/pods/\${name}/eviction\`, { method: 'POST' });
       const o = KubernetesObjectApi.makeApiClient(kc);
       const batch = kc.makeApiClient(BatchV1Api);
       await batch.deleteNamespacedJob({ name, namespace });`,
      KNOWN_METHODS,
    );
    expect(r.unmapped).toEqual([
      'deleteCollectionNamespacedPod() (add it to METHOD_RULES)',
      'BatchV1Api.deleteNamespacedJob() (API class not in the table: add it to API_CLASSES and METHOD_RULES)',
      'raw API path /api/v1/namespaces/${ns}/pods/${name}/eviction (verb unknown: map it by hand)',
      'KubernetesObjectApi (generic client: permissions not derivable)',
    ]);
  });

  it('maps API paths to resources and verbs like the API server', () => {
    expect(resourceOfPath('/api/v1/pods')).toEqual({ apiGroup: '', resource: 'pods', named: false });
    expect(resourceOfPath('/api/v1/namespaces/{namespace}/pods/{name}/binding')).toEqual({ apiGroup: '', resource: 'pods/binding', named: true });
    expect(resourceOfPath('/apis/events.k8s.io/v1/namespaces/{namespace}/events')).toEqual({ apiGroup: 'events.k8s.io', resource: 'events', named: false });
    expect(resourceOfPath('/api/v1/namespaces/{name}')).toEqual({ apiGroup: '', resource: 'namespaces', named: true });
    expect(verbOfRequest('GET', '/api/v1/nodes/{name}')).toBe('get');
    expect(verbOfRequest('DELETE', '/api/v1/namespaces/{namespace}/pods')).toBe('deletecollection');
  });
});

describe('the method table matches @kubernetes/client-node', () => {
  it('was read from the generated client', () => {
    expect(CLIENT.get('CoreV1Api')?.size).toBeGreaterThan(100);
  });
  for (const [method, rules] of Object.entries(METHOD_RULES)) {
    for (const rule of rules) {
      it(`${rule.api}.${method} → ${permissionKey(rule)}`, () => {
        const call = CLIENT.get(rule.api)?.get(method);
        expect(call, `${rule.api} has no method ${method}`).toBeDefined();
        const r = resourceOfPath(call!.path);
        expect({ apiGroup: r?.apiGroup, resource: r?.resource, verb: verbOfRequest(call!.method, call!.path) }).toEqual({ apiGroup: rule.apiGroup, resource: rule.resource, verb: rule.verb });
      });
    }
  }
});

describe('ClusterRole gpu-ledger: least privilege', () => {
  const grants = new Set(granted(LEDGER_ROLE).map(permissionKey));

  it('exists, without wildcards, resourceNames or non-resource URLs', () => {
    expect(LEDGER_ROLE).toBeDefined();
    for (const r of asList(LEDGER_ROLE?.rules).map(asRec)) {
      for (const list of [asStrings(r.apiGroups), asStrings(r.resources), asStrings(r.verbs)]) expect(list).not.toContain('*');
      expect(r.resourceNames).toBeUndefined();
      expect(r.nonResourceURLs).toBeUndefined();
    }
  });

  it('grants what live mode needs in any case: list/watch nodes and pods, create pods/binding', () => {
    for (const p of EXPECTED) expect([...grants], permissionKey(p)).toContain(permissionKey(p));
  });

  it('src/kube has no API access the table cannot map', () => {
    expect(SCANS.flatMap((s) => s.unmapped.map((u) => `${s.file.slice(REPO.length + 1)}: ${u}`))).toEqual([]);
  });

  it.skipIf(found.length === 0)('grants every permission the calls in src/kube need', () => {
    const missing = [...new Set(found.map(permissionKey))].filter((k) => !grants.has(k));
    expect(missing, `calls found: ${SCANS.flatMap((s) => s.calls).join(', ')}`).toEqual([]);
  });

  it.skipIf(found.length === 0)('the code needs at least the expected set (list/watch both kinds, bind)', () => {
    const have = new Set(found.map(permissionKey));
    for (const p of EXPECTED) expect([...have], permissionKey(p)).toContain(permissionKey(p));
  });

  it('pods: no patch (the assignment travels in the Binding: one API write per bind)', () => {
    expect(grants.has('core/pods:patch')).toBe(false);
    expect(found.map(permissionKey)).not.toContain('core/pods:patch');
  });

  it('grants nothing beyond the code, the expected set and the allow-list', () => {
    const allowed = new Set([...found, ...EXPECTED, ...ALLOW_LIST.map((a) => a.permission)].map(permissionKey));
    expect([...grants].filter((g) => !allowed.has(g))).toEqual([]);
    for (const a of ALLOW_LIST) expect(a.why.length).toBeGreaterThan(10);
  });
});

describe("kube-scheduler's own roles", () => {
  const bindingsOf = (kind: string) => RBAC_DOCS.filter((d) => kindOf(d) === kind);
  const subjectsOf = (b: Rec) => asList(b.subjects).map(asRec);

  it('binds system:kube-scheduler and system:volume-scheduler to the pod service account', () => {
    for (const role of ['system:kube-scheduler', 'system:volume-scheduler']) {
      const b = bindingsOf('ClusterRoleBinding').find((x) => asRec(x.roleRef).name === role);
      expect(b, role).toBeDefined();
      expect(subjectsOf(b!)).toEqual([{ kind: 'ServiceAccount', name: 'gpu-ledger', namespace: 'gpu-ledger' }]);
    }
  });

  it('lets it hold its own lease (get/update on gpu-ledger only; create comes with system:kube-scheduler)', () => {
    const role = RBAC_DOCS.find((d) => kindOf(d) === 'Role' && asList(d.rules).some((r) => asStrings(asRec(r).resources).includes('leases')));
    expect(role).toBeDefined();
    expect(asRec(role!.metadata).namespace).toBe('gpu-ledger');
    expect(role!.rules).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['gpu-ledger'], verbs: ['get', 'update'] }]);
  });
});
