// Live cluster mode: the ledger fed by list/watch of Nodes and bound Pods; binds through the API.

import type { Binder, ClusterSink } from '../state/sink.js';
import type { PreemptionApi } from '../preempt/api.js';
import { LiveBinder } from './binder.js';
import { LiveEvictor } from './evictor.js';
import { startClusterWatch } from './cluster-watch.js';
import { loadKubeConfig } from './kubeconfig.js';
import type { Logger, SyncState } from './reflector.js';

export interface LiveOptions {
  kubeconfig?: string;
  sink: ClusterSink;
  resyncPeriodMs: number;
  /** Deadline of each LIST and watch connection, ms (default 60 s, kube-apiserver's own request timeout). */
  apiTimeoutMs?: number;
  /** Deadline of a whole bind (Binding and any read), ms (default 4 s, below kube-scheduler's 5 s httpTimeout). */
  bindTimeoutMs?: number;
  logger: Logger;
}

export interface LiveMode {
  binder: Binder;
  /** Evictions, events and PodDisruptionBudgets for --preemption (no call is made unless it is used). */
  preemptionApi: PreemptionApi;
  /** Nodes and pods in sync with the API server. */
  ready(): boolean;
  sync(): { nodes: SyncState; pods: SyncState };
  stop(): Promise<void>;
}

export async function startLiveMode(opts: LiveOptions): Promise<LiveMode> {
  const kc = loadKubeConfig(opts.kubeconfig);
  opts.logger.info({ server: kc.getCurrentCluster()?.server }, 'live mode: watching nodes and bound pods');
  const watch = startClusterWatch(kc, { sink: opts.sink, logger: opts.logger, resyncPeriodMs: opts.resyncPeriodMs, apiTimeoutMs: opts.apiTimeoutMs ?? 60_000 });
  const bindTimeoutMs = opts.bindTimeoutMs ?? 4_000;
  const binder = new LiveBinder(kc, { timeoutMs: bindTimeoutMs });
  const stop = async () => {
    await watch.stop();
    binder.close();
  };
  return {
    binder,
    preemptionApi: new LiveEvictor(kc, { writeTimeoutMs: bindTimeoutMs, listTimeoutMs: opts.apiTimeoutMs ?? 60_000 }),
    ready: watch.ready,
    sync: watch.sync,
    stop,
  };
}
