// A container sees one device per GPU its replicas land on. Env limits for devices 0..k−1
// (CUDA_MPS_PINNED_DEVICE_MEM_LIMIT) therefore need k distinct GPUs: replicas stacked on fewer GPUs
// would leave the entries beyond them limiting devices the container never sees, and the memory
// they declare would not exist. Found by checking the trace replay independently: 8-GPU trace
// pods were placed on 2-GPU nodes.
import { describe, expect, it } from 'vitest';
import { detailText, eventText } from '../../src/explain/render.js';
import { suggestion } from '../../src/gpu/advice.js';
import { bestFitChooser, fit } from '../../src/gpu/place.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { traceNodeObject, tracePodObject } from '../../src/model/trace.js';
import { Pipeline } from '../../src/prioritize/pipeline.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import { Ledger } from '../../src/state/ledger.js';
import { client, GiB, node, pod } from '../helpers/make.js';

function cluster(gpus: number[]): { state: ClusterState; pipeline: Pipeline } {
  const state = new ClusterState({ config: defaultConfig() });
  state.resetNodes(gpus.map((g, i) => traceNodeObject({ name: `n${i}`, cpuMilli: 96_000, memoryMiB: 786_432, gpus: g, model: 'V100M32' })));
  state.resetPods([]);
  return { state, pipeline: new Pipeline(state) };
}

const eightGpuPod = (uid: string) => tracePodObject({ name: uid, cpuMilli: 1000, memoryMiB: 1024, numGpu: 8, gpuMilli: 1000, gpuSpec: [] }, uid);

describe('env limits for k devices need k distinct GPUs', () => {
  it('an 8-device pod is refused on 2- and 4-GPU nodes, unresolvably, and fits an 8-GPU node on 8 distinct GPUs', () => {
    const { state, pipeline } = cluster([2, 4, 8]);
    const d = state.demandOf(eightGpuPod('p8'));
    expect(d.errors).toEqual([]);
    const out = pipeline.filter(d, ['n0', 'n1', 'n2'], undefined, 'p8');
    expect(out.passed).toEqual(['n2']);
    const n0 = out.failed.get('n0')![0];
    expect(n0).toMatchObject({ code: 'too-few-gpus', requested: 8, capacity: 2, resolvable: false });
    expect(out.failed.get('n1')![0]).toMatchObject({ code: 'too-few-gpus', requested: 8, capacity: 4, resolvable: false });
    expect(eventText(n0)).toBe('gpu-ledger: pod names 8 GPU devices in CUDA_MPS_PINNED_DEVICE_MEM_LIMIT but gets at most 2 distinct GPU(s) here');
    expect(detailText(n0)).toContain('container "main" names devices 0..7');
    expect(suggestion(n0, state.ledger.nodes.get('n0')!)).toBe('not on this node: it has 2 GPU(s); use a node with at least 8, or name only devices 0..1');
    const r = pipeline.reserve(d, 'n2');
    expect(r.ok).toBe(true);
    if (r.ok) expect([...r.sequence].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('replicas stacked on the one GPU with room are refused (evicting could help), spread over two they fit', () => {
    const ledger = new Ledger();
    const n = ledger.setNode(node({ name: 'x', mode: 'mps', gpus: 4, memoryBytes: 32 * GiB, replicas: 4, placement: 'extender' }));
    const twoDevices = () => pod([client({ replicas: 2, memLimitByOrdinal: new Map([[0, 4 * GiB], [1, 4 * GiB]]) })]);
    // GPUs 0..2 full of replicas: the pod's two replicas can only share GPU 3.
    for (let g = 0; g < 3; g++) ledger.put({ uid: `f${g}`, namespace: 'd', name: `f${g}`, node: 'x', takes: [{ gpu: g, replicas: 4, memoryBytes: 0, threadMilli: 0, clients: 1, mig: null, exclusive: false }], state: 'bound', expiresAt: Infinity });
    const refused = fit(twoDevices(), n, { chooser: bestFitChooser });
    expect(refused.fits).toBe(false);
    if (!refused.fits) expect(refused.reasons[0]).toMatchObject({ code: 'too-few-gpus', requested: 2, capacity: 1, resolvable: true });
    ledger.remove('f2');
    const fits = fit(twoDevices(), n, { chooser: bestFitChooser });
    expect(fits.fits).toBe(true);
    if (fits.fits) expect(new Set(fits.sequence).size).toBe(2);
  });

  it('a pod without per-device entries may still stack its replicas on one GPU (tokens of one device)', () => {
    const ledger = new Ledger();
    const n = ledger.setNode(node({ name: 'x', mode: 'mps', gpus: 4, memoryBytes: 32 * GiB, replicas: 4, placement: 'extender' }));
    for (let g = 0; g < 3; g++) ledger.put({ uid: `f${g}`, namespace: 'd', name: `f${g}`, node: 'x', takes: [{ gpu: g, replicas: 4, memoryBytes: 0, threadMilli: 0, clients: 1, mig: null, exclusive: false }], state: 'bound', expiresAt: Infinity });
    const r = fit(pod([client({ replicas: 2 })]), n, { chooser: bestFitChooser });
    expect(r.fits).toBe(true);
    if (r.fits) expect(r.sequence).toEqual([3, 3]);
  });
});
