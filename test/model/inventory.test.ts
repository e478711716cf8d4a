// Node parsing: an unusable label, annotation or capacity is a node problem naming the field and the
// value (never ignored), the node is refused with it, and every number stays bounded.
import { describe, expect, it } from 'vitest';
import { eventText } from '../../src/explain/render.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { parseNodeInventory, type NodeLike } from '../../src/model/inventory.js';
import { MAX_GPUS_PER_NODE } from '../../src/model/limits.js';
import type { NodeProblem } from '../../src/model/types.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';
import { ClusterState } from '../../src/state/cluster-state.js';

const A10 = {
  'nvidia.com/gpu.product': 'NVIDIA-A10-SHARED',
  'nvidia.com/gpu.count': '2',
  'nvidia.com/gpu.memory': '23028',
  'nvidia.com/gpu.replicas': '4',
  'nvidia.com/gpu.sharing-strategy': 'time-slicing',
};

function nodeWith(labels: Record<string, string>, allocatable: Record<string, string> = { 'nvidia.com/gpu': '8' }, annotations: Record<string, string> = {}): NodeLike {
  return { metadata: { name: 'n', labels, annotations }, status: { allocatable } };
}

const problemsOf = (n: NodeLike) => parseNodeInventory(n, defaultConfig())?.problems ?? [];

describe('node inventory: unusable values are problems, never ignored', () => {
  const cases: { name: string; node: NodeLike; field: string; value: string }[] = [
    { name: 'nvidia.com/gpu.memory: lots', node: nodeWith({ ...A10, 'nvidia.com/gpu.memory': 'lots' }), field: 'metadata.labels.nvidia.com/gpu.memory', value: 'lots' },
    { name: 'nvidia.com/gpu.count: 10000000', node: nodeWith({ ...A10, 'nvidia.com/gpu.count': '10000000' }), field: 'metadata.labels.nvidia.com/gpu.count', value: '10000000' },
    { name: 'nvidia.com/gpu.replicas: 0', node: nodeWith({ ...A10, 'nvidia.com/gpu.replicas': '0' }), field: 'metadata.labels.nvidia.com/gpu.replicas', value: '0' },
    { name: 'nvidia.com/gpu.sharing-strategy: sometimes', node: nodeWith({ ...A10, 'nvidia.com/gpu.sharing-strategy': 'sometimes' }), field: 'metadata.labels.nvidia.com/gpu.sharing-strategy', value: 'sometimes' },
    { name: 'nvidia.com/mig.strategy: many', node: nodeWith({ ...A10, 'nvidia.com/mig.strategy': 'many' }), field: 'metadata.labels.nvidia.com/mig.strategy', value: 'many' },
    { name: 'allocatable nvidia.com/gpu: 1.5', node: nodeWith(A10, { 'nvidia.com/gpu': '1.5' }), field: 'status.allocatable.nvidia.com/gpu', value: '1.5' },
    { name: 'allocatable nvidia.com/gpu99999999', node: nodeWith(A10, { 'nvidia.com/gpu': '8', 'nvidia.com/gpu99999999': '1' }), field: 'status.allocatable.nvidia.com/gpu99999999', value: '1' },
    { name: 'annotation gpu-memory: 1e18T', node: nodeWith(A10, undefined, { 'gpu-ledger.io/gpu-memory': '1e18T' }), field: 'metadata.annotations.gpu-ledger.io/gpu-memory', value: '1e18T' },
    { name: 'annotation compute-overcommit: 100', node: nodeWith(A10, undefined, { 'gpu-ledger.io/compute-overcommit': '100' }), field: 'metadata.annotations.gpu-ledger.io/compute-overcommit', value: '100' },
    { name: 'annotation mps-max-clients: 99999', node: nodeWith(A10, undefined, { 'gpu-ledger.io/mps-max-clients': '99999' }), field: 'metadata.annotations.gpu-ledger.io/mps-max-clients', value: '99999' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = problemsOf(c.node).find((x) => x.field === c.field);
      expect(p, JSON.stringify(problemsOf(c.node))).toBeDefined();
      expect(p!.value).toBe(c.value);
      expect(p!.message).toContain(c.value);
    });
  }

  it('a GPU count beyond the bound is capped (the ledger stays bounded) and flagged', () => {
    const inv = parseNodeInventory(nodeWith({ ...A10, 'nvidia.com/gpu.count': '100000' }), defaultConfig())!;
    expect(inv.gpus.length).toBeLessThanOrEqual(MAX_GPUS_PER_NODE);
    expect(inv.problems.length).toBeGreaterThan(0);
  });

  it('a node that says it has GPUs in a form gpu-ledger cannot read is a GPU node with a problem, not a CPU node', () => {
    const inv = parseNodeInventory(nodeWith({ 'nvidia.com/gpu.count': 'two' }, {}), defaultConfig());
    expect(inv?.problems[0]?.field).toBe('metadata.labels.nvidia.com/gpu.count');
  });

  it('the filter refuses such a node with the problem, and the server is told once per change', () => {
    const seen: [string, readonly NodeProblem[]][] = [];
    const state = new ClusterState({ config: defaultConfig(), onNodeProblems: (n, p) => seen.push([n, p]) });
    const bad = { metadata: { name: 'a10', labels: { ...A10, 'nvidia.com/gpu.memory': 'lots' } }, status: { allocatable: { 'nvidia.com/gpu': '8' } } };
    state.resetNodes([bad]);
    state.upsertNode(bad); // a heartbeat: nothing changed
    state.resetPods([]);
    expect(seen).toHaveLength(1);
    expect(seen[0][0]).toBe('a10');
    const pod = { metadata: { name: 'p', uid: 'u' }, spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } };
    const out = new Pipeline(state).filter(state.parse(pod), ['a10']);
    const r = out.failed.get('a10')![0];
    expect(r.code).toBe('node-problem');
    expect(eventText(r)).toBe('gpu-ledger: node GPU inventory unusable: metadata.labels.nvidia.com/gpu.memory "lots" is not a whole number (MiB of one GPU)');
  });
});

describe('an invalid pod is refused on every node with its reason', () => {
  it('GPU nodes, CPU-only nodes and unknown names alike', () => {
    const state = new ClusterState({ config: defaultConfig() });
    state.resetNodes([
      { metadata: { name: 'a10', labels: A10 }, status: { allocatable: { 'nvidia.com/gpu': '8' } } },
      { metadata: { name: 'cpu' }, status: { allocatable: { cpu: '8' } } },
    ]);
    state.resetPods([]);
    const pod = { metadata: { name: 'p', uid: 'u' }, spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1.5' } } }] } };
    const out = new Pipeline(state).filter(state.parse(pod), ['a10', 'cpu', 'nope']);
    expect(out.passed).toEqual([]);
    for (const n of ['a10', 'cpu', 'nope']) expect(out.failed.get(n)![0].code).toBe('invalid-pod');
  });
});
