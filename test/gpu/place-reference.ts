// The placement orchestration as it was before the allocation-lean rewrite of src/gpu/place.ts and
// checkRequests (Maps in the draft, a candidate list per replica, closures in the tally), kept
// only as the oracle of test/gpu/place-equivalence.property.test.ts: the rewrite must decide
// exactly what this decided. It calls the same mode rules (src/gpu/modes.ts); no capacity rule
// is copied here. Do not use it outside that test.

import type { GpuClient, GpuTake, Reason } from '../../src/model/types.js';
import { MAX_PODS_PER_GPU } from '../../src/model/limits.js';
import type { Note, OnGpu } from '../../src/gpu/mode.js';
import { rulesFor } from '../../src/gpu/modes.js';
import { bestFitChooser, capToGpu, type FitOptions, type GpuChooser } from '../../src/gpu/place.js';
import { NO_GPU, reasons } from '../../src/gpu/reason.js';
import { offersResource, profileFor, replicasAreMigDevices, tokenGpu } from '../../src/gpu/resources.js';
import type { FitShape } from '../../src/gpu/shape.js';
import { podsOnGpu, type GpuNode } from '../../src/gpu/usage.js';

type FitResult = { fits: true; takes: GpuTake[]; sequence: number[]; notes: Note[] } | { fits: false; reasons: Reason[] };

/** The pod's placement while it is being built: per GPU, its clients' replicas and its MIG instances. */
class Draft {
  readonly on = new Map<number, OnGpu[]>();
  readonly mig = new Map<number, Map<string, number>>();
  readonly replicas = new Map<number, number>();
  readonly sequence: number[] = [];
  private next = 0;

  constructor(private readonly pinned: readonly number[] | null) {}

  replicasOn(gpu: number): number {
    return this.replicas.get(gpu) ?? 0;
  }

  migOn(gpu: number, profile: string): number {
    return this.mig.get(gpu)?.get(profile) ?? 0;
  }

  /** The next recorded GPU, or null when not pinned, the record ran out, or it names no GPU here. */
  pinnedGpu(gpuCount: number): number | null {
    if (!this.pinned || this.next >= this.pinned.length) return null;
    const g = this.pinned[this.next++];
    return g >= 0 && g < gpuCount ? g : null;
  }

  addMig(gpu: number, profile: string): void {
    let m = this.mig.get(gpu);
    if (!m) this.mig.set(gpu, (m = new Map()));
    m.set(profile, (m.get(profile) ?? 0) + 1);
    this.sequence.push(gpu);
  }

  gpus(): number[] {
    return [...new Set([...this.on.keys(), ...this.mig.keys()])].sort((a, b) => a - b);
  }
}

/** How replicas are picked: under every limit (decide), or wherever the pod must be (record). */
interface Picker {
  strict: boolean;
  chooser: GpuChooser;
}

function refuse(...rs: Reason[]): FitResult {
  return { fits: false, reasons: rs };
}

/** Decides whether the pod fits the node, and with which takes. Pure: the node is not changed. */
export function referenceFit(shape: FitShape, node: GpuNode, options: FitOptions): FitResult {
  const inv = node.inventory;
  if (shape.errors.length > 0) return refuse(reasons.invalidPod(shape.errors[0]));
  if (inv.problems.length > 0) return refuse(...inv.problems.map(reasons.nodeProblem));
  if (inv.gpus.length === 0) return refuse(NO_GPU);
  for (let i = 0; i < node.gpus.length; i++) {
    if (node.gpus[i].pods >= MAX_PODS_PER_GPU) return refuse(reasons.nodeSaturated(i, node.gpus[i].pods, MAX_PODS_PER_GPU));
  }
  const requestReasons = referenceCheckRequests(node, shape);
  if (requestReasons.length > 0) return { fits: false, reasons: requestReasons };

  const draft = new Draft(options.pinned ?? null);
  const picker: Picker = { strict: true, chooser: options.chooser };
  for (const client of shape.clients) {
    const failure = placeClient(shape, client, node, draft, picker);
    if (failure) return refuse(failure);
  }
  const rules = rulesFor(inv);
  const takes: GpuTake[] = [];
  const notes: Note[] = [...rules.podNotes(inv, shape)];
  const capacityReasons: Reason[] = [];
  for (const gpu of draft.gpus()) {
    const t = rules.take(inv, shape, gpu, draft.on.get(gpu) ?? [], draft.mig.get(gpu) ?? null);
    if (t.refusal) return refuse(t.refusal);
    for (const n of t.notes) notes.push(n);
    takes.push(t.take);
    for (const r of rules.admit(node, t.take, node.gpus[gpu])) capacityReasons.push(r);
  }
  if (capacityReasons.length > 0) return { fits: false, reasons: capacityReasons };
  return { fits: true, takes, sequence: draft.sequence, notes };
}

