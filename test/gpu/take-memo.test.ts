// fit keeps the last take per GPU list and GPU (place.ts, gpu/kind.ts): nodes of one kind share
// the take, and two nodes that share a GPU list but differ in any other field the take rules read
// never get each other's.
import { describe, expect, it } from 'vitest';
import { fit, bestFitChooser, type FitResult } from '../../src/gpu/place.js';
import { KIND_FIELDS, sameKind } from '../../src/gpu/kind.js';
import type { NodeInventory, PodDemand } from '../../src/model/types.js';
import { Ledger, type NodeLedger } from '../../src/state/ledger.js';
import { GiB, mpsPod, node } from '../helpers/make.js';

function ledgerOf(invs: NodeInventory[]): NodeLedger[] {
  const ledger = new Ledger();
  for (const inv of invs) ledger.setNode(inv);
  return invs.map((inv) => ledger.nodes.get(inv.name)!);
}

function fitOn(d: PodDemand, n: NodeLedger): FitResult {
  return fit(d, n, { chooser: bestFitChooser });
}

const base = node({ name: 'a', mode: 'mps', gpus: 2, memoryBytes: 40 * GiB, replicas: 4, mpsDaemonLimits: true });
/** A node sharing base's GPU list (as parsed nodes built alike do) with `change` applied. */
const alike = (name: string, change: Partial<NodeInventory> = {}): NodeInventory => ({ ...base, name, ...change });

describe('the take memo', () => {
  it('nodes of one kind share one take object', () => {
    const [a, b] = ledgerOf([base, alike('b')]);
    const d = mpsPod(8, 20);
    const ra = fitOn(d, a);
    const rb = fitOn(d, b);
    expect(ra.fits && rb.fits).toBe(true);
    if (!ra.fits || !rb.fits) return;
    expect(rb.takes[0]).toBe(ra.takes[0]);
    expect(ra.takes[0]).toMatchObject({ memoryBytes: 8 * GiB, threadMilli: 200, replicas: 1 });
  });

  it('a node sharing the GPU list but not the rest of the kind gets its own take, in any order', () => {
    // 10 GiB per replica with daemon limits: a 12 GiB pod on one replica is refused there;
    // without daemon limits it fits. Reserved memory makes a 36 GiB pod too big for the GPU.
    const d = mpsPod(12, 20);
    const big = mpsPod(36, 20);
    const [a, noDaemon, reserved] = ledgerOf([base, alike('n', { mpsDaemonLimits: false }), alike('r', { reservedMemoryBytes: 8 * GiB })]);
    for (let round = 0; round < 2; round++) {
      const ra = fitOn(d, a);
      expect(ra.fits ? 'fits' : ra.reasons[0].code).toBe('token-memory');
      const rn = fitOn(d, noDaemon);
      expect(rn.fits).toBe(true);
      expect(fitOn(big, noDaemon).fits).toBe(true);
      const rr = fitOn(big, reserved);
      expect(rr.fits ? 'fits' : rr.reasons[0].code).toBe('gpu-too-small');
    }
    // Overcommit decides admit, not the take: with 60 % of the threads in use a second 60 % pod
    // fits only on the node that allows 200 %, though both nodes give it the same take.
    const one = node({ name: 'p', mode: 'mps', gpus: 1, memoryBytes: 40 * GiB, replicas: 4 });
    const ledger = new Ledger();
    ledger.setNode(one);
    ledger.setNode({ ...one, name: 't', computeOvercommit: 2 });
    const threads = mpsPod(1, 60);
    for (const name of ['p', 't']) {
      const first = fitOn(threads, ledger.nodes.get(name)!);
      if (!first.fits) throw new Error(`the first pod must fit on ${name}`);
      ledger.put({ uid: `first-${name}`, namespace: 'd', name: `first-${name}`, node: name, takes: first.takes, state: 'bound', expiresAt: Infinity });
    }
    const rp = fitOn(threads, ledger.nodes.get('p')!);
    const rt = fitOn(threads, ledger.nodes.get('t')!);
    expect(rp.fits ? 'fits' : rp.reasons.map((r) => r.code)).toEqual(['mps-threads']);
    if (!rt.fits) throw new Error('the second pod must fit where threads may sum to 200 %');
    expect(rt.takes[0].threadMilli).toBe(600);
  });

  it('sameKind compares every kind field', () => {
    const values: Record<string, unknown> = {
      mode: 'time-slicing',
      gpus: [...base.gpus],
      resource: 'nvidia.com/gpu.shared',
      perGpuResources: true,
      migProfiles: new Map(),
      mpsDaemonLimits: false,
      reservedMemoryBytes: 1,
      computeOvercommit: 3,
      mpsMaxClients: 1,
    };
    expect(Object.keys(values).sort()).toEqual([...KIND_FIELDS].sort());
    for (const f of KIND_FIELDS) {
      expect(sameKind(base, alike('x', { [f]: values[f] } as Partial<NodeInventory>)), f).toBe(false);
    }
    // What is not part of the kind does not matter: no take rule reads it (their parameter type has no such field).
    expect(sameKind(base, alike('x', { tier: 'large', cpuMilli: 64_000, labels: { a: 'b' }, model: 'other', memoryBytes: 1, memorySource: 'default', migStrategy: 'single', placement: 'packed' }))).toBe(true);
  });
});
