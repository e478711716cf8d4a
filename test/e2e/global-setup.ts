// vitest global setup of the e2e project: one real control plane per run, stopped in teardown
// whatever happens. A watchdog process also stops it if the test runner dies without teardown
// (killed, crashed): the control plane's processes are detached and would outlive it.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { controlPlane, howToProvide, locateControlPlane, REQUIRED_VAR, type E2eEnv } from './control-plane.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** null: no control plane on this machine, every e2e test skips */
    e2e: E2eEnv | null;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const found = locateControlPlane();
  if ('missing' in found) {
    if (process.env[REQUIRED_VAR] === '1') throw new Error(`${REQUIRED_VAR}=1 but ${found.missing}`);
    console.log(howToProvide(found.missing));
    project.provide('e2e', null);
    return undefined;
  }
  const work = mkdtempSync(join(tmpdir(), 'gpu-ledger-e2e-'));
  const dir = join(work, 'cp');
  const t0 = Date.now();
  const watchdog = spawn(
    'bash',
    ['-c', 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; "$2" stop "$3" >/dev/null 2>&1; rm -rf "$4"', 'e2e-watchdog', String(process.pid), found.script, dir, work],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  const keep = process.env.GPU_LEDGER_E2E_KEEP === '1';
  const teardown = async () => {
    try {
      await controlPlane(found.script, ['stop', dir]);
    } finally {
      if (watchdog.pid !== undefined) {
        try {
          process.kill(watchdog.pid);
        } catch {
          /* already gone */
        }
      }
      if (keep) console.log(`e2e: kept ${work} (logs in ${join(dir, 'logs')})`);
      else rmSync(work, { recursive: true, force: true });
    }
    console.log(`e2e: control plane stopped; e2e project took ${((Date.now() - t0) / 1000).toFixed(1)} s including start-up`);
  };
  let kubeconfig: string;
  try {
    kubeconfig = (await controlPlane(found.script, ['start', dir], 180_000)).split('\n').pop()!;
  } catch (err) {
    await teardown();
    throw err;
  }
  console.log(`e2e: control plane up in ${((Date.now() - t0) / 1000).toFixed(1)} s (${found.script})`);
  project.provide('e2e', { script: found.script, dir, kubeconfig, work });
  return teardown;
}
