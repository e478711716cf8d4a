// kube-scheduler for the scenarios: the shipped deploy/scheduler-config/second-scheduler.yaml —
// the file users deploy — changed only where a test must: the kubeconfig, the extender's URL
// (gpu-ledger listens on a free port) and leader election off. A field broken in the shipped file
// breaks these tests.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { controlPlane, REPO, type E2eEnv } from './control-plane.js';

export const SHIPPED_CONFIG = join(REPO, 'deploy/scheduler-config/second-scheduler.yaml');

type Rec = Record<string, unknown>;

export function shippedConfig(): Rec {
  return yaml.load(readFileSync(SHIPPED_CONFIG, 'utf8')) as Rec;
}

/** The profile's schedulerName (pods opt in with it). */
export function schedulerName(): string {
  const profiles = shippedConfig().profiles as Rec[];
  return String(profiles[0].schedulerName);
}

export interface SchedulerOptions {
  /** identity kube-scheduler runs under (default: admin) */
  kubeconfig?: string;
  /** keep the shipped leader election (its own lease, and so the lease RBAC) instead of turning it off */
  leaderElection?: boolean;
  /** false: drop the shipped preemptVerb (to show what works without it) */
  preemptVerb?: boolean;
}

export function adaptConfig(config: Rec, o: { kubeconfig: string; extenderUrl: string; leaderElection?: boolean; preemptVerb?: boolean }): Rec {
  const c = structuredClone(config);
  c.clientConnection = { ...((c.clientConnection as Rec | undefined) ?? {}), kubeconfig: o.kubeconfig };
  if (!o.leaderElection) c.leaderElection = { ...((c.leaderElection as Rec | undefined) ?? {}), leaderElect: false };
  const extenders = c.extenders as Rec[];
  if (extenders.length !== 1) throw new Error(`${SHIPPED_CONFIG}: expected one extender, found ${extenders.length}`);
  extenders[0].urlPrefix = o.extenderUrl;
  if (o.preemptVerb === false) delete extenders[0].preemptVerb;
  return c;
}

let written = 0;

/**
 * (Re)starts the control plane's kube-scheduler with the shipped config pointed at `extenderUrl`.
 * Returns the schedulerName pods must use.
 */
export async function startScheduler(env: E2eEnv, extenderUrl: string, o: SchedulerOptions = {}): Promise<string> {
  const file = join(env.work, `scheduler-${process.pid}-${++written}.yaml`);
  writeFileSync(file, yaml.dump(adaptConfig(shippedConfig(), { kubeconfig: o.kubeconfig ?? env.kubeconfig, extenderUrl, leaderElection: o.leaderElection, preemptVerb: o.preemptVerb })));
  await controlPlane(env.script, ['scheduler', env.dir, file]);
  return schedulerName();
}

export async function stopScheduler(env: E2eEnv): Promise<void> {
  await controlPlane(env.script, ['scheduler-stop', env.dir]);
}
