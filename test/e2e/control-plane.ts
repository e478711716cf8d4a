// Where the real control plane comes from, and the commands of its `control-plane` script
// (etcd + kube-apiserver + kube-scheduler on loopback, one instance per directory).
//
// Like envtest's KUBEBUILDER_ASSETS, one environment variable points the suite at a user's own
// copy: GPU_LEDGER_E2E_CONTROL_PLANE names the `control-plane` script, or a directory holding it
// (with its bin/ beside it). Without it the suite looks for ../shared/k8s next to the repository.

import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ENV_VAR = 'GPU_LEDGER_E2E_CONTROL_PLANE';
/** Set (to 1) where a missing control plane must fail the run instead of skipping it (CI). */
export const REQUIRED_VAR = 'GPU_LEDGER_E2E_REQUIRED';
export const DEFAULT_LOCATION = join(REPO, '..', 'shared', 'k8s');

/** What the tests get from the global setup (vitest provide/inject). */
export interface E2eEnv {
  /** the control-plane script */
  script: string;
  /** the control plane's directory (kubeconfig, bin/, pki/, logs/) */
  dir: string;
  /** admin kubeconfig (CN=admin, O=system:masters) */
  kubeconfig: string;
  /** scratch space for the run: scheduler configs, gpu-ledger logs */
  work: string;
}

export type Located = { script: string } | { missing: string };

export function locateControlPlane(env: NodeJS.ProcessEnv = process.env): Located {
  const given = env[ENV_VAR];
  const where = given ? resolve(given) : DEFAULT_LOCATION;
  const script = existsSync(where) && statSync(where).isDirectory() ? join(where, 'control-plane') : where;
  if (existsSync(script)) return { script };
  return {
    missing: given
      ? `${ENV_VAR}=${given}: no control-plane script there`
      : `no control plane at ${where}`,
  };
}

export function howToProvide(missing: string): string {
  return (
    `e2e tests skipped (${missing}): put the control-plane package (script + bin/) at ../shared/k8s ` +
    `next to the repository, or set ${ENV_VAR} to its directory (README "End-to-end tests")`
  );
}

const run = promisify(execFile);

/** Runs `control-plane <args>`; returns its stdout (trimmed). Errors carry the script's stderr. */
export async function controlPlane(script: string, args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await run(script, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`control-plane ${args.join(' ')} failed: ${e.message ?? String(err)}\n${e.stderr ?? ''}`);
  }
}

/** Path of a binary the script unpacked into the control plane's directory. */
export function binary(env: E2eEnv, name: 'kube-scheduler' | 'kubectl' | 'kube-apiserver' | 'etcd'): string {
  return join(env.dir, 'bin', name);
}
