// Live cluster mode: the ledger fed by list/watch of Nodes and bound Pods; binds through the API.

import type { Binder, ClusterSink } from '../state/sink.js';
import { LiveBinder } from './binder.js';
import { startClusterWatch } from './cluster-watch.js';
import { loadKubeConfig } from './kubeconfig.js';
import type { Logger } from './reflector.js';

export interface LiveOptions {
  kubeconfig?: string;
  sink: ClusterSink;
  resyncPeriodMs: number;
  logger: Logger;
}

export async function startLiveMode(opts: LiveOptions): Promise<{ binder: Binder; ready(): boolean; stop(): Promise<void> }> {
  const kc = loadKubeConfig(opts.kubeconfig);
  opts.logger.info({ server: kc.getCurrentCluster()?.server }, 'live mode: watching nodes and bound pods');
  const watch = startClusterWatch(kc, { sink: opts.sink, logger: opts.logger, resyncPeriodMs: opts.resyncPeriodMs });
  return { binder: new LiveBinder(kc), ready: watch.ready, stop: watch.stop };
}
