// Running pods that bypassed the scheduler (spec.nodeName set, absurd demands) and nodes whose labels
// change under them: the ledger accounts them capped at what the node has, every counter stays an
// exact non-negative integer, nothing throws, and removing every pod returns every counter to zero.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { overcommits } from '../../src/gpu/free.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { parseSnapshot } from '../../src/model/snapshot.js';
import { ClusterState } from '../../src/state/cluster-state.js';

const demo = parseSnapshot(readFileSync('examples/demo-cluster.yaml', 'utf8'), 'demo-cluster.yaml');
const nodeNames = (demo.nodes as { metadata: { name: string } }[]).map((n) => n.metadata.name);

const absurd = fc.constantFrom('1', '4', '10', '80', '300000000', '1k', '99999999999999', '1e3');
const mem = fc.constantFrom('0=1G', '0=64G', '0=1e295T', '0=99999999999999T', '0=1G,1=1G,2=1G,3=1G', '0=4095T');
const runningPod = fc.record({
  uid: fc.integer({ min: 0, max: 40 }).map((i) => `u${i}`),
  node: fc.constantFrom(...nodeNames),
  gpus: absurd,
  resource: fc.constantFrom('nvidia.com/gpu', 'nvidia.com/gpu0', 'nvidia.com/mig-3g.40gb', 'nvidia.com/mig-2g.20gb', 'nvidia.com/gpu.shared'),
  env: fc.option(mem, { nil: undefined }),
  threads: fc.option(fc.constantFrom('10', '100', '1'), { nil: undefined }),
  declared: fc.option(fc.constantFrom('1Gi', '4Ti', '99999Ti', '64Gi'), { nil: undefined }),
  exclusive: fc.boolean(),
  containers: fc.integer({ min: 1, max: 5 }),
  cpu: fc.constantFrom('1', '1e30', '500m'),
});
const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('upsert' as const), pod: runningPod }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), uid: fc.integer({ min: 0, max: 40 }).map((i) => `u${i}`) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('relabel' as const), node: fc.constantFrom(...nodeNames), count: fc.constantFrom('1', '2', '8', '10000000', 'lots'), memory: fc.constantFrom('15360', '81920', 'lots', '999999999999') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('node-gone' as const), node: fc.constantFrom(...nodeNames) }) },
);

type RunningPod = typeof runningPod extends fc.Arbitrary<infer T> ? T : never;

function podObject(p: RunningPod) {
  const env: { name: string; value: string }[] = [];
  if (p.env) env.push({ name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: p.env });
  if (p.threads) env.push({ name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: p.threads });
  return {
    metadata: { name: p.uid, namespace: 'x', uid: p.uid, annotations: { ...(p.declared ? { 'gpu-ledger.io/gpu-memory': p.declared } : {}), ...(p.exclusive ? { 'gpu-ledger.io/isolation': 'exclusive' } : {}) } },
    spec: { nodeName: p.node, containers: Array.from({ length: p.containers }, (_, i) => ({ name: `c${i}`, env, resources: { limits: { [p.resource]: p.gpus }, requests: { cpu: p.cpu } } })) },
    status: { phase: 'Running' },
  };
}

function assertExact(state: ClusterState): void {
  for (const n of state.ledger.nodes.values()) {
    expect(Number.isSafeInteger(n.cpuMilli) && n.cpuMilli >= 0).toBe(true);
    for (const u of n.gpus) {
      for (const v of [u.replicas, u.memoryBytes, u.threadMilli, u.clients, u.pods, u.exclusive, ...u.mig.values()]) {
        expect(Number.isSafeInteger(v), `${n.name}: ${v}`).toBe(true);
        expect(v).toBeGreaterThanOrEqual(0);
      }
    }
    overcommits(n); // never throws; flags what bypassing pods overcommit
  }
}

describe('hostile running pods', () => {
  it('capped, exact, never negative, and removing everything empties the ledger', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        const state = new ClusterState({ config: defaultConfig() });
        state.resetNodes(demo.nodes);
        state.resetPods([]);
        for (const o of ops) {
          if (o.kind === 'upsert') state.upsertPod(podObject(o.pod));
          else if (o.kind === 'delete') state.deletePod(o.uid);
          else if (o.kind === 'node-gone') state.deleteNode(o.node);
          else {
            const n = (demo.nodes as { metadata: { name: string; labels: Record<string, string> } }[]).find((x) => x.metadata.name === o.node)!;
            state.upsertNode({ ...n, metadata: { ...n.metadata, labels: { ...n.metadata.labels, 'nvidia.com/gpu.count': o.count, 'nvidia.com/gpu.memory': o.memory } } });
          }
          assertExact(state);
        }
        state.resetNodes(demo.nodes); // nodes back to what they were: detached pods re-attach
        for (const uid of [...state.ledger.pods.keys()]) state.deletePod(uid);
        for (const n of state.ledger.nodes.values()) {
          expect(n.cpuMilli).toBe(0);
          for (const u of n.gpus) expect([u.replicas, u.memoryBytes, u.threadMilli, u.clients, u.pods, u.exclusive, u.mig.size]).toEqual([0, 0, 0, 0, 0, 0, 0]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a running pod asking for 300000000 GPUs starts in milliseconds, capped at the node, which is flagged overcommitted', () => {
    const state = new ClusterState({ config: defaultConfig() });
    state.resetNodes(demo.nodes);
    const t0 = performance.now();
    const big: RunningPod = { uid: 'big', node: 'mps-agg-01', gpus: '300000000', resource: 'nvidia.com/gpu', env: '0=1e295T', threads: undefined, declared: undefined, exclusive: false, containers: 3, cpu: '1' };
    state.resetPods([podObject(big), podObject({ ...big, uid: 'small', gpus: '1', env: '0=1G', containers: 1 })]);
    expect(performance.now() - t0).toBeLessThan(2000); // was: the process crashed (seconds of work, then out of memory)
    const n = state.ledger.nodes.get('mps-agg-01')!;
    // The absurd pod is accounted at exactly what the node has (each GPU's 20 replicas and its memory)...
    expect(state.ledger.pods.get('big')!.takes.map((t) => [t.replicas, t.memoryBytes])).toEqual(n.inventory.gpus.map((g) => [20, g.memoryBytes]));
    // ...so the next pod that bypassed the scheduler overcommits it, and the node says so.
    expect(overcommits(n).map((o) => o.dimension)).toEqual(expect.arrayContaining(['replicas', 'memory']));
  });
});
