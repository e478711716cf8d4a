// MPS (seed 000 GB10, seed 001 4 × 31.8 GB): each container is a client with pinned memory and an
// active-thread share on every GPU it sees. Where the control daemon enforces per-replica limits
// (the NVIDIA device plugin: memory / replicas and 100 / replicas % per replica), a client's env
// can only lower them: a pod that declares more memory than its tokens give cannot get it there
// (refused, with how many tokens would hold it); asking for more threads only caps the pod (a note).

import type { GpuTake, NodeInventory, Reason } from '../model/types.js';
import { formatBytes, formatMilli } from '../model/quantity.js';
import {
  addReason,
  admitExclusivity,
  admitReplicas,
  sharedFree,
  memoryPerReplica,
  NO_MIG,
  NO_NOTES,
  NO_REASONS,
  replicaResource,
  threadsPerReplica,
  usableMemory,
  type Capacity,
  type GpuFree,
  type ModeRules,
  type Note,
  type OnGpu,
  type PodTake,
} from './mode.js';
import type { GpuKind } from './kind.js';
import { reasons } from './reason.js';
import { usesMpsEnv, usesUuidLimits, type FitShape } from './shape.js';
import type { GpuNode, GpuUsage } from './usage.js';

function capacity(inv: GpuKind, gpu: number): Capacity {
  return {
    replicas: inv.gpus[gpu]?.replicas ?? 0,
    memoryBytes: usableMemory(inv, gpu),
    threadMilli: Math.round(1000 * inv.computeOvercommit),
    clients: inv.mpsMaxClients,
    mig: NO_MIG,
  };
}

/** The env limit a client sets for the GPU it sees as `ordinal` (a UUID entry only when it sees one GPU). */
function envMemory(o: OnGpu): number | undefined {
  const byOrdinal = o.client.memLimitByOrdinal.get(o.ordinal);
  if (byOrdinal !== undefined) return byOrdinal;
  if (o.visible === 1 && o.client.memLimitByUuid.size === 1) return o.client.memLimitByUuid.values().next().value;
  return undefined;
}

/**
 * A client asks for more threads than its replicas get from the daemon. The text is rendered when
 * read: fit notes this on every candidate node, and explain reads a few of them.
 */
class ThreadsCapped implements Note {
  readonly code = 'threads-capped' as const;
  constructor(
    private readonly container: string,
    private readonly want: number,
    private readonly grant: number,
    readonly gpu: number,
    private readonly replicas: number,
  ) {}

  /** Every field equal: the same note. */
  sameAs(o: ThreadsCapped): boolean {
    return this.container === o.container && this.want === o.want && this.grant === o.grant && this.gpu === o.gpu && this.replicas === o.replicas;
  }

  get message(): string {
    return `container "${this.container}": ${formatMilli(this.want)} of threads cannot take effect on GPU ${this.gpu}: its ${this.replicas} replica(s) get ${formatMilli(this.grant)} from the MPS daemon, and a client's env can only lower that`;
  }
}