/**
 * The takes of a pod that runs on this node (bound, whatever its spec says): placed where it was
 * recorded, else where the node's policy would put it, each take capped at what the GPU has.
 * Never fails; a node without GPUs yields no takes.
 */
export function referenceAccount(shape: FitShape, node: GpuNode, pinned: readonly number[] | null): { takes: GpuTake[]; sequence: number[] } {
  const inv = node.inventory;
  if (inv.gpus.length === 0) return { takes: [], sequence: [] };
  const draft = new Draft(pinned);
  const picker: Picker = { strict: false, chooser: bestFitChooser };
  for (const client of shape.clients) placeClient(shape, client, node, draft, picker);
  const rules = rulesFor(inv);
  const takes: GpuTake[] = [];
  for (const gpu of draft.gpus()) {
    // The cap is the product's rule, not what this oracle checks (placement): one copy of it.
    takes.push(capToGpu(inv, gpu, rules.take(inv, shape, gpu, draft.on.get(gpu) ?? [], draft.mig.get(gpu) ?? null).take));
  }
  return { takes, sequence: draft.sequence };
}

/** Places one client's tokens, replicas and MIG instances into the draft; a reason when it cannot (strict). */
function placeClient(shape: FitShape, client: GpuClient, node: GpuNode, draft: Draft, picker: Picker): Reason | null {
  const inv = node.inventory;
  const mine = new Map<number, number>(); // gpu → replicas/tokens of this client
  for (const [gpu, n] of client.gpuTokens) if (gpu < inv.gpus.length || picker.strict) mine.set(gpu, (mine.get(gpu) ?? 0) + n);

  if (client.replicas > 0) {
    if (replicasAreMigDevices(inv)) {
      const profile = [...inv.migProfiles.values()].find((p) => p.resource === 'nvidia.com/gpu');
      if (!profile) return reasons.resourceMissing('nvidia.com/gpu', client.replicas);
      const failure = placeMig(shape, client, node, draft, profile.name, 'nvidia.com/gpu', client.replicas, picker);
      if (failure) return failure;
    } else {
      // A running pod holds at most every replica the node has: keeps accounting bounded.
      const total = inv.gpus.reduce((a, g) => a + g.replicas, 0);
      const n = picker.strict ? client.replicas : Math.min(client.replicas, Math.max(1, total));
      for (let r = 0; r < n; r++) {
        const gpu = draft.pinnedGpu(inv.gpus.length) ?? chooseReplicaGpu(shape, client, node, draft, mine, picker);
        if (gpu === null) return replicaFailure(shape, node, client.replicas, r);
        mine.set(gpu, (mine.get(gpu) ?? 0) + 1);
        draft.replicas.set(gpu, draft.replicasOn(gpu) + 1);
        draft.sequence.push(gpu);
      }
    }
  }
  for (const [resource, n] of client.mig) {
    const profile = profileFor(inv, resource);
    if (!profile) {
      if (picker.strict) return reasons.resourceMissing(resource, n);
      continue;
    }
    const failure = placeMig(shape, client, node, draft, profile, resource, n, picker);
    if (failure) return failure;
  }
  // Tokens count against their GPU too (replicas of shared resources were added as placed).
  for (const [gpu, n] of client.gpuTokens) if (mine.has(gpu)) draft.replicas.set(gpu, draft.replicasOn(gpu) + n);

  // The client sees its GPUs in index order: ordinals follow that order.
  const visible = [...mine.keys()].sort((a, b) => a - b);
  const needed = Math.max(0, ...[...client.memLimitByOrdinal.keys()].map((o) => o + 1));
  if (picker.strict && visible.length < needed) return reasons.tooFewGpus(client.container, needed, visible.length, inv.gpus.length);
  visible.forEach((gpu, ordinal) => {
    let list = draft.on.get(gpu);
    if (!list) draft.on.set(gpu, (list = []));
    list.push({ container: client.container, client, replicas: mine.get(gpu) ?? 0, ordinal, visible: visible.length });
  });
  return null;
}

