// A ledger that is not in sync (live mode after a LIST failed): the view, the page and the plugin
// say so, next to what they show.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlMain } from '../../src/cli/kubectl/main.js';
import { loadSnapshotState } from '../../src/cli/snapshot-files.js';
import type { LedgerView } from '../../src/explain/ledger-view.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { createApp } from '../../src/server/app.js';
import { createMetrics } from '../../src/server/metrics.js';

describe('a ledger out of sync', () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    const state = await loadSnapshotState(['examples/demo-cluster.yaml'], defaultConfig());
    const sync = () => ({ inSync: false, resources: { pods: { phase: 'list-failing', lastError: 'connection refused' } } });
    const app = createApp({ state, binder: { bind: async () => undefined }, logger: pino({ level: 'silent' }), metrics: createMetrics(state), preemption: false, maxBody: '1mb', sync });
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  it('is reported by /api/ledger, the page and kubectl gpu-ledger', async () => {
    const v = (await (await fetch(`${url}/api/ledger`)).json()) as LedgerView;
    expect([v.ready, v.nodes.length]).toEqual([false, 10]);
    expect(await (await fetch(`${url}/ui/`)).text()).toContain('<p class="summary" data-ready="false"><span class="state bad">NOT in sync: the verbs place nothing</span>');
    let out = '';
    let err = '';
    expect(await kubectlMain(['top', '--server', url, '--node', 'spark'], (s) => (out += s), (s) => (err += s))).toBe(0);
    expect(err).toBe("warning: gpu-ledger's ledger is not in sync with the API server (it places nothing until it is): what follows may be missing pods\n");
    expect(out).toContain('spark-01');
  });

  it('without a kubeconfig the plugin says which sources there are', async () => {
    let err = '';
    const code = await kubectlMain(['top', '--kubeconfig', '/nonexistent/kubeconfig'], () => undefined, (s) => (err += s));
    expect(code).toBe(2);
    expect(err).toMatch(/^kubectl gpu-ledger top: cannot load a kubeconfig from \/nonexistent\/kubeconfig: .*; or --server URL\n$/);
  });
});
