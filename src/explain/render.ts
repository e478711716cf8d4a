// Reasons are data until here. Two renderings: a short, stable text per cause for the
// FailedScheduling event (kube-scheduler counts identical strings together, so no per-node
// numbers — only the pod's own), and a detailed line with every number for explain and debug logs.

import { formatBytes, formatMilli } from '../model/quantity.js';
import type { Reason } from '../model/types.js';

function amount(value: number, unit: Reason['unit']): string {
  switch (unit) {
    case 'bytes':
      return formatBytes(value);
    case 'milli':
      return formatMilli(value);
    default:
      return String(value);
  }
}

function who(pods: readonly string[] | undefined): string {
  return pods && pods.length > 0 ? ` (${pods.join(', ')})` : '';
}

/** One short text per cause, identical on every node with that cause. */
export function eventText(r: Reason): string {
  switch (r.code) {
    case 'node-unknown':
      return 'node unknown to gpu-ledger';
    case 'no-gpu':
      return 'gpu-ledger: node has no NVIDIA GPU';
    case 'node-problem':
      return `gpu-ledger: node GPU inventory unusable: ${r.detail ?? r.resource}`;
    case 'node-saturated':
      return 'gpu-ledger: node has more GPU pods than it can account (pods bound outside the scheduler)';
    case 'invalid-pod':
      return `gpu-ledger: invalid GPU spec: ${r.detail ?? 'see gpu-ledger explain'}`;
    case 'resource-missing':
      return `gpu-ledger: node does not offer ${r.resource}`;
    case 'replicas':
      return `gpu-ledger: not enough free ${r.resource} replicas (pod needs ${r.requested})`;
    case 'gpu-tokens':
      return `gpu-ledger: not enough free ${r.resource} tokens (pod needs ${r.requested})`;
    case 'mps-memory':
      return `gpu-ledger: MPS memory overcommit (pod needs ${formatBytes(r.requested)} on one GPU)`;
    case 'mps-threads':
      return `gpu-ledger: MPS thread percentage overcommit (pod needs ${formatMilli(r.requested)} on one GPU)`;
    case 'mps-clients':
      return 'gpu-ledger: MPS client limit reached on every GPU';
    case 'token-memory':
      return `gpu-ledger: pod declares more GPU memory (${formatBytes(r.requested)}) than its ${r.tokens?.resource ?? 'nvidia.com/gpu'} tokens get from the MPS daemon`;
    case 'gpu-too-small':
      return `gpu-ledger: GPU too small (pod declares ${formatBytes(r.requested)} per GPU)`;
    case 'too-few-gpus':
      return `gpu-ledger: pod names ${r.requested} GPU devices in CUDA_MPS_PINNED_DEVICE_MEM_LIMIT but gets at most ${r.capacity} distinct GPU(s) here`;
    case 'timeslice-memory':
      return `gpu-ledger: time-sliced GPU memory overcommit (pod needs ${formatBytes(r.requested)} on one GPU)`;
    case 'mig-instances':
      return `gpu-ledger: no free ${r.resource} instance`;
    case 'mig-memory':
      return `gpu-ledger: MIG instance too small (pod declares ${formatBytes(r.requested)}, ${r.resource} has ${formatBytes(r.capacity)})`;
    case 'exclusive-busy':
      return 'gpu-ledger: exclusive pod needs an idle GPU';
    case 'held-exclusive':
      return 'gpu-ledger: GPU held by an exclusive pod';
  }
}

/** Every number: "GPU 0: MPS memory: needs 64Gi, 96Gi in use of 128Gi (32Gi free)". */
export function detailText(r: Reason): string {
  const where = r.gpu === null ? '' : `GPU ${r.gpu}: `;
  switch (r.code) {
    case 'node-unknown':
    case 'no-gpu':
    case 'node-problem':
    case 'invalid-pod':
      return `${where}${r.code === 'node-problem' ? 'inventory' : r.code === 'invalid-pod' ? 'pod spec' : r.code === 'no-gpu' ? 'GPUs' : 'node'}: ${r.detail ?? eventText(r)}`;
    case 'node-saturated':
      return `${where}${r.used} pods on this GPU; gpu-ledger accounts at most ${r.capacity} per GPU, so the node takes no new pods until they are gone`;
    case 'resource-missing':
      return `${where}node does not offer ${r.resource}`;
    case 'token-memory': {
      const t = r.tokens!;
      const owner = r.detail ? `${r.detail} ` : 'pod ';
      return `${where}${owner}declares ${formatBytes(r.requested)}, but its ${t.asked} token(s) get ${formatBytes(r.capacity)} from the MPS daemon: ${formatBytes(r.requested)} needs ${t.needed} tokens of ${t.resource} (${formatBytes(t.each)} each); the pod asks ${t.asked}`;
    }
    case 'gpu-too-small':
      return `${where}pod declares ${formatBytes(r.requested)} per GPU; a GPU here has ${formatBytes(r.capacity)} usable`;
    case 'too-few-gpus':
      return `${r.detail ?? 'a container'} names devices 0..${r.requested - 1} in CUDA_MPS_PINNED_DEVICE_MEM_LIMIT, so it needs ${r.requested} distinct GPUs; its replicas get ${r.capacity} here (a container sees one device per GPU its replicas land on)`;
    case 'mig-memory':
      return `${where}pod declares ${formatBytes(r.requested)}; one ${r.resource} instance has ${formatBytes(r.capacity)}`;
    case 'exclusive-busy':
      return r.gpu === null
        ? `no idle GPU for an exclusive pod: ${r.used} pod(s) on the GPUs it could use${who(r.pods)}`
        : `${where}exclusive pod needs an idle GPU; ${r.used} pod(s) on it${who(r.pods)}`;
    case 'held-exclusive':
      return r.gpu === null
        ? `the free replicas are on GPUs held exclusively${r.pods?.length ? ` by ${r.pods.join(', ')}` : ''} (${r.used} of ${r.capacity} replicas in use; pod needs ${r.requested})`
        : `${where}held exclusively${r.pods?.length ? ` by ${r.pods.join(', ')}` : ''} (${r.used} of ${r.capacity} replicas in use)`;
    default: {
      const label: Record<string, string> = {
        replicas: `${r.resource} replicas`,
        'gpu-tokens': `${r.resource} tokens`,
        'mps-memory': 'MPS memory',
        'mps-threads': 'MPS threads',
        'mps-clients': 'MPS clients',
        'timeslice-memory': 'time-sliced memory',
        'mig-instances': `${r.resource} instances`,
      };
      const free = Math.max(0, r.capacity - r.used);
      return `${where}${label[r.code] ?? r.code}: needs ${amount(r.requested, r.unit)}, ${amount(r.used, r.unit)} in use of ${amount(r.capacity, r.unit)} (${amount(free, r.unit)} free)`;
    }
  }
}