/** Why the r-th replica found no GPU: exclusivity, or too few replicas where the pod may go. */
function replicaFailure(shape: FitShape, node: GpuNode, requested: number, placed: number): Reason {
  const inv = node.inventory;
  if (shape.isolation === 'exclusive') {
    const busy = node.gpus.reduce((a, u) => a + u.pods, 0);
    const names: string[] = [];
    for (let i = 0; i < inv.gpus.length && names.length < 5; i++) for (const n of podsOnGpu(node, i)) if (!names.includes(n)) names.push(n);
    return reasons.exclusiveBusy(null, busy, names);
  }
  let used = 0;
  let cap = 0;
  for (let i = 0; i < inv.gpus.length; i++) {
    used += node.gpus[i].replicas;
    cap += inv.gpus[i].replicas;
  }
  return reasons.replicas(inv.resource, null, { requested, used: used + placed, capacity: cap });
}

function chooseReplicaGpu(shape: FitShape, client: GpuClient, node: GpuNode, draft: Draft, mine: Map<number, number>, picker: Picker): number | null {
  const inv = node.inventory;
  const exclusive = shape.isolation === 'exclusive';
  const candidates: number[] = [];
  for (let i = 0; i < inv.gpus.length; i++) {
    const u = node.gpus[i];
    if (u.replicas + draft.replicasOn(i) >= inv.gpus[i].replicas) continue;
    if (u.exclusive > 0) continue;
    if (exclusive && u.pods > 0) continue;
    candidates.push(i);
  }
  if (candidates.length === 0) {
    if (picker.strict) return null;
    // Accounting a pod that runs regardless: it is somewhere; the policy's choice is the best guess.
    for (let i = 0; i < inv.gpus.length; i++) candidates.push(i);
  }
  const used = (i: number) => node.gpus[i].replicas + draft.replicasOn(i);
  switch (inv.placement) {
    case 'distributed': {
      // NVIDIA device plugin default: the GPU with the fewest replicas allocated (lowest index on ties).
      let best = candidates[0];
      for (const i of candidates) if (used(i) < used(best)) best = i;
      return best;
    }
    case 'packed': {
      let best = candidates[0];
      for (const i of candidates) if (used(i) > used(best)) best = i;
      return best;
    }
    case 'extender': {
      // Prefer GPUs this client does not use yet (a multi-GPU client wants distinct devices),
      // and among those the ones where the replica's share fits.
      const fresh = candidates.filter((i) => !mine.has(i));
      const pool = fresh.length > 0 ? fresh : candidates;
      const fitting = pool.filter((i) => replicaFits(shape, client, node, draft, i));
      return picker.chooser(node, fitting.length > 0 ? fitting : pool, shape, client);
    }
  }
}

/** Would one more replica of this client, on top of what the pod already has there, fit GPU i? */
function replicaFits(shape: FitShape, client: GpuClient, node: GpuNode, draft: Draft, i: number): boolean {
  const inv = node.inventory;
  const rules = rulesFor(inv);
  const on: OnGpu[] = [...(draft.on.get(i) ?? []), { container: client.container, client, replicas: 1, ordinal: 0, visible: 1 }];
  const t = rules.take(inv, shape, i, on, draft.mig.get(i) ?? null);
  return t.refusal === null && rules.admit(node, t.take, node.gpus[i]).length === 0;
}

