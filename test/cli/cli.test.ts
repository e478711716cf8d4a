// The CLI in-process (main()); `serve` as a real process is in serve-process.test.ts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { resolveServeOptions } from '../../src/cli/serve.js';

function capture() {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  return { out: () => out, err: () => err, restore: () => (o.mockRestore(), e.mockRestore()) };
}

describe('gpu-ledger CLI', () => {
  afterEach(() => vi.restoreAllMocks());

  it('explain prints a table with every GPU node and the reasons', async () => {
    const c = capture();
    const code = await main(['explain', '--snapshot', 'examples/demo-cluster.yaml', 'examples/pods/large-mps.yaml']);
    c.restore();
    expect(code).toBe(0);
    expect(c.out()).toContain('pod ai/large-mps');
    expect(c.out()).toMatch(/spark-01\s+mps 1×NVIDIA-GB10\s+yes/);
    expect(c.out()).toContain('mps-ind-01');
  });

  it('explain exit codes: 0 when the pod fits somewhere, 1 when it fits nowhere or is invalid, 2 for usage errors', async () => {
    const c = capture();
    expect(await main(['explain', '--snapshot', 'examples/demo-cluster.yaml', 'examples/pods/small-mps.yaml'])).toBe(0);
    expect(await main(['explain', '--snapshot', 'examples/demo-cluster.yaml', 'examples/pods/invalid-env.yaml'])).toBe(1);
    expect(await main(['explain', '--snapshot', 'examples/demo-cluster.yaml', 'test/fixtures/pods/fits-nowhere.yaml'])).toBe(1);
    expect(await main(['explain', 'examples/pods/small-mps.yaml'])).toBe(2);
    c.restore();
    expect(c.out()).toContain('0/10 GPU nodes fit');
  });

  it('explain --json is machine-readable', async () => {
    const c = capture();
    await main(['explain', '--json', '--snapshot', 'examples/demo-cluster.yaml', 'examples/pods/invalid-env.yaml']);
    c.restore();
    const e = JSON.parse(c.out()) as { errors: { message: string }[]; nodes: { fits: boolean }[] };
    expect(e.errors[0].message).toContain('CUDA_MPS_PINNED_DEVICE_MEM_LIMIT "0=lots"');
    expect(e.nodes.every((n) => !n.fits)).toBe(true);
  });

  it('bad input is one clear line and exit code 2', async () => {
    const c = capture();
    expect(await main(['explain', '--snapshot', 'no-such-file.yaml', 'examples/pods/large-mps.yaml'])).toBe(2);
    expect(await main(['serve', '--port', 'eighty'])).toBe(2);
    expect(await main(['frobnicate'])).toBe(2);
    c.restore();
    expect(c.err()).toContain('no-such-file.yaml: cannot read');
    expect(c.err()).toContain('--port "eighty" is not a port number');
    expect(c.err()).not.toMatch(/\n\s+at /); // no stack traces
  });

  it('settings: flag > env var > config file > default', () => {
    const env = { GPU_LEDGER_PORT: '9000', GPU_LEDGER_LOG_LEVEL: 'debug' };
    const a = resolveServeOptions(['--snapshot', 'x.yaml', '--config', 'test/fixtures/config/server.yaml'], env);
    const b = resolveServeOptions(['--snapshot', 'x.yaml', '--port', '9100', '--config', 'test/fixtures/config/server.yaml'], env);
    const d = resolveServeOptions(['--snapshot', 'x.yaml'], {});
    if (a === 'help' || b === 'help' || d === 'help') throw new Error('unexpected help');
    expect([a.port, a.logLevel, a.host, a.reservationTtlMs]).toEqual([9000, 'debug', '0.0.0.0', 30_000]);
    expect(b.port).toBe(9100);
    expect([d.port, d.host, d.logLevel, d.maxBody, d.reservationTtlMs]).toEqual([8888, '127.0.0.1', 'info', '64mb', 120_000]);
    // Secure by default: both ports on loopback; the verbs and the read-only port apart.
    expect([d.statusHost, d.statusPort, d.bodyBudget, d.maxConnections, d.apiTimeoutMs, d.bindTimeoutMs]).toEqual(['127.0.0.1', 8889, '128mb', 256, 60_000, 4_000]);
    expect([a.statusHost, a.statusPort, a.bodyBudget, a.maxConnections, a.apiTimeoutMs, a.bindTimeoutMs]).toEqual(['0.0.0.0', 9001, '256mb', 64, 30_000, 3_000]);
    const e = resolveServeOptions(['--snapshot', 'x.yaml', '--status-port', '9002', '--bind-timeout', '2500ms', '--max-connections', '8'], { GPU_LEDGER_STATUS_HOST: '10.0.0.1' });
    if (e === 'help') throw new Error('unexpected help');
    expect([e.statusHost, e.statusPort, e.bindTimeoutMs, e.maxConnections]).toEqual(['10.0.0.1', 9002, 2500, 8]);
  });

  it('preemption: off by default; flag > env var > config file, and its settings', () => {
    const opts = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
      const o = resolveServeOptions(['--snapshot', 'x.yaml', ...argv], env);
      if (o === 'help') throw new Error('unexpected help');
      return o;
    };
    expect([opts([]).preemption, opts([]).preemptionSettings]).toEqual([false, { nominationTtlMs: 120_000, maxEvictionsInFlight: 10, cooldownMs: 5_000 }]);
    expect(opts(['--preemption', '--preemption-ttl', '30s', '--preemption-max-evictions', '2', '--preemption-cooldown', '0s'])).toMatchObject({
      preemption: true,
      preemptionSettings: { nominationTtlMs: 30_000, maxEvictionsInFlight: 2, cooldownMs: 0 },
    });
    const file = ['--config', 'test/fixtures/config/preemption.yaml'];
    expect(opts(file)).toMatchObject({ preemption: true, preemptionSettings: { nominationTtlMs: 90_000, maxEvictionsInFlight: 4, cooldownMs: 2_000 } });
    // The env var turns off what the file turns on.
    expect(opts(file, { GPU_LEDGER_PREEMPTION: 'false' }).preemption).toBe(false);
    expect(opts([], { GPU_LEDGER_PREEMPTION: 'true' }).preemption).toBe(true);
    expect(() => opts(['--preemption-max-evictions', '0'])).toThrow('--preemption-max-evictions "0" must be a positive whole number');
    expect(() => opts(['--preemption-ttl', '0s'])).toThrow('--preemption-ttl "0s" must be longer than 0');
  });

  it('transport and exposure settings are validated with the flag and the value', () => {
    const bad = (argv: string[]) => () => resolveServeOptions(['--snapshot', 'x.yaml', ...argv], {});
    expect(bad(['--port', '8888', '--status-port', '8888'])).toThrow('--status-port 8888 must differ from --port');
    expect(bad(['--max-body', '64mb', '--body-budget', '32mb'])).toThrow('--body-budget 32mb is smaller than --max-body 64mb');
    expect(bad(['--body-budget', 'lots'])).toThrow('--body-budget "lots" is not a size');
    expect(bad(['--max-connections', '0'])).toThrow('--max-connections "0" must be a positive whole number');
    expect(bad(['--bind-timeout', '0s'])).toThrow('--bind-timeout "0s" must be longer than 0');
    expect(bad(['--api-timeout', 'soon'])).toThrow('--api-timeout "soon" is not a duration');
    expect(bad(['--status-port', '70000'])).toThrow('--status-port "70000" is not a port number');
  });
});

describe('gpu-ledger replay as a process (worker threads)', () => {
  it('gives the same report as the in-process replay', async () => {
    if (!existsSync('dist/src/cli/replay/worker.js')) throw new Error('dist is missing: npm install (prepare) or npm run build builds it');
    const args = ['--nodes', 'test/fixtures/trace/nodes.csv', '--pods', 'test/fixtures/trace/pods.csv', '--policy', 'fgd,gpu-ledger', '--seeds', '1..6', '--json'];
    const child = spawn(process.execPath, ['bin/gpu-ledger.js', 'replay', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const c = capture();
    await main(['replay', ...args]);
    c.restore();
    expect(JSON.parse(out)).toEqual(JSON.parse(c.out()));
    expect((JSON.parse(out) as { policies: unknown[] }).policies).toHaveLength(2);
  });
});
