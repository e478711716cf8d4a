// fit() hands out one object for answers equal in every field (nodes built alike give a pod the
// same takes): the sharing must never hide a difference, and must happen where answers are equal.

import { describe, expect, it } from 'vitest';
import { bestFitChooser, fit, type FitResult } from '../../src/gpu/place.js';
import { Ledger } from '../../src/state/ledger.js';
import { GiB, mpsPod, node } from '../helpers/make.js';

const options = { chooser: bestFitChooser };

/** An answer as plain values (a note's fields are its own properties). */
function plain(r: FitResult): unknown {
  return JSON.parse(JSON.stringify(r, (_k, v: unknown) => (v instanceof Map ? [...v] : v)));
}

describe('fit answers shared by value', () => {
  const l = new Ledger();
  // Three MPS nodes built alike, the daemon capping threads at 10 %: one GPU list, as the
  // inventory parser shares it between nodes of one layout (model/inventory.ts internGpus).
  const alike = node({ name: 'a', mode: 'mps', gpus: 2, memoryBytes: 128 * GiB, replicas: 10, mpsDaemonLimits: true, placement: 'extender' });
  for (const name of ['a', 'b', 'c']) l.setNode({ ...alike, name });
  const [a, b, c] = ['a', 'b', 'c'].map((n) => l.nodes.get(n)!);
  // Node b already holds a pod on GPU 0: the chooser puts the next one on GPU 0 there (tightest), on
  // the idle nodes on GPU 0 too; node c holds one on GPU 1, so its tightest GPU is 1.
  const holder = (uid: string, node: string, gpu: number) =>
    l.put({ uid, namespace: 'x', name: uid, node, takes: [{ gpu, replicas: 1, memoryBytes: 8 * GiB, threadMilli: 100, clients: 1, mig: null, exclusive: false }], state: 'bound', expiresAt: Infinity });
  holder('on-b', 'b', 0);
  holder('on-c', 'c', 1);

  it('equal answers on nodes built alike are one object, with a note capping the threads', () => {
    const pod = mpsPod(8, 50); // 50 % asked, 10 % per replica granted: a threads-capped note
    const ra = fit(pod, a, options);
    const rb = fit(pod, b, options);
    expect(ra.fits && rb.fits).toBe(true);
    if (!ra.fits || !rb.fits) return;
    expect(ra.notes.map((n) => n.code)).toEqual(['threads-capped']);
    expect(rb).toBe(ra);
  });

  it('an answer that differs in any field is its own object, with its own values', () => {
    const pod = mpsPod(8, 50);
    const ra = fit(pod, a, options);
    const rc = fit(pod, c, options);
    if (!ra.fits || !rc.fits) throw new Error('fits');
    expect(rc).not.toBe(ra);
    expect(ra.sequence).toEqual([0]);
    expect(rc.sequence).toEqual([1]);
    expect(rc.takes[0].gpu).toBe(1);
    // Other memory: another take, whatever the last answer was.
    const r9 = fit(mpsPod(9, 50), a, options);
    if (!r9.fits) throw new Error('fits');
    expect(r9.takes[0].memoryBytes).toBe(9 * GiB);
    // Threads under the cap: no note, so not the capped answer.
    const r5 = fit(mpsPod(8, 5), a, options);
    if (!r5.fits) throw new Error('fits');
    expect(r5.notes).toEqual([]);
    expect(r5.takes[0].threadMilli).toBe(50);
  });

  it('over many pods and nodes, every answer equals the one computed alone (fresh ledger, nothing shared)', () => {
    // Both orders: consecutive pods that differ only in memory, then only in threads.
    const mems = [1, 8, 12.8, 13, 64, 130];
    const pcts = [1, 5, 10, 50, 100];
    const pods = [...pcts.flatMap((pct) => mems.map((mem) => mpsPod(mem, pct))), ...mems.flatMap((mem) => pcts.map((pct) => mpsPod(mem, pct)))];
    for (const pod of pods) {
      for (const n of [a, b, c, a, c, b]) {
        const got = fit(pod, n, options);
        // The node rebuilt from copies: a GPU layout of its own, so nothing can be shared with it.
        const alone = new Ledger();
        alone.setNode({ ...n.inventory, gpus: n.inventory.gpus.map((g) => ({ ...g })) });
        for (const p of l.pods.values()) if (p.node === n.name) alone.put(p);
        expect(plain(got)).toEqual(plain(fit(pod, alone.nodes.get(n.name)!, options)));
      }
    }
  });
});

describe('refusals that say nothing about the node, shared', () => {
  const l = new Ledger();
  // Individual mode (per-GPU tokens only) and an MPS node of another layout: neither offers
  // nvidia.com/gpu, and both refuse a pod asking for it with the same reason.
  l.setNode({ ...node({ name: 'ind-a', mode: 'mps', gpus: 4, memoryBytes: 32 * GiB, replicas: 20 }), perGpuResources: true });
  l.setNode({ ...node({ name: 'ind-b', mode: 'mps', gpus: 4, memoryBytes: 32 * GiB, replicas: 20 }), perGpuResources: true });
  l.setNode(node({ name: 'whole', mode: 'mps', gpus: 2, memoryBytes: 80 * GiB, replicas: 10 }));
  const [a, b, whole] = ['ind-a', 'ind-b', 'whole'].map((n) => l.nodes.get(n)!);

  it('a resource the nodes do not offer: one refusal object, with the resource and the count', () => {
    const pod = mpsPod(4, 10);
    const ra = fit(pod, a, options);
    const rb = fit(pod, b, options);
    expect(ra.fits).toBe(false);
    if (ra.fits) return;
    expect(ra.reasons).toEqual([expect.objectContaining({ code: 'resource-missing', resource: 'nvidia.com/gpu', requested: 1 })]);
    expect(rb).toBe(ra);
    // Another count is another reason (and another answer), with its own count.
    const two = fit(mpsPod(4, 10, {}, 2), b, options);
    if (two.fits) throw new Error('refused');
    expect(two).not.toBe(ra);
    expect(two.reasons[0]).toMatchObject({ code: 'resource-missing', requested: 2 });
    // A node that offers it answers on its own terms in between, and the shared refusal is unchanged.
    expect(fit(pod, whole, options).fits).toBe(true);
    expect(fit(pod, a, options)).toEqual(ra);
  });

  it('an invalid pod: one refusal for every node, naming its own error', () => {
    const error = { field: 'metadata.annotations.gpu-ledger.io/gpu-memory', value: '12Qi', message: 'not a quantity: "12Qi"' };
    const bad = mpsPod(4, 10, { errors: [error] });
    const rs = [a, b, whole].map((n) => fit(bad, n, options));
    expect(rs[1]).toBe(rs[0]);
    expect(rs[2]).toBe(rs[0]);
    if (rs[0].fits) throw new Error('refused');
    expect(rs[0].reasons).toEqual([expect.objectContaining({ code: 'invalid-pod', detail: error.message })]);
    const other = { ...error, value: '-1', message: 'negative: "-1"' };
    const r2 = fit(mpsPod(4, 10, { errors: [other] }), a, options);
    if (r2.fits) throw new Error('refused');
    expect(r2).not.toBe(rs[0]);
    expect(r2.reasons[0].detail).toBe(other.message);
  });
});
