// The `serve` command's options, in one table: the CLI parser, the env-var mapping, the README
// and the deployment tests (sidecar args must name only these flags) all read it.

export interface FlagSpec {
  name: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** Default shown in --help and the README; undefined = unset. */
  default?: string;
  env: string;
  help: string;
}

export const SERVE_FLAGS: readonly FlagSpec[] = [
  { name: 'snapshot', type: 'string', multiple: true, env: 'GPU_LEDGER_SNAPSHOT', help: 'v1 List file(s) of Nodes and Pods (YAML or JSON); serve from them instead of a cluster (comma-separated in the env var)' },
  { name: 'config', type: 'string', env: 'GPU_LEDGER_CONFIG', help: 'config file: node pools, tiers, scoring weights, server settings' },
  { name: 'host', type: 'string', default: '127.0.0.1', env: 'GPU_LEDGER_HOST', help: 'extender port address: the verbs (filter, prioritize, bind, preempt); loopback for the kube-scheduler next to it' },
  { name: 'port', type: 'string', default: '8888', env: 'GPU_LEDGER_PORT', help: 'extender port: the verbs and /healthz only' },
  { name: 'status-host', type: 'string', default: '127.0.0.1', env: 'GPU_LEDGER_STATUS_HOST', help: 'status port address: read-only /metrics, /healthz, /readyz, /explain (the Deployment uses 0.0.0.0: probes and Prometheus come through the pod IP)' },
  { name: 'status-port', type: 'string', default: '8889', env: 'GPU_LEDGER_STATUS_PORT', help: 'status port: never serves a verb' },
  { name: 'tls-cert', type: 'string', env: 'GPU_LEDGER_TLS_CERT', help: 'PEM certificate: serve the extender port over HTTPS' },
  { name: 'tls-key', type: 'string', env: 'GPU_LEDGER_TLS_KEY', help: 'PEM private key for --tls-cert' },
  { name: 'client-ca', type: 'string', env: 'GPU_LEDGER_CLIENT_CA', help: 'PEM CA bundle: the extender port requires client certificates signed by it (mTLS)' },
  { name: 'max-body', type: 'string', default: '64mb', env: 'GPU_LEDGER_MAX_BODY', help: 'largest request body accepted (full Node lists of big clusters need tens of MB; explain takes at most 3mb)' },
  { name: 'body-budget', type: 'string', default: '128mb', env: 'GPU_LEDGER_BODY_BUDGET', help: 'bytes all request bodies being read may hold at once, both ports together; beyond it a request gets 503 (at least --max-body)' },
  { name: 'max-connections', type: 'string', default: '256', env: 'GPU_LEDGER_MAX_CONNECTIONS', help: 'open connections per port; further ones are closed on arrival' },
  { name: 'kubeconfig', type: 'string', env: 'KUBECONFIG', help: 'kubeconfig for live mode (default: in-cluster service account)' },
  { name: 'api-timeout', type: 'string', default: '60s', env: 'GPU_LEDGER_API_TIMEOUT', help: 'live mode: deadline of each LIST and of each watch connection until its response headers (a watch then stays open; the watchdog bounds its silence)' },
  { name: 'bind-timeout', type: 'string', default: '4s', env: 'GPU_LEDGER_BIND_TIMEOUT', help: "live mode: deadline of a whole bind (the Binding and any read); keep it below the extender's httpTimeout (kube-scheduler default 5s)" },
  { name: 'reservation-ttl', type: 'string', default: '120s', env: 'GPU_LEDGER_RESERVATION_TTL', help: 'backstop: a reservation whose bind never settled expires after this (a bind settles within --bind-timeout; bound or unknown outcomes never expire)' },
  { name: 'resync-period', type: 'string', default: '5m', env: 'GPU_LEDGER_RESYNC_PERIOD', help: 'live mode: full relist period (guards against silently stalled watches)' },
  { name: 'preemption', type: 'boolean', default: 'false', env: 'GPU_LEDGER_PREEMPTION', help: 'preempt strictly lower-priority pods for GPU shares (live mode: Eviction API, nomination, events); /preempt adds the GPU victims kube-scheduler proposals lack' },
  { name: 'preemption-ttl', type: 'string', default: '120s', env: 'GPU_LEDGER_PREEMPTION_TTL', help: "with --preemption: how long a nomination holds the preemptor's share on its node until it binds" },
  { name: 'preemption-max-evictions', type: 'string', default: '10', env: 'GPU_LEDGER_PREEMPTION_MAX_EVICTIONS', help: 'with --preemption: victims evicted and not yet gone, at most (further preemptions wait)' },
  { name: 'preemption-cooldown', type: 'string', default: '5s', env: 'GPU_LEDGER_PREEMPTION_COOLDOWN', help: "with --preemption: no new evictions on a node for this long after evictions there; a preemptor's back-off after an attempt that evicted nothing" },
  { name: 'log-level', type: 'string', default: 'info', env: 'GPU_LEDGER_LOG_LEVEL', help: 'pino level: fatal, error, warn, info, debug, trace' },
  // --- the ledger page, per-pod metrics, readable logs ---
  { name: 'log-format', type: 'string', default: 'json', env: 'GPU_LEDGER_LOG_FORMAT', help: 'json (one object per line, for log collectors) or pretty (one readable line, for a terminal)' },
  { name: 'pod-metrics', type: 'boolean', default: 'false', env: 'GPU_LEDGER_POD_METRICS', help: 'per-pod allocation gauges gpu_ledger_pod_* (pod, namespace, node, GPU: MPS memory, thread share, replicas, MIG): one series per pod and GPU' },
];
