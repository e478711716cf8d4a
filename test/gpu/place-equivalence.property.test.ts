// The allocation-lean placement (src/gpu/place.ts, checkRequests) decides exactly what the
// placement it replaced decided (test/gpu/place-reference.ts), over random nodes of every mode,
// random ledgers and random pods: the same fit results, the same chooser calls with the same
// candidates, the same accounting of running pods.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { account, bestFitChooser, fit, type GpuChooser } from '../../src/gpu/place.js';
import type { GpuClient, NodeInventory, PodDemand } from '../../src/model/types.js';
import { fragmentationChooser } from '../../src/prioritize/chooser.js';
import { Ledger, type NodeLedger } from '../../src/state/ledger.js';
import { planOf } from '../../src/gpu/shape.js';
import { client, GiB, node, pod } from '../helpers/make.js';
import { referenceAccount, referenceFit } from './place-reference.js';


const nodeArb = fc
  .record({
    mode: fc.constantFrom('mps', 'mps', 'time-slicing', 'mig', 'none'),
    gpus: fc.integer({ min: 1, max: 5 }),
    memGiB: fc.constantFrom(0, 16, 24, 80, 128),
    replicas: fc.integer({ min: 2, max: 10 }),
    placement: fc.constantFrom('distributed', 'packed', 'extender'),
    daemon: fc.boolean(),
    perGpu: fc.boolean(),
    overcommit: fc.constantFrom(1, 1.5),
    clients: fc.integer({ min: 2, max: 48 }),
    reservedGiB: fc.constantFrom(0, 0, 2),
    single: fc.boolean(),
    problem: fc.integer({ min: 0, max: 30 }),
  })
  .map((s): NodeInventory => {
    const mig = s.mode === 'mig';
    const base = node({
      name: 'n',
      mode: s.mode,
      gpus: s.gpus,
      memoryBytes: s.memGiB * GiB,
      replicas: s.mode === 'none' || mig ? 1 : s.replicas,
      placement: s.placement,
      mpsDaemonLimits: s.daemon,
      computeOvercommit: s.overcommit,
      mpsMaxClients: s.clients,
      reservedMemoryBytes: s.reservedGiB * GiB,
      ...(mig ? { mig: { '3g.40gb': { count: s.gpus, memoryBytes: 40 * GiB }, '2g.20gb': { count: 2 * s.gpus, memoryBytes: 20 * GiB } } } : {}),
    });
    const inv: NodeInventory = { ...base, perGpuResources: s.mode === 'mps' && s.perGpu };
    if (mig && s.single) {
      // MIG single strategy: nvidia.com/gpu are instances of one profile.
      return { ...inv, migStrategy: 'single', migProfiles: new Map([['3g.40gb', { name: '3g.40gb', resource: 'nvidia.com/gpu', memoryBytes: 40 * GiB, slices: 3 }]]) };
    }
    if (s.problem === 0) return { ...inv, problems: [{ field: 'x', value: 'y', message: 'broken' }] };
    return inv;
  });

type Kind = 'replicas' | 'tokens' | 'mig' | 'any';

/** A client: what the node offers (`kind`), or anything at all (`any`: mostly refused, checks the refusals). */
function clientArb(kind: Kind) {
  return fc.record({
    replicas: kind === 'replicas' || kind === 'any' ? fc.oneof(fc.constant(1), fc.integer({ min: kind === 'any' ? 0 : 1, max: 3 })) : fc.constant(0),
    tokens: kind === 'tokens' || kind === 'any' ? fc.array<[number, number]>(fc.tuple(fc.integer({ min: 0, max: kind === 'any' ? 5 : 3 }), fc.integer({ min: 1, max: 2 })), { minLength: kind === 'any' ? 0 : 1, maxLength: 2 }) : fc.constant<[number, number][]>([]),
    mig: kind === 'mig' || kind === 'any' ? fc.array<[string, number]>(fc.tuple(fc.constantFrom('3g.40gb', '2g.20gb', '2g.20gb', '1g.10gb'), fc.integer({ min: 1, max: 2 })), { minLength: kind === 'any' ? 0 : 1, maxLength: 2 }) : fc.constant<[string, number][]>([]),
    mem: fc.oneof(fc.constant<[number, number][]>([]), fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 90 })), { maxLength: 2 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 0 }), fc.integer({ min: 1, max: 12 })), { maxLength: 1 })),
    uuid: fc.option(fc.integer({ min: 1, max: 40 }), { freq: 5 }),
    threads: fc.option(fc.oneof(fc.integer({ min: 10, max: 1000 }), fc.integer({ min: 10, max: 200 }))),
  });
}

