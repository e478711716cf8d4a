// The fields of kube-scheduler's `kubescheduler.config.k8s.io/v1` KubeSchedulerConfiguration, as data,
// for a strict checker (strict-decode.ts) that behaves like kube-scheduler's decoder: unknown keys
// are errors, keys are case-sensitive, types must match (durations are strings like "5s").
//
// Source: kubernetes/kubernetes staging/src/k8s.io/kube-scheduler/config/v1/types.go
//   (KubeSchedulerConfiguration, KubeSchedulerProfile, Plugins, PluginSet, Plugin, PluginConfig,
//    Extender, ExtenderManagedResource, ExtenderTLSConfig)
// and staging/src/k8s.io/component-base/config/v1alpha1/types.go
//   (LeaderElectionConfiguration, ClientConnectionConfiguration, DebuggingConfiguration, which is
//    inlined: enableProfiling, enableContentionProfiling).
//
// Pinned to the kube-scheduler the manifests deploy (v1.30.6). Not in v1 at 1.30, so rejected here:
//  - healthzBindAddress, metricsBindAddress: removed with v1beta3 (kube-scheduler serves /healthz
//    and /metrics on its secure port 10259);
//  - podMaxInUnschedulablePodsDuration: never a config field; it is the deprecated flag
//    --pod-max-in-unschedulable-pods-duration (PRs to move it into the config were closed);
//  - percentageOfPlacementsToScore and the placement* plugin extension points: added to master
//    after 1.30 behind the TopologyAwareWorkloadScheduling feature gate.
// Plugin `args` (runtime.RawExtension) are decoded per plugin by kube-scheduler; here they are
// accepted as any map (the manifests configure no plugin args).

export type FieldSpec =
  | { type: 'string' }
  | { type: 'bool' }
  | { type: 'int32' }
  | { type: 'int64' }
  | { type: 'float' }
  /** metav1.Duration: a Go duration string ("5s", "1m30s"); a bare number is a decode error */
  | { type: 'duration' }
  /** []byte: base64 text in JSON/YAML */
  | { type: 'bytes' }
  | { type: 'object'; fields: Readonly<Record<string, FieldSpec>> }
  | { type: 'list'; items: FieldSpec }
  /** runtime.RawExtension (plugin args) */
  | { type: 'map' };

const string: FieldSpec = { type: 'string' };
const bool: FieldSpec = { type: 'bool' };
const int32: FieldSpec = { type: 'int32' };
const int64: FieldSpec = { type: 'int64' };
const float: FieldSpec = { type: 'float' };
const duration: FieldSpec = { type: 'duration' };
const bytes: FieldSpec = { type: 'bytes' };
const object = (fields: Record<string, FieldSpec>): FieldSpec => ({ type: 'object', fields });
const list = (items: FieldSpec): FieldSpec => ({ type: 'list', items });

// component-base/config/v1alpha1
const leaderElection = object({
  leaderElect: bool,
  leaseDuration: duration,
  renewDeadline: duration,
  retryPeriod: duration,
  resourceLock: string,
  resourceName: string,
  resourceNamespace: string,
});

const clientConnection = object({
  kubeconfig: string,
  acceptContentTypes: string,
  contentType: string,
  qps: float,
  burst: int32,
});

// kube-scheduler/config/v1
const plugin = object({ name: string, weight: int32 });
const pluginSet = object({ enabled: list(plugin), disabled: list(plugin) });

export const EXTENSION_POINTS_V1_30 = [
  'preEnqueue',
  'queueSort',
  'preFilter',
  'filter',
  'postFilter',
  'preScore',
  'score',
  'reserve',
  'permit',
  'preBind',
  'bind',
  'postBind',
  'multiPoint',
] as const;

const plugins = object(Object.fromEntries(EXTENSION_POINTS_V1_30.map((p) => [p, pluginSet])));

const pluginConfig = object({ name: string, args: { type: 'map' } });

const profile = object({
  schedulerName: string,
  percentageOfNodesToScore: int32,
  plugins,
  pluginConfig: list(pluginConfig),
});

const tlsConfig = object({
  insecure: bool,
  serverName: string,
  certFile: string,
  keyFile: string,
  caFile: string,
  certData: bytes,
  keyData: bytes,
  caData: bytes,
});

const managedResource = object({ name: string, ignoredByScheduler: bool });

export const EXTENDER_V1 = object({
  urlPrefix: string,
  filterVerb: string,
  preemptVerb: string,
  prioritizeVerb: string,
  weight: int64,
  bindVerb: string,
  enableHTTPS: bool,
  tlsConfig,
  httpTimeout: duration,
  nodeCacheCapable: bool,
  managedResources: list(managedResource),
  ignorable: bool,
});

export const KUBE_SCHEDULER_CONFIGURATION_V1 = object({
  // metav1.TypeMeta
  apiVersion: string,
  kind: string,
  parallelism: int32,
  leaderElection,
  clientConnection,
  // componentbaseconfigv1alpha1.DebuggingConfiguration, inlined
  enableProfiling: bool,
  enableContentionProfiling: bool,
  percentageOfNodesToScore: int32,
  podInitialBackoffSeconds: int64,
  podMaxBackoffSeconds: int64,
  profiles: list(profile),
  extenders: list(EXTENDER_V1),
  delayCacheUntilActive: bool,
});

export const KUBE_SCHEDULER_API_VERSION = 'kubescheduler.config.k8s.io/v1';
export const KUBE_SCHEDULER_KIND = 'KubeSchedulerConfiguration';

/** Fields people reach for that v1 (at 1.30) does not have: each must be rejected. */
export const NOT_IN_V1_30: readonly string[] = [
  'healthzBindAddress',
  'metricsBindAddress',
  'podMaxInUnschedulablePodsDuration',
  'percentageOfPlacementsToScore',
];
