import type { ReplicaPlacement, SharingMode, Tier } from './types.js';

/** Kubernetes-style label selector (matchLabels AND matchExpressions). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** Values a node pool may set; same meaning as the node annotations. Unset = not set by this pool. */
export interface PoolSettings {
  gpuMemoryBytes?: number;
  reservedMemoryBytes?: number;
  computeOvercommit?: number;
  mpsMaxClients?: number;
  tier?: string;
  placement?: ReplicaPlacement;
  /** Sharing mode override for nodes whose labels do not say it. */
  sharing?: SharingMode;
  /** Replicas per GPU override for nodes whose labels do not say it. */
  replicas?: number;
  mpsDaemonLimits?: boolean;
}

export interface PoolConfig extends PoolSettings {
  name: string;
  selector: LabelSelector;
}

export interface ScoringWeights {
  tierFit: number;
  fragmentation: number;
  binpack: number;
}

export interface LedgerConfig {
  tiers: Tier[];
  /** Pools in file order; for each setting the first matching pool that sets it wins. */
  pools: PoolConfig[];
  defaults: Required<Pick<PoolSettings, 'reservedMemoryBytes' | 'computeOvercommit' | 'mpsMaxClients' | 'placement'>>;
  scoring: { weights: ScoringWeights };
  /**
   * gpu-ledger preempts strictly lower-priority pods for GPU shares itself (serve --preemption):
   * kube-scheduler's dry run cannot see GPU-share constraints, so its reasons stay unresolvable.
   */
  preemption: boolean;
  /** The file's `server` section: serve settings (flags and env vars override them). */
  server?: Record<string, string | number | boolean>;
}

const GiB = 2 ** 30;

export const DEFAULT_TIERS: Tier[] = [
  { name: 'small', memoryBytes: 8 * GiB, threadMilli: 100 },
  { name: 'medium', memoryBytes: 32 * GiB, threadMilli: 250 },
  { name: 'large', memoryBytes: 64 * GiB, threadMilli: 500 },
];

export function defaultConfig(): LedgerConfig {
  return {
    tiers: DEFAULT_TIERS.map((t) => ({ ...t })),
    pools: [],
    defaults: { reservedMemoryBytes: 0, computeOvercommit: 1, mpsMaxClients: 48, placement: 'distributed' },
    scoring: { weights: { tierFit: 1, fragmentation: 2, binpack: 0 } },
    preemption: false,
  };
}
