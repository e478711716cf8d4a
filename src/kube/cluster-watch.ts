// Nodes and bound pods from the API server into the ledger (ClusterSink). Pods are keyed by UID
// everywhere: the sink is told about deletions by UID, so a pod recreated under the same name is a
// different pod.

import { CoreV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import type { ClusterSink } from '../state/sink.js';
import { Reflector, type Logger, type ReflectorStats, type SyncState } from './reflector.js';
import { withConnectTimeout, withSignal } from './timeouts.js';

/** Pods that hold a node: the same selector for LIST and WATCH. */
export const BOUND_PODS_SELECTOR = 'spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed';

export interface ClusterWatchOptions {
  sink: ClusterSink;
  logger: Logger;
  resyncPeriodMs: number;
  /** Deadline of each LIST and of each watch connection (until the response headers), ms. */
  apiTimeoutMs: number;
  /** Relist when a watch is silent this long (default: the resync period). */
  watchdogMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export interface ClusterWatch {
  /** Both resources in sync (initial lists applied, no list/watch failure since the last relist). */
  ready(): boolean;
  sync(): { nodes: SyncState; pods: SyncState };
  stop(): Promise<void>;
  stats(): { nodes: ReflectorStats; pods: ReflectorStats };
}

function uidOf(obj: unknown): string {
  const uid = (obj as { metadata?: { uid?: unknown } } | null)?.metadata?.uid;
  return typeof uid === 'string' ? uid : '';
}

function nameOf(obj: unknown): string {
  const name = (obj as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  return typeof name === 'string' ? name : '';
}

export function startClusterWatch(kc: KubeConfig, o: ClusterWatchOptions): ClusterWatch {
  const api = kc.makeApiClient(CoreV1Api);
  const watch = new Watch(withConnectTimeout(kc, o.apiTimeoutMs));
  const common = {
    watch,
    listTimeoutMs: o.apiTimeoutMs,
    logger: o.logger,
    resyncPeriodMs: o.resyncPeriodMs,
    watchdogMs: o.watchdogMs ?? o.resyncPeriodMs,
    backoffInitialMs: o.backoffInitialMs,
    backoffMaxMs: o.backoffMaxMs,
  };
  const nodes = new Reflector({
    ...common,
    name: 'nodes',
    path: '/api/v1/nodes',
    list: async (signal: AbortSignal) => {
      const l = await api.listNode({}, withSignal(signal));
      return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
    },
    onReset: (items) => o.sink.resetNodes(items),
    onEvent: (type, obj) => (type === 'DELETED' ? o.sink.deleteNode(nameOf(obj)) : o.sink.upsertNode(obj)),
  });
  const pods = new Reflector({
    ...common,
    name: 'pods',
    path: '/api/v1/pods',
    fieldSelector: BOUND_PODS_SELECTOR,
    list: async (signal: AbortSignal) => {
      const l = await api.listPodForAllNamespaces({ fieldSelector: BOUND_PODS_SELECTOR }, withSignal(signal));
      return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
    },
    onReset: (items, listStartedAt) => o.sink.resetPods(items, listStartedAt),
    // With the field selector, a pod that turns Succeeded/Failed arrives as DELETED.
    onEvent: (type, obj) => (type === 'DELETED' ? o.sink.deletePod(uidOf(obj)) : o.sink.upsertPod(obj)),
  });
  // Nodes first: pods that arrive before their node are kept and placed when it shows up anyway.
  nodes.start();
  pods.start();
  return {
    ready: () => nodes.inSync() && pods.inSync(),
    sync: () => ({ nodes: nodes.syncState(), pods: pods.syncState() }),
    stop: async () => {
      await Promise.all([nodes.stop(), pods.stop()]);
    },
    stats: () => ({ nodes: nodes.stats, pods: pods.stats }),
  };
}
