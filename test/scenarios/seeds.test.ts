// Every seed setup, from the real demo YAML and example pods through the real parsers.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/model/config-types.js';
import { parseSnapshot } from '../../src/model/snapshot.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import { eventText } from '../../src/explain/render.js';
import { explainPod } from '../../src/explain/explain.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';

const GiB = 2 ** 30;
const demo = parseSnapshot(readFileSync('examples/demo-cluster.yaml', 'utf8'), 'demo-cluster.yaml');

function loadPod(file: string, uid?: string): Record<string, unknown> {
  const p = yaml.load(readFileSync(`examples/pods/${file}`, 'utf8')) as { metadata: Record<string, unknown> };
  if (uid) p.metadata = { ...p.metadata, uid, name: `${String(p.metadata.name)}-${uid}` };
  return p as unknown as Record<string, unknown>;
}

let state: ClusterState;
let pipeline: Pipeline;
beforeEach(() => {
  state = new ClusterState({ config: defaultConfig() });
  state.resetNodes(demo.nodes);
  state.resetPods(demo.pods);
  pipeline = new Pipeline(state);
});

function decide(file: string, uid?: string) {
  const d = state.demandOf(loadPod(file, uid));
  const names = [...state.ledger.nodes.keys(), 'cpu-01', 'nope'];
  return { d, out: pipeline.filter(d, names) };
}

function bind(file: string, uid: string, node: string) {
  const d = state.demandOf(loadPod(file, uid));
  const r = pipeline.reserve(d, node);
  if (!r.ok) throw new Error(`reserve failed: ${JSON.stringify(r)}`);
  return r;
}

describe('demo cluster inventory', () => {
  it('has a GPU inventory for every GPU node and none for the CPU node', () => {
    expect([...state.ledger.nodes.keys()].sort()).toEqual(
      ['a100-mig-01', 'a100-mig-large-01', 'a100-mig-small-01', 'a100-ts-01', 'h100-ts-01', 'homelab-3090', 'mps-agg-01', 'mps-ind-01', 'spark-01', 't4-01'].sort(),
    );
    expect(state.ledger.knownWithoutGpu('cpu-01')).toBe(true);
    const spark = state.ledger.nodes.get('spark-01')!.inventory;
    expect(spark).toMatchObject({ mode: 'mps', memoryBytes: 128 * GiB, memorySource: 'annotation', mpsDaemonLimits: false, problems: [] });
    expect(spark.gpus).toHaveLength(1);
    expect(spark.gpus[0].replicas).toBe(10);
    expect(state.ledger.nodes.get('mps-ind-01')!.inventory.perGpuResources).toBe(true);
    expect(state.ledger.nodes.get('a100-mig-01')!.inventory.gpus.map((g) => Object.fromEntries(g.mig))).toEqual([
      { '3g.40gb': 1, '2g.20gb': 2 },
      { '3g.40gb': 1, '2g.20gb': 2 },
    ]);
    expect(state.ledger.nodes.get('a100-mig-small-01')!.inventory.gpus).toHaveLength(7);
    expect(state.ledger.nodes.get('t4-01')!.inventory).toMatchObject({ mode: 'time-slicing', model: 'Tesla-T4' });
  });

  it('accounts the running pods (and not the finished one)', () => {
    const spark = state.ledger.nodes.get('spark-01')!;
    expect(spark.gpus[0]).toMatchObject({ memoryBytes: 64 * GiB, threadMilli: 500, clients: 1, replicas: 1 });
    expect(state.ledger.nodes.get('t4-01')!.gpus[0].pods).toBe(1); // finished-job released
    expect(state.ledger.nodes.get('mps-agg-01')!.gpus.map((g) => g.replicas)).toEqual([3, 3, 2, 2]);
  });
});