function take(inv: GpuKind, shape: FitShape, gpu: number, on: readonly OnGpu[]): PodTake {
  const cap = capacity(inv, gpu);
  const daemon = inv.mpsDaemonLimits;
  const perReplica = memoryPerReplica(inv, gpu);
  const threadShare = threadsPerReplica(inv, gpu);
  let notes: ThreadsCapped[] | null = null;
  let refusal: Reason | null = null;
  let memory = 0;
  let threads = 0;
  let replicas = 0;
  let undeclaredShare = 0;
  let undeclaredReplicas = 0;
  let undeclared = false;
  // The largest amount the pod states for this GPU, for the "GPU too small" check.
  let largest = 0;
  for (const o of on) {
    replicas += o.replicas;
    const share = o.replicas * perReplica;
    const env = envMemory(o);
    if (env !== undefined) {
      largest = Math.max(largest, env);
      if (daemon && env > share) {
        refusal ??= reasons.tokenMemory(gpu, env, share, { asked: o.replicas, needed: Math.ceil(env / Math.max(1, perReplica)), resource: replicaResource(inv, gpu), each: perReplica }, o.container);
        memory += share;
      } else memory += env;
    } else {
      undeclared = true;
      undeclaredShare += share;
      undeclaredReplicas += o.replicas;
    }
    const wantThreads = o.client.threadMilli ?? shape.declaredThreadMilli ?? o.replicas * threadShare;
    const grantThreads = daemon ? Math.min(wantThreads, o.replicas * threadShare) : wantThreads;
    if (grantThreads < wantThreads) {
      // A literal array holds exactly its notes (push on an empty one reserves room for 17).
      const n = new ThreadsCapped(o.container, wantThreads, grantThreads, gpu, o.replicas);
      if (notes === null) notes = [n];
      else notes.push(n);
    }
    threads += grantThreads;
  }
  if (undeclared) {
    // The pod's own declaration (annotation or tier) stands for its clients without an env limit.
    const declared = shape.declaredMemoryBytes;
    if (declared !== null) {
      largest = Math.max(largest, declared);
      if (daemon && declared > undeclaredShare) {
        refusal ??= reasons.tokenMemory(gpu, declared, undeclaredShare, { asked: undeclaredReplicas, needed: Math.ceil(declared / Math.max(1, perReplica)), resource: replicaResource(inv, gpu), each: perReplica }, null);
        memory += undeclaredShare;
      } else memory += declared;
    } else memory += undeclaredShare;
  }
  if (cap.memoryBytes > 0 && largest > cap.memoryBytes) refusal = reasons.gpuTooSmall(gpu, largest, cap.memoryBytes);
  const t: GpuTake = { gpu, replicas, memoryBytes: memory, threadMilli: threads, clients: on.length, mig: null, exclusive: shape.isolation === 'exclusive' };
  return { take: t, refusal, notes: notes === null ? NO_NOTES : notes.length === 1 ? oneNote(notes[0]) : notes };
}

/**
 * A lone note as the list of the last equal one on that GPU index: nodes of one kind give a pod
 * the same note, and fit shares answers equal in every field, notes by identity (place.ts). Per
 * GPU index, as a chooser weighing GPU 1 between two nodes' GPU 0 answers would otherwise defeat
 * it. Never changed once made.
 */
const lastNotes: (readonly ThreadsCapped[] | undefined)[] = [];
function oneNote(n: ThreadsCapped): readonly Note[] {
  const g = n.gpu;
  if (g >= 64) return [n];
  const last = lastNotes[g];
  if (last !== undefined && last[0].sameAs(n)) return last;
  return (lastNotes[g] = [n]);
}

function admit(node: GpuNode, t: GpuTake, u: GpuUsage): readonly Reason[] {
  const inv = node.inventory;
  const cap = capacity(inv, t.gpu);
  let out = addReason(null, admitExclusivity(node, t, u, cap));
  out = addReason(out, admitReplicas(inv, t, u, cap));
  if (cap.memoryBytes > 0 && u.memoryBytes + t.memoryBytes > cap.memoryBytes) {
    out = addReason(out, reasons.mpsMemory(t.gpu, { requested: t.memoryBytes, used: u.memoryBytes, capacity: cap.memoryBytes }));
  }
  if (u.threadMilli + t.threadMilli > cap.threadMilli) out = addReason(out, reasons.mpsThreads(t.gpu, { requested: t.threadMilli, used: u.threadMilli, capacity: cap.threadMilli }));
  if (u.clients + t.clients > cap.clients) out = addReason(out, reasons.mpsClients(t.gpu, { requested: t.clients, used: u.clients, capacity: cap.clients }));
  return out ?? NO_REASONS;
}

const LIMITS = { memory: true, threads: true, clients: true };

function free(inv: NodeInventory, gpu: number, u: GpuUsage): GpuFree {
  return sharedFree(capacity(inv, gpu), u, LIMITS);
}

function podNotes(kind: GpuKind, shape: FitShape): readonly Note[] {
  let out: Note[] | null = null;
  if (shape.declaredMemoryBytes === null && !usesMpsEnv(shape)) {
    const per = memoryPerReplica(kind, 0);
    (out ??= []).push({
      code: 'memory-undeclared',
      message: `pod declares no GPU memory: it is accounted at its replicas' share (${formatBytes(per)} per replica); set CUDA_MPS_PINNED_DEVICE_MEM_LIMIT or gpu-ledger.io/gpu-memory`,
    });
  }
  if (usesUuidLimits(shape)) {
    (out ??= []).push({ code: 'uuid-match', message: 'GPU UUIDs in CUDA_MPS_PINNED_DEVICE_MEM_LIMIT are matched only when the container sees one GPU' });
  }
  return out ?? NO_NOTES;
}

export const mpsRules: ModeRules = { mode: 'mps', shareable: true, limits: LIMITS, capacity, take, admit, free, podNotes };