function podArb(kind: Kind): fc.Arbitrary<PodDemand> {
  return fc
    .record({
      clients: fc.oneof(fc.array(clientArb(kind), { minLength: 1, maxLength: 1 }), fc.array(clientArb(kind), { minLength: 1, maxLength: 3 })),
      declaredGiB: fc.option(fc.integer({ min: 1, max: 90 }), { freq: 3 }),
      declaredThreads: fc.option(fc.integer({ min: 10, max: 1000 }), { freq: 4 }),
      exclusive: fc.oneof(fc.constant(false), fc.boolean()),
      invalid: fc.integer({ min: 0, max: 40 }),
      // An init container's peak above the app containers' sum.
      initPeak: fc.integer({ min: 0, max: 3 }),
    })
    .map((s): PodDemand => {
      const clients: GpuClient[] = s.clients.map((c, i) =>
        client({
          container: `c${i}`,
          replicas: c.replicas,
          gpuTokens: new Map(c.tokens),
          mig: new Map(c.mig.map(([p, n]) => [`nvidia.com/mig-${p}`, n])),
          memLimitByOrdinal: new Map(c.mem.map(([o, g]) => [o, g * GiB])),
          memLimitByUuid: c.uuid === null ? new Map() : new Map([['GPU-abc', c.uuid * GiB]]),
          threadMilli: c.threads,
        }),
      );
      const d = pod(clients, {
        declaredMemoryBytes: s.declaredGiB === null ? null : s.declaredGiB * GiB,
        declaredThreadMilli: s.declaredThreads,
        isolation: s.exclusive ? 'exclusive' : 'shared',
        errors: s.invalid === 0 ? [{ field: 'f', value: 'v', message: 'bad' }] : [],
      });
      if (s.initPeak > 0) {
        const requests = new Map(d.requests);
        const r = [...requests.keys()][0] ?? 'nvidia.com/gpu';
        requests.set(r, (requests.get(r) ?? 0) + s.initPeak);
        return { ...d, requests };
      }
      return d;
    });
}

/** What a node's pods ask for: mostly what it offers, sometimes anything. */
function kindFor(inv: NodeInventory): fc.Arbitrary<Kind> {
  const own: Kind = inv.perGpuResources ? 'tokens' : inv.mode === 'mig' && inv.migStrategy !== 'single' ? 'mig' : 'replicas';
  return fc.constantFrom<Kind>(own, own, own, 'any');
}

const pinnedArb = fc.option(fc.array(fc.integer({ min: -1, max: 5 }), { minLength: 1, maxLength: 4 }), { freq: 3 });

/** A ledger with the node and some running pods on it, accounted by the current rules. */
function ledgerWith(inv: NodeInventory, running: readonly { pod: PodDemand; pinned: number[] | null }[]): NodeLedger {
  const l = new Ledger();
  l.setNode(inv);
  const n = l.nodes.get(inv.name)!;
  running.forEach(({ pod: p, pinned }, i) => {
    const placed = account(p, n, pinned);
    l.put({ uid: `r${i}`, namespace: 'ns', name: `run-${i}`, node: inv.name, takes: placed.takes, sequence: placed.sequence, cpuMilli: 1000 * i, state: 'bound', expiresAt: Infinity });
  });
  return n;
}

/** A chooser that records every call (candidates and answer). */
function recording(inner: GpuChooser): { chooser: GpuChooser; calls: [number[], number][] } {
  const calls: [number[], number][] = [];
  return {
    calls,
    chooser: (node, candidates, shape, c) => {
      const g = inner(node, candidates, shape, c);
      calls.push([[...candidates], g]);
      return g;
    },
  };
}

const shapes = [
  { memoryBytes: 8 * GiB, threadMilli: 100, gpus: 1, p: 0.5 },
  { memoryBytes: 40 * GiB, threadMilli: 500, gpus: 1, cpuMilli: 4000, p: 0.3 },
  { memoryBytes: 0, threadMilli: 1000, gpus: 2, p: 0.2 },
];

/** A node, the pods running on it, and the pod asked about. */
const caseArb = nodeArb.chain((inv) =>
  fc.record({
    inv: fc.constant(inv),
    running: fc.array(fc.record({ pod: kindFor(inv).chain(podArb), pinned: pinnedArb }), { maxLength: 3 }),
    pod: kindFor(inv).chain(podArb),
  }),
);

