// Hostile sizes on the wire: Kubernetes' own limits on every string gpu-ledger reads from a request,
// and on the number of candidates and victims. Each violation is a 400 naming the field and the
// (truncated) value; the ledger and the demand caches are untouched; values at the limit pass.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.js';
import { decodePreemptionArgs, LIMITS } from '../../src/server/wire.js';
import { post, serve } from './harness.js';

const good = JSON.parse(readFileSync('test/fixtures/kube-scheduler-1.30/filter-nodenames.json', 'utf8')) as { Pod: { metadata: Record<string, unknown> } } & Record<string, unknown>;
const bind = JSON.parse(readFileSync('test/fixtures/kube-scheduler-1.30/bind.json', 'utf8')) as Record<string, unknown>;

function withMeta(patch: Record<string, unknown>): Record<string, unknown> {
  const b = structuredClone(good);
  b.Pod.metadata = { ...b.Pod.metadata, ...patch };
  return b;
}

function fingerprint(s: RunningServer): string {
  const pods = [...s.state.ledger.pods.values()].map((a) => [a.uid, a.node, a.state, a.takes.map((t) => [t.gpu, t.replicas, t.memoryBytes])]);
  return JSON.stringify([s.state.ledger.generation, pods]);
}

describe('hostile sizes on the wire', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve(['test/fixtures/rig-cluster.yaml']);
  });
  afterAll(() => s.close());

  /** Posts, expects a 400 whose Error contains every fragment, and an unchanged ledger. */
  async function refused(verb: string, body: unknown, ...fragments: string[]): Promise<string> {
    const before = fingerprint(s);
    const res = await post(`${s.url}/${verb}`, body);
    expect(res.status, res.text.slice(0, 300)).toBe(400);
    const msg = (res.json as { Error: string }).Error;
    for (const f of fragments) expect(msg).toContain(f);
    // The refusal never echoes a huge value back.
    expect(msg.length).toBeLessThan(400);
    expect(fingerprint(s)).toBe(before);
    return msg;
  }

  it('metadata strings longer than Kubernetes allows, naming the field and the value', async () => {
    const huge = 'n'.repeat(1024 * 1024);
    await refused('filter', withMeta({ name: huge }), 'Pod.metadata.name is longer than 253 characters', '"nnnnnnnnnn', '(1048576 characters)');
    await refused('filter', withMeta({ namespace: 'x'.repeat(64) }), 'Pod.metadata.namespace is longer than 63 characters');
    await refused('filter', withMeta({ uid: 'u'.repeat(254) }), 'Pod.metadata.uid is longer than 253 characters');
    await refused('filter', withMeta({ resourceVersion: '9'.repeat(65) }), 'Pod.metadata.resourceVersion is longer than 64 characters');
    await refused('prioritize', withMeta({ name: 42 }), 'Pod.metadata.name must be a non-empty string, got number 42');
    await refused('preempt', { Pod: withMeta({ name: huge }).Pod, NodeNameToMetaVictims: {} }, 'Pod.metadata.name is longer than 253');
  });

  it('a 1 MB name is not kept: the demand caches never see a refused pod', async () => {
    const uid = 'hostile-huge-name';
    for (let i = 0; i < 20; i++) await refused('filter', withMeta({ uid, name: `${i}`.padEnd(1024 * 1024, 'x') }), 'longer than 253');
    expect(s.state.lastDemandOf(uid)).toBeUndefined();
  });

  it('labels and annotations: key parts, label values, total annotation size', async () => {
    await refused('filter', withMeta({ labels: { ['k'.repeat(64)]: 'v' } }), 'Pod.metadata.labels: key', 'the name part must be 1 to 63 characters');
    await refused('filter', withMeta({ labels: { [`${'p'.repeat(254)}/k`]: 'v' } }), 'the prefix must be 1 to 253 characters');
    await refused('filter', withMeta({ labels: { app: 'v'.repeat(64) } }), 'Pod.metadata.labels["app"] is longer than 63 characters');
    await refused('filter', withMeta({ labels: { app: 7 } }), 'Pod.metadata.labels["app"] must be a string, got number 7');
    await refused('filter', withMeta({ annotations: { a: 'x'.repeat(256 * 1024) } }), 'Pod.metadata.annotations total 262145 characters, more than 262144 (256 KiB)');
    await refused('filter', withMeta({ annotations: ['not', 'a', 'map'] }), 'Pod.metadata.annotations must be a map of strings, got an array');
  });

  it('node names, the number of candidates, and full Node objects', async () => {
    await refused('filter', { ...good, NodeNames: ['n'.repeat(254)] }, 'NodeNames[0] is longer than 253 characters');
    await refused('filter', { ...good, NodeNames: Array.from({ length: LIMITS.nodes + 1 }, (_, i) => `n${i}`) }, `NodeNames has ${LIMITS.nodes + 1} entries, more than ${LIMITS.nodes}`);
    const node = { metadata: { name: 'rig-node-0000', labels: { ['l'.repeat(64)]: 'x' } } };
    await refused('filter', { ...good, NodeNames: null, Nodes: { items: [node] } }, 'Nodes.items[0].metadata.labels: key');
    await refused('prioritize', { ...good, NodeNames: null, Nodes: { items: [{ metadata: { name: 'x'.repeat(300) } }] } }, 'Nodes.items[0].metadata.name is longer than 253');
  });

  it('preemption victims: node names, UIDs, and how many', async () => {
    const victims = (n: number) => ({ Pods: Array.from({ length: n }, (_, i) => ({ UID: `v${i}` })), NumPDBViolations: 0 });
    await refused('preempt', { Pod: good.Pod, NodeNameToMetaVictims: { ['n'.repeat(254)]: victims(1) } }, 'NodeNameToMetaVictims key is longer than 253');
    await refused('preempt', { Pod: good.Pod, NodeNameToMetaVictims: { a: { Pods: [{ UID: 'u'.repeat(254) }] } } }, 'NodeNameToMetaVictims[a].Pods[0].UID is longer than 253');
    await refused('preempt', { Pod: good.Pod, NodeNameToMetaVictims: { a: victims(LIMITS.victimsPerNode + 1) } }, `NodeNameToMetaVictims[a].Pods has ${LIMITS.victimsPerNode + 1} entries`);
  });

  it('bind arguments', async () => {
    await refused('bind', { ...bind, PodNamespace: 'n'.repeat(64) }, 'PodNamespace is longer than 63 characters');
    await refused('bind', { ...bind, PodUID: 'u'.repeat(254) }, 'PodUID is longer than 253');
    await refused('bind', { ...bind, Node: 'n'.repeat(254) }, 'Node is longer than 253');
    await refused('bind', { ...bind, PodName: '' }, 'PodName must be a non-empty string');
  });

  it('values exactly at the limits are accepted', async () => {
    const body = withMeta({
      name: 'n'.repeat(253),
      namespace: 's'.repeat(63),
      labels: { [`${'p'.repeat(253)}/${'k'.repeat(63)}`]: 'v'.repeat(63) },
      annotations: { a: 'x'.repeat(256 * 1024 - 1) },
    });
    const res = await post(`${s.url}/filter`, { ...body, NodeNames: ['rig-node-0000', 'n'.repeat(253)] });
    expect(res.status).toBe(200);
    expect((res.json as { FailedAndUnresolvableNodes: Record<string, string> }).FailedAndUnresolvableNodes['n'.repeat(253)]).toBe('node unknown to gpu-ledger');
  });

  it('a node named "__proto__" is reported like any other name (filter and preempt replies)', async () => {
    const pod = { metadata: { name: 'p', namespace: 'ml', uid: 'proto-1' }, spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } };
    const f = (await post(`${s.url}/filter`, { Pod: pod, Nodes: null, NodeNames: ['__proto__', 'rig-node-0000'] })).json as { NodeNames: string[]; FailedAndUnresolvableNodes: Record<string, string> };
    expect(Object.keys(f.FailedAndUnresolvableNodes)).toContain('__proto__');
    expect(f.FailedAndUnresolvableNodes['__proto__']).toBe('node unknown to gpu-ledger');
  });

  it('decoding keeps a node named "__proto__" as a key like any other', () => {
    const args = decodePreemptionArgs(JSON.parse('{"Pod":{"metadata":{"name":"web"}},"NodeNameToMetaVictims":{"__proto__":{"Pods":[{"UID":"u1"}],"NumPDBViolations":0}}}'));
    expect(Object.keys(args.NodeNameToMetaVictims)).toEqual(['__proto__']);
    expect(args.NodeNameToMetaVictims['__proto__'].Pods).toEqual([{ UID: 'u1' }]);
  });
});
