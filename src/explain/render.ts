// Reasons are data until here. Two renderings: a short, stable text per cause for the
// FailedScheduling event (kube-scheduler counts identical strings together, so no per-node
// numbers), and a detailed line with every number for explain and debug logs.

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

/** One short text per cause, identical on every node with that cause. */
export function eventText(r: Reason): string {
  switch (r.code) {
    case 'node-unknown':
      return 'node unknown to gpu-ledger';
    case 'no-gpu':
      return 'gpu-ledger: node has no NVIDIA GPU';
    case 'node-problem':
      return `gpu-ledger: node GPU inventory unusable: ${r.detail ?? r.resource}`;
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

/** Every number: "GPU 0: MPS memory: needs 64Gi, 96Gi in use of 128Gi". */
export function detailText(r: Reason): string {
  const where = r.gpu === null ? '' : `GPU ${r.gpu}: `;
  const label: Record<Reason['code'], string> = {
    'node-unknown': 'node',
    'no-gpu': 'GPUs',
    'node-problem': 'inventory',
    'invalid-pod': 'pod spec',
    'resource-missing': r.resource,
    replicas: `${r.resource} replicas`,
    'gpu-tokens': `${r.resource} tokens`,
    'mps-memory': 'MPS memory',
    'mps-threads': 'MPS threads',
    'mps-clients': 'MPS clients',
    'timeslice-memory': 'time-sliced memory',
    'mig-instances': `${r.resource} instances`,
    'mig-memory': `${r.resource} memory`,
    'exclusive-busy': 'exclusivity',
    'held-exclusive': 'exclusivity',
  };
  if (r.unit === 'none') return `${where}${label[r.code]}: ${r.detail ?? eventText(r)}`;
  if (r.code === 'exclusive-busy') return `${where}exclusive pod needs an idle GPU; ${r.used} pod(s) on it`;
  if (r.code === 'held-exclusive') return `${where}held by an exclusive pod`;
  if (r.code === 'resource-missing') return `${where}node does not offer ${r.resource}`;
  if (r.code === 'mig-memory') return `${where}pod declares ${formatBytes(r.requested)}; one ${r.resource} instance has ${formatBytes(r.capacity)}`;
  const free = Math.max(0, r.capacity - r.used);
  return `${where}${label[r.code]}: needs ${amount(r.requested, r.unit)}, ${amount(r.used, r.unit)} in use of ${amount(r.capacity, r.unit)} (${amount(free, r.unit)} free)`;
}
