// The built CLI as a user runs it (node bin/gpu-ledger.js, from dist/): help on every command, our
// own words for bad flags, version, explain's exit codes, and replay's progress line (a terminal
// only: through `script`, which gives the child a pseudo-terminal).
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/gpu-ledger.js', ...args], { encoding: 'utf8', timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out, err });
    });
  });
}

beforeAll(() => {
  if (!existsSync('dist/src/cli/main.js')) throw new Error('dist is missing: npm install (prepare) or npm run build builds it');
});

describe('gpu-ledger, the built CLI', () => {
  it('--version, -v and version print the package version', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    for (const a of [['--version'], ['-v'], ['version']]) expect(await cli(a)).toEqual({ code: 0, out: `gpu-ledger ${version}\n`, err: '' });
  });

  it('every command has -h/--help with its options and examples', async () => {
    for (const [args, flag] of [
      [['serve', '--help'], '--pod-metrics'],
      [['serve', '-h'], '--log-format'],
      [['explain', '-h'], '--snapshot <file>'],
      [['replay', '--help'], '--quiet'],
      [['help', 'explain'], 'exit codes'],
      [['--help'], 'gpu-ledger help [command]'],
    ] as const) {
      const r = await cli([...args]);
      expect([r.code, r.err], args.join(' ')).toEqual([0, '']);
      expect(r.out, args.join(' ')).toMatch(/^usage: |gpu-ledger — /);
      expect(r.out, args.join(' ')).toContain(flag);
      expect(r.out, args.join(' ')).toContain('examples:');
    }
  });

  it('unknown flags, missing values and stray arguments are reported in our words, exit 2', async () => {
    const cases: [string[], string][] = [
      [['explain', '--snapshots', 'x.yaml', 'pod.yaml'], 'gpu-ledger explain: unknown flag --snapshots for gpu-ledger explain; did you mean --snapshot? (see gpu-ledger explain --help)\n'],
      [['serve', '--prot', '9000'], 'gpu-ledger serve: unknown flag --prot for gpu-ledger serve; did you mean --port? (see gpu-ledger serve --help)\n'],
      [['serve', '--frobnicate'], 'gpu-ledger serve: unknown flag --frobnicate for gpu-ledger serve (see gpu-ledger serve --help)\n'],
      [['replay', '--nodes'], 'gpu-ledger replay: flag --nodes needs a value (see gpu-ledger replay --help)\n'],
      [['replay', '--json=yes', '--nodes', 'a', '--pods', 'b'], 'gpu-ledger replay: flag --json takes no value (see gpu-ledger replay --help)\n'],
      [['serve', 'now'], 'gpu-ledger serve: unexpected argument "now": gpu-ledger serve takes flags only (see gpu-ledger serve --help)\n'],
      [['explain', 'pod.yaml'], 'gpu-ledger explain: --snapshot <file> is required (see gpu-ledger explain --help)\n'],
      [['help', 'frobnicate'], 'gpu-ledger help: unknown command "frobnicate" (commands: serve, explain, replay, version, help)\n'],
      [['frobnicate'], 'gpu-ledger: unknown command "frobnicate" (commands: serve, explain, replay, version, help; see gpu-ledger --help)\n'],
    ];
    for (const [args, err] of cases) expect(await cli(args), args.join(' ')).toEqual({ code: 2, out: '', err });
  });

  it('explain exits 0 when the pod fits somewhere, 1 when it fits nowhere or is invalid, 2 on usage errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const huge = join(dir, 'huge.yaml');
    writeFileSync(huge, 'apiVersion: v1\nkind: Pod\nmetadata: {name: huge, namespace: ai}\nspec:\n  containers:\n  - name: c\n    env: [{name: CUDA_MPS_PINNED_DEVICE_MEM_LIMIT, value: "0=200G"}]\n    resources: {limits: {nvidia.com/gpu: "1"}}\n');
    const demo = ['explain', '--snapshot', 'examples/demo-cluster.yaml'];
    const fits = await cli([...demo, 'examples/pods/large-mps.yaml']);
    expect(fits.code).toBe(0);
    expect(fits.out.split('\n')[3]).toMatch(/^ {2}[1-9]\d*\/10 GPU nodes fit; best: /);
    const nowhere = await cli([...demo, huge]);
    expect(nowhere.code).toBe(1);
    // Then what preemption could do (nothing here: no pod has a lower priority than this one).
    expect(nowhere.out.split('\n')[3]).toMatch(/^ {2}0\/10 GPU nodes fit; with --preemption, preemption cannot help: /);
    expect((await cli([...demo, 'examples/pods/invalid-env.yaml'])).code).toBe(1);
    expect((await cli([...demo, join(dir, 'missing.yaml')])).code).toBe(2);
    expect((await cli(['explain', '--snapshot', join(dir, 'missing.yaml'), huge])).code).toBe(2);
  });
});

describe('replay progress', () => {
  const args = ['replay', '--nodes', 'test/fixtures/trace/nodes.csv', '--pods', 'test/fixtures/trace/pods.csv', '--seeds', '1..3', '--json'];

  it('is silent when stderr is piped', async () => {
    const r = await cli(args);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(JSON.parse(r.out)).toHaveProperty('policies');
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)('shows runs done and time left on a terminal, and nothing with --quiet', () => {
    const onTty = (extra: string[]) => {
      // script(1) runs the command on a pseudo-terminal; stdout goes to a file so only stderr reaches the terminal.
      const out = join(mkdtempSync(join(tmpdir(), 'tty-')), 'out.json');
      const cmd = [process.execPath, 'bin/gpu-ledger.js', ...args, ...extra].map((a) => `'${a}'`).join(' ');
      const r = spawnSync('script', ['-qec', `${cmd} > '${out}'`, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(0);
      return r.stdout;
    };
    const shown = onTty([]);
    expect(shown).toContain('replay: 1/3 runs (gpu-ledger seed ');
    expect(shown).toContain('replay: 3/3 runs');
    expect(shown).toMatch(/~\d+s left/);
    expect(onTty(['--quiet'])).toBe('');
  });
});