function placeMig(shape: FitShape, client: GpuClient, node: GpuNode, draft: Draft, profile: string, resource: string, count: number, picker: Picker): Reason | null {
  const inv = node.inventory;
  const exclusive = shape.isolation === 'exclusive';
  const n = picker.strict ? count : Math.min(count, inv.gpus.reduce((a, g) => a + (g.mig.get(profile) ?? 0), 0) || 1);
  for (let k = 0; k < n; k++) {
    const pinned = draft.pinnedGpu(inv.gpus.length);
    if (pinned !== null) {
      draft.addMig(pinned, profile);
      continue;
    }
    const candidates: number[] = [];
    for (let i = 0; i < inv.gpus.length; i++) {
      const u = node.gpus[i];
      if ((u.mig.get(profile) ?? 0) + draft.migOn(i, profile) >= (inv.gpus[i].mig.get(profile) ?? 0)) continue;
      if (u.exclusive > 0 || (exclusive && u.pods > 0)) continue;
      candidates.push(i);
    }
    if (candidates.length === 0) {
      if (picker.strict) return reasons.migInstances(resource, null, { requested: count, used: k, capacity: count });
      for (let i = 0; i < inv.gpus.length; i++) if (inv.gpus[i].mig.has(profile)) candidates.push(i);
      if (candidates.length === 0) return null;
    }
    draft.addMig(picker.chooser(node, candidates, shape, client), profile);
  }
  return null;
}

interface Tally {
  capacity: number;
  used: number;
  /** Free on GPUs the pod may use (not held exclusively; idle ones for an exclusive pod). */
  usable: number;
  /** Free on every GPU. */
  free: number;
  blockers: Set<number>;
}

function tally(node: GpuNode, exclusive: boolean, gpus: Iterable<number>, cap: (i: number) => number, used: (i: number) => number): Tally {
  const t: Tally = { capacity: 0, used: 0, usable: 0, free: 0, blockers: new Set() };
  for (const i of gpus) {
    const u = node.gpus[i];
    const c = cap(i);
    const f = Math.max(0, c - used(i));
    t.capacity += c;
    t.used += used(i);
    t.free += f;
    const blocked = u.exclusive > 0 || (exclusive && u.pods > 0);
    if (!blocked) t.usable += f;
    else if (f > 0) t.blockers.add(i);
  }
  return t;
}

function exclusivityReason(node: GpuNode, exclusive: boolean, t: Tally, requested: number, gpu: number | null): Reason {
  const names: string[] = [];
  let busy = 0;
  for (const i of t.blockers) {
    busy += node.gpus[i].pods;
    for (const n of podsOnGpu(node, i, !exclusive)) if (names.length < 5 && !names.includes(n)) names.push(n);
  }
  return exclusive ? reasons.exclusiveBusy(gpu, busy, names) : reasons.heldExclusive(gpu, names, { requested, used: t.used, capacity: t.capacity });
}

/** Node-level checks of the pod's effective request per resource; empty when every one fits. */
function referenceCheckRequests(node: GpuNode, shape: FitShape): Reason[] {
  const inv = node.inventory;
  const exclusive = shape.isolation === 'exclusive';
  const out: Reason[] = [];
  const all = inv.gpus.map((_, i) => i);
  for (const [resource, count] of shape.requests) {
    if (!offersResource(inv, resource)) {
      out.push(reasons.resourceMissing(resource, count));
      continue;
    }
    const perGpu = tokenGpu(resource);
    const profile = perGpu === null ? profileFor(inv, resource) : null;
    let t: Tally;
    if (perGpu !== null) t = tally(node, exclusive, [perGpu], (i) => inv.gpus[i].replicas, (i) => node.gpus[i].replicas);
    else if (profile !== null) t = tally(node, exclusive, all, (i) => inv.gpus[i].mig.get(profile) ?? 0, (i) => node.gpus[i].mig.get(profile) ?? 0);
    else t = tally(node, exclusive, all, (i) => inv.gpus[i].replicas, (i) => node.gpus[i].replicas);
    if (count <= t.usable) continue;
    if (count <= t.free) out.push(exclusivityReason(node, exclusive, t, count, perGpu));
    else if (perGpu !== null) out.push(reasons.gpuTokens(resource, perGpu, { requested: count, used: t.used, capacity: t.capacity }));
    else if (profile !== null) out.push(reasons.migInstances(resource, null, { requested: count, used: t.used, capacity: t.capacity }));
    else out.push(reasons.replicas(resource, null, { requested: count, used: t.used, capacity: t.capacity }));
  }
  return out;
}
