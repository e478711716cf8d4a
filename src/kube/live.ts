// Live cluster mode entry point. Placeholder until the informer-based implementation lands.
import type { Logger } from 'pino';
import type { Binder, ClusterSink } from '../state/sink.js';

export interface LiveOptions {
  kubeconfig?: string;
  sink: ClusterSink;
  resyncPeriodMs: number;
  logger: Logger;
}

export async function startLiveMode(_opts: LiveOptions): Promise<{ binder: Binder; ready(): boolean; stop(): Promise<void> }> {
  throw new Error('live cluster mode is not available in this build: run with --snapshot <file>');
}