describe('seed decisions', () => {
  it('GB10 (seed 000): a second 64G/50% pod fits, a third is rejected for MPS memory', () => {
    expect(decide('large-mps.yaml', 'a').out.passed).toContain('spark-01');
    bind('large-mps.yaml', 'a', 'spark-01');
    const { out } = decide('large-mps.yaml', 'b');
    expect(out.passed).not.toContain('spark-01');
    const reasons = out.failed.get('spark-01')!;
    expect(reasons[0]).toMatchObject({ code: 'mps-memory', requested: 64 * GiB, used: 128 * GiB, capacity: 128 * GiB });
    expect(eventText(reasons[0])).toBe('gpu-ledger: MPS memory overcommit (pod needs 64Gi on one GPU)');
  });

  it('GB10: small, medium and a default replica all fit next to the 70B model', () => {
    for (const f of ['small-mps.yaml', 'medium-mps.yaml', 'default-replica.yaml', 'tier-medium.yaml']) {
      expect(decide(f).out.passed, f).toContain('spark-01');
    }
  });

  it('4×31.8GB aggregate (seed 001): 10 tokens = 15.9 GiB spread over the GPUs', () => {
    const r = bind('aggregate-10-tokens.yaml', 'agg', 'mps-agg-01');
    const total = r.allocation.takes.reduce((a, t) => a + t.memoryBytes, 0);
    expect(total / GiB).toBeCloseTo(15.9, 1);
    expect(r.allocation.takes.reduce((a, t) => a + t.replicas, 0)).toBe(10);
  });

  it('individual mode (seed 001): gpu0/gpu1 tokens land on exactly those GPUs; aggregate-only nodes refuse them', () => {
    const { out } = decide('individual-tokens.yaml');
    expect(out.passed).toEqual(['mps-ind-01']);
    expect(out.failed.get('mps-agg-01')![0]).toMatchObject({ code: 'resource-missing', resource: 'nvidia.com/gpu0' });
    const r = bind('individual-tokens.yaml', 'ind', 'mps-ind-01');
    expect(r.allocation.takes.map((t) => [t.gpu, t.replicas, Math.round((t.memoryBytes / GiB) * 100) / 100])).toEqual([
      [0, 5, 7.96],
      [1, 5, 7.96],
    ]);
  });

  it('A100 MIG (seed 002): 3g.40gb + 2×2g.20gb per GPU; the second GPU\'s 3g.40gb is the last one', () => {
    const { out } = decide('mig-3g40.yaml');
    expect(out.passed).toEqual(['a100-mig-01']);
    bind('mig-3g40.yaml', 'm1', 'a100-mig-01');
    const again = decide('mig-3g40.yaml', 'm2').out;
    expect(again.passed).toEqual([]);
    expect(again.failed.get('a100-mig-01')![0]).toMatchObject({ code: 'mig-instances' });
  });

  it('A100 MIG single pools: a 9Gi model fits the 1g.10gb pool and the 3g.40gb pool; tier fit prefers 1g.10gb', () => {
    const d = state.demandOf(loadPod('mig-small-model.yaml'));
    const e = explainPod(d, pipeline, ['a100-mig-small-01', 'a100-mig-large-01']);
    expect(e.nodes.map((n) => [n.node, n.fits])).toEqual([
      ['a100-mig-small-01', true],
      ['a100-mig-large-01', true],
    ]);
    expect(e.nodes[0].score!.components.tierFit!).toBeGreaterThan(e.nodes[1].score!.components.tierFit!);
  });

  it('T4 time-slicing (seed 003): exclusive waits while a shared job runs; shared jobs share', () => {
    const ex = decide('t4-exclusive.yaml').out;
    expect(ex.passed).not.toContain('t4-01');
    expect(ex.failed.get('t4-01')![0].code).toBe('exclusive-busy');
    expect(decide('t4-shared.yaml').out.passed).toContain('t4-01');
  });

  it('T4: once idle, an exclusive job takes the GPU and keeps shared jobs off it', () => {
    state.deletePod('7b2e1d0f-1004-4000-8000-000000000004'); // notebook-a leaves
    bind('t4-exclusive.yaml', 'ex', 't4-01');
    const sh = decide('t4-shared.yaml', 'sh').out;
    expect(sh.passed).not.toContain('t4-01');
    expect(sh.failed.get('t4-01')![0]).toMatchObject({ code: 'held-exclusive', used: 1, capacity: 8 });
    expect(eventText(sh.failed.get('t4-01')![0])).toBe('gpu-ledger: GPU held by an exclusive pod');
  });

  it('2× RTX 3090 time-sliced ×4 (seed 004): nvidia.com/gpu 2 fits next to ollama', () => {
    const r = bind('comfyui-2-replicas.yaml', 'c', 'homelab-3090');
    expect(r.allocation.takes.reduce((a, t) => a + t.replicas, 0)).toBe(2);
  });

  it('an invalid env rejects every node with a reason naming container, variable and value', () => {
    const { out } = decide('invalid-env.yaml');
    expect(out.passed).toEqual([]);
    const text = eventText(out.failed.get('spark-01')![0]);
    expect(text).toContain('container "inference"');
    expect(text).toContain('CUDA_MPS_PINNED_DEVICE_MEM_LIMIT');
    expect(text).toContain('0=lots');
    // The same text on every node, so kube-scheduler counts them together.
    const texts = new Set([...out.failed.values()].map((r) => eventText(r[0])).filter((t) => t.includes('invalid')));
    expect(texts.size).toBe(1);
  });

  it('unknown and CPU-only nodes are reported as such', () => {
    const { out } = decide('small-mps.yaml');
    expect(eventText(out.failed.get('nope')![0])).toBe('node unknown to gpu-ledger');
    expect(out.failed.get('cpu-01')![0].code).toBe('no-gpu');
  });
});
