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
  { name: 'host', type: 'string', default: '127.0.0.1', env: 'GPU_LEDGER_HOST', help: 'address to listen on (loopback: sidecar of kube-scheduler)' },
  { name: 'port', type: 'string', default: '8888', env: 'GPU_LEDGER_PORT', help: 'port to listen on' },
  { name: 'tls-cert', type: 'string', env: 'GPU_LEDGER_TLS_CERT', help: 'PEM certificate: serve HTTPS' },
  { name: 'tls-key', type: 'string', env: 'GPU_LEDGER_TLS_KEY', help: 'PEM private key for --tls-cert' },
  { name: 'client-ca', type: 'string', env: 'GPU_LEDGER_CLIENT_CA', help: 'PEM CA bundle: require client certificates signed by it (mTLS)' },
  { name: 'max-body', type: 'string', default: '64mb', env: 'GPU_LEDGER_MAX_BODY', help: 'largest request body accepted (full Node lists of big clusters need tens of MB)' },
  { name: 'kubeconfig', type: 'string', env: 'KUBECONFIG', help: 'kubeconfig for live mode (default: in-cluster service account)' },
  { name: 'reservation-ttl', type: 'string', default: '120s', env: 'GPU_LEDGER_RESERVATION_TTL', help: 'how long a bind reservation waits for the pod to show up bound before it expires' },
  { name: 'resync-period', type: 'string', default: '5m', env: 'GPU_LEDGER_RESYNC_PERIOD', help: 'live mode: full relist period (guards against silently stalled watches)' },
  { name: 'preemption', type: 'boolean', default: 'false', env: 'GPU_LEDGER_PREEMPTION', help: 'report capacity reasons as resolvable (FailedNodes); only with a preemptVerb configured' },
  { name: 'log-level', type: 'string', default: 'info', env: 'GPU_LEDGER_LOG_LEVEL', help: 'pino level: fatal, error, warn, info, debug, trace' },
];
