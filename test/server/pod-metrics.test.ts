// --pod-metrics over loopback on the demo cluster: per-pod allocation gauges for the dimensions each
// node's mode accounts, thread shares as 0..1 ratios, and nothing per pod without the flag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.js';
import { serve } from './harness.js';

const GiB = 2 ** 30;

function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2], Number(m[3]));
  }
  return out;
}

describe('per-pod allocation metrics (--pod-metrics)', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve(['examples/demo-cluster.yaml'], { podMetrics: true });
  });
  afterAll(() => s.close());

  it('attributes MPS memory, thread share, replicas and MIG instances to each pod and GPU', async () => {
    const m = await (await fetch(`${s.statusUrl}/metrics`)).text();
    const llama = 'namespace="ai",pod="llama-70b",node="spark-01",gpu="0"';
    expect(series(m, 'gpu_ledger_pod_gpu_memory_bytes').get(llama)).toBe(64 * GiB);
    expect(series(m, 'gpu_ledger_pod_gpu_threads_ratio').get(llama)).toBe(0.5);
    expect(series(m, 'gpu_ledger_pod_gpu_replicas').get(llama)).toBe(1);
    // batch-embed's 10 replicas over mps-agg-01's 4 GPUs: one series per GPU.
    const embed = [...series(m, 'gpu_ledger_pod_gpu_replicas')].filter(([k]) => k.includes('pod="batch-embed"'));
    expect(embed.map(([, v]) => v)).toEqual([3, 3, 2, 2]);
    expect(series(m, 'gpu_ledger_pod_mig_instances').get('namespace="production",pod="llm-prod-0",node="a100-mig-01",gpu="0",profile="3g.40gb"')).toBe(1);
    // Time-slicing accounts declared memory, not threads.
    const notebook = 'namespace="research",pod="notebook-a",node="t4-01",gpu="0"';
    expect(series(m, 'gpu_ledger_pod_gpu_memory_bytes').get(notebook)).toBe(4 * GiB);
    expect(series(m, 'gpu_ledger_pod_gpu_threads_ratio').has(notebook)).toBe(false);
    // The finished pod is not in the ledger.
    expect(m).not.toContain('pod="finished-job"');
    // Node gauges: thread share as a ratio.
    expect(series(m, 'gpu_ledger_gpu_threads_allocated_ratio').get('node="spark-01",gpu="0"')).toBe(0.5);
    expect(series(m, 'gpu_ledger_gpu_threads_capacity_ratio').get('node="spark-01",gpu="0"')).toBe(1);
  });

  it('follows the ledger: a released pod\'s series are gone at the next scrape', async () => {
    const uid = [...s.state.ledger.pods.values()].find((a) => a.name === 'llama-70b')!.uid;
    s.state.deletePod(uid);
    const m = await (await fetch(`${s.statusUrl}/metrics`)).text();
    expect(m).not.toContain('pod="llama-70b"');
    expect(m).toContain('pod="ollama"');
  });
});
