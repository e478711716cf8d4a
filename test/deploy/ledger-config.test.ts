// The gpu-ledger config files the overlays ship (--config): valid for the real parser, and each
// setup's pools select the nodes of that setup (the demo cluster has one node per seed).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchesSelector, parseConfig } from '../../src/model/config.js';
import type { LedgerConfig, PoolConfig } from '../../src/model/config-types.js';
import { asList, asRec, DEPLOY, isLedgerConfigFile, listFiles, loadYamlDocs, readText, rel, REPO } from './files.js';

const GiB = 2 ** 30;
const MANIFESTS = join(DEPLOY, 'manifests');
const FILES = listFiles(MANIFESTS, ['.yaml']).filter(isLedgerConfigFile);
const config = (overlay: string): LedgerConfig => {
  const f = join(MANIFESTS, 'overlays', overlay, 'gpu-ledger-config.yaml');
  return parseConfig(readText(f), f);
};

const DEMO_NODES = new Map(
  asList(asRec(loadYamlDocs(join(REPO, 'examples/demo-cluster.yaml'))[0]?.doc).items)
    .map(asRec)
    .filter((o) => o.kind === 'Node')
    .map((n) => [String(asRec(n.metadata).name), asRec(asRec(n.metadata).labels) as Record<string, string>]),
);

/** For each setting, the first matching pool that sets it wins (src/model/config.ts). */
function effective(cfg: LedgerConfig, labels: Record<string, string>): Partial<PoolConfig> {
  const out: Partial<PoolConfig> = {};
  for (const pool of cfg.pools) {
    if (!matchesSelector(labels, pool.selector)) continue;
    for (const [k, v] of Object.entries(pool) as [keyof PoolConfig, PoolConfig[keyof PoolConfig]][]) {
      if (k !== 'name' && k !== 'selector' && out[k] === undefined) (out as Record<string, unknown>)[k] = v;
    }
    out.name ??= pool.name;
  }
  return out;
}

describe('gpu-ledger config files', () => {
  it('one in the base and one per setup overlay', () => {
    expect(FILES.map(rel).sort()).toEqual(
      ['base', 'overlays/a100-mig', 'overlays/dgx-spark', 'overlays/homelab-3090', 'overlays/mps-4gpu', 'overlays/t4-timeslicing'].map((d) => `deploy/manifests/${d}/gpu-ledger-config.yaml`),
    );
  });

  for (const f of FILES) {
    it(`${rel(f)}: accepted by the real parser; preemption off (opt-in)`, () => {
      const cfg = parseConfig(readText(f), f);
      expect(cfg.preemption).toBe(false);
      expect(cfg.server).toBeUndefined(); // serve settings come from the Deployment's args
    });
  }

  it('demo cluster has the nodes these checks use', () => {
    for (const n of ['spark-01', 'mps-ind-01', 'a100-mig-small-01', 'a100-mig-large-01', 'a100-ts-01', 'h100-ts-01', 't4-01', 'homelab-3090']) expect(DEMO_NODES.has(n), n).toBe(true);
  });

  it('dgx-spark: GB10 nodes get 128Gi, with or without the -SHARED product suffix; the MPS daemon sets no limit there', () => {
    const cfg = config('dgx-spark');
    for (const product of ['NVIDIA-GB10', 'NVIDIA-GB10-SHARED']) {
      const e = effective(cfg, { ...DEMO_NODES.get('spark-01'), 'nvidia.com/gpu.product': product });
      expect(e.gpuMemoryBytes, product).toBe(128 * GiB);
      expect(e.mpsDaemonLimits).toBe(false);
      expect(e.tier).toBe('large');
    }
    expect(effective(cfg, DEMO_NODES.get('t4-01')!)).toEqual({});
    expect(cfg.tiers.map((t) => [t.name, t.memoryBytes / GiB, t.threadMilli / 10])).toEqual([
      ['small', 8, 10],
      ['medium', 32, 25],
      ['large', 64, 50],
    ]);
  });

  it('mps-4gpu: nodes labelled gpu-ledger.io/pool=mps-4gpu get 20 MPS replicas of 1630 MiB per GPU', () => {
    const e = effective(config('mps-4gpu'), { ...DEMO_NODES.get('mps-ind-01'), 'gpu-ledger.io/pool': 'mps-4gpu' });
    expect(e).toMatchObject({ sharing: 'mps', replicas: 20, mpsDaemonLimits: true });
    expect(e.gpuMemoryBytes).toBe(20 * 1630 * 2 ** 20 + 4 * 2 ** 20);
    expect(effective(config('mps-4gpu'), DEMO_NODES.get('mps-ind-01')!)).toEqual({});
  });

  it('a100-mig: MIG pools by mig-profile get the matching tier; time-sliced A100/H100 keep headroom', () => {
    const cfg = config('a100-mig');
    expect(effective(cfg, DEMO_NODES.get('a100-mig-small-01')!).tier).toBe('small');
    expect(effective(cfg, DEMO_NODES.get('a100-mig-large-01')!).tier).toBe('large');
    expect(effective(cfg, { ...DEMO_NODES.get('a100-mig-small-01'), 'mig-profile': '2g.20gb' }).tier).toBe('medium');
    for (const n of ['a100-ts-01', 'h100-ts-01']) expect(effective(cfg, DEMO_NODES.get(n)!), n).toMatchObject({ name: 'timesliced-80gb', reservedMemoryBytes: GiB, tier: 'xlarge' });
  });

  it('t4-timeslicing: the tesla-t4 device-plugin config label selects the pool', () => {
    expect(effective(config('t4-timeslicing'), DEMO_NODES.get('t4-01')!)).toMatchObject({ name: 'tesla-t4', reservedMemoryBytes: 512 * 2 ** 20, tier: 'small' });
  });

  it('homelab-3090: Talos node-type=gpu-worker selects the pool; a replica is 6 GB', () => {
    const cfg = config('homelab-3090');
    expect(effective(cfg, DEMO_NODES.get('homelab-3090')!)).toMatchObject({ name: 'homelab-3090', tier: 'large' });
    expect(cfg.tiers[0]).toMatchObject({ name: 'small', memoryBytes: 6 * GiB });
  });
});