describe('placement equivalence (lean rewrite vs the placement it replaced)', () => {
  it('fit: same answer and same chooser calls on random nodes, ledgers and pods', () => {
    let runs = 0;
    let fits = 0;
    let chosen = 0;
    fc.assert(
      fc.property(caseArb, pinnedArb, fc.boolean(), ({ inv, running, pod: p }, pinned, frag) => {
        const n = ledgerWith(inv, running);
        const inner = frag ? fragmentationChooser(shapes) : bestFitChooser;
        const a = recording(inner);
        const b = recording(inner);
        const got = fit(p, n, { chooser: a.chooser, pinned });
        const want = referenceFit(p, n, { chooser: b.chooser, pinned });
        expect(got).toEqual(want);
        if (got.fits && want.fits) expect(got.notes.map((x) => x.message)).toEqual(want.notes.map((x) => x.message));
        expect(a.calls).toEqual(b.calls);
        runs++;
        if (want.fits) fits++;
        if (a.calls.length > 0) chosen++;
      }),
      { numRuns: 2000 },
    );
    // The generators must reach the placement, not only the refusals.
    expect(fits / runs).toBeGreaterThan(0.1);
    expect(chosen / runs).toBeGreaterThan(0.05);
  });

  it('fit: one pod across many nodes sharing a GPU list (answers computed once per kind and reused) decides per node what the reference decides', () => {
    // fit keeps per GPU list what a one-replica pod takes and is answered on each GPU (place.ts,
    // OneReplicaPlan): nodes of one kind in different states, and nodes that share the GPU list
    // but differ in another kind field, must each get their own decision.
    let asked = 0;
    let planned = 0;
    let planFits = 0;
    const variants = fc.record({
      daemon: fc.boolean(),
      overcommit: fc.constantFrom(1, 2),
      clients: fc.constantFrom(2, 48),
      placement: fc.constantFrom('distributed', 'packed', 'extender'),
      reservedGiB: fc.constantFrom(0, 2),
    });
    const manyArb = nodeArb.chain((inv) =>
      fc.record({
        inv: fc.constant(inv),
        nodes: fc.array(fc.record({ v: variants, running: fc.array(fc.record({ pod: kindFor(inv).chain(podArb), pinned: pinnedArb }), { maxLength: 4 }) }), { minLength: 2, maxLength: 6 }),
        pods: fc.array(kindFor(inv).chain(podArb), { minLength: 1, maxLength: 3 }),
      }),
    );
    fc.assert(
      fc.property(manyArb, ({ inv, nodes, pods }) => {
        // Every node shares inv.gpus (as nodes parsed alike do); some differ in another kind field.
        const ledgers = nodes.map(({ v, running }, i) =>
          ledgerWith(
            i % 2 === 0
              ? { ...inv, name: `n${i}` }
              : { ...inv, name: `n${i}`, mpsDaemonLimits: v.daemon, computeOvercommit: v.overcommit, mpsMaxClients: v.clients, placement: v.placement as NodeInventory['placement'], reservedMemoryBytes: v.reservedGiB * GiB },
            running,
          ),
        );
        for (const p of pods) {
          for (const n of ledgers) {
            const got = fit(p, n, { chooser: bestFitChooser });
            const want = referenceFit(p, n, { chooser: bestFitChooser });
            expect(got).toEqual(want);
            if (got.fits && want.fits) expect(got.notes.map((x) => x.message)).toEqual(want.notes.map((x) => x.message));
            asked++;
            if (planOf(p).oneReplica !== null && n.inventory.placement !== 'extender' && n.inventory.problems.length === 0) {
              planned++;
              if (want.fits) planFits++;
            }
          }
        }
      }),
      { numRuns: 500 },
    );
    // The one-replica answers are reached, fitting and not.
    expect(planned / asked).toBeGreaterThan(0.1);
    expect(planFits / planned).toBeGreaterThan(0.1);
    expect(planFits).toBeLessThan(planned);
  });

  it('account: the same takes and sequence for running pods', () => {
    fc.assert(
      fc.property(caseArb, pinnedArb, ({ inv, running, pod: p }, pinned) => {
        const n = ledgerWith(inv, running);
        expect(account(p, n, pinned)).toEqual(referenceAccount(p, n, pinned));
      }),
      { numRuns: 1000 },
    );
  });
});
