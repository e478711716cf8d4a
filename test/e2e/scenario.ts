// The frame of a scenario file: a cluster emptied of other files' nodes and pods, the scenario's
// nodes, a fresh namespace, gpu-ledger live and the shipped kube-scheduler config pointed at it.
// Call scenario() inside the file's describe: it registers the hooks there.

import type { V1Node } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import type { E2eEnv } from './control-plane.js';
import { startLedger, type Ledger, type LedgerOptions } from './gpu-ledger.js';
import { Cluster } from './kube.js';
import { startScheduler, stopScheduler, type SchedulerOptions } from './scheduler.js';

/** null when the machine has no control plane (the global setup printed how to provide one). */
export const E2E: E2eEnv | null = inject('e2e');

/** describe() that skips when there is no control plane. */
export const describeE2e = describe.skipIf(E2E === null);

export function env(): E2eEnv {
  if (!E2E) throw new Error('no control plane (the e2e tests should have been skipped)');
  return E2E;
}

export interface Scenario {
  cluster: Cluster;
  ns: string;
  ledger: Ledger;
  schedulerName: string;
  /** Restarts gpu-ledger on the same port (kube-scheduler keeps calling the same URL). */
  restartLedger(o?: LedgerOptions): Promise<Ledger>;
}

/** What a scenario may change before gpu-ledger and kube-scheduler start (e.g. their identities). */
export interface Identities {
  ledger?: LedgerOptions;
  scheduler?: SchedulerOptions;
}

export function scenario(prefix: string, nodes: () => V1Node[], prepare: (cluster: Cluster, e: E2eEnv) => Promise<Identities> = async () => ({})): Scenario {
  const s = {} as Scenario;
  let ledgerOptions: LedgerOptions = {};
  beforeAll(async () => {
    const e = env();
    s.cluster = new Cluster(e.kubeconfig);
    await s.cluster.reset();
    for (const n of nodes()) await s.cluster.createNode(n);
    s.ns = await s.cluster.namespace(prefix);
    const ids = await prepare(s.cluster, e);
    ledgerOptions = ids.ledger ?? {};
    s.ledger = await startLedger(e, ledgerOptions);
    s.schedulerName = await startScheduler(e, s.ledger.url, ids.scheduler);
    s.restartLedger = async (o: LedgerOptions = {}) => {
      await s.ledger.stop();
      s.ledger = await startLedger(e, { ...ledgerOptions, ...o, port: s.ledger.port });
      return s.ledger;
    };
  });
  afterAll(async () => {
    const e = env();
    await stopScheduler(e).catch(() => undefined);
    await s.ledger?.stop();
    await s.cluster?.reset();
  });
  return s;
}
