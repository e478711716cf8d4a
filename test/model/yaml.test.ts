// The project's YAML parser refuses anchors and aliases (alias fan-out bombs) with the line, in every
// place YAML is read: snapshot files, the config file, CLI pod files (POST /explain: test/server).
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadSnapshotFiles } from '../../src/cli/snapshot-files.js';
import { loadConfigFile } from '../../src/model/config.js';
import { parseYaml, parseYamlAll } from '../../src/model/yaml.js';

const dir = mkdtempSync(join(tmpdir(), 'gpu-ledger-yaml-'));
function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** A Pod whose containers are 75,000 references to one container with a 2,000-entry env (~366 KB). */
export function aliasBombPod(): string {
  const env = Array.from({ length: 2000 }, (_, i) => `    - {name: V${i}, value: "${i}"}`).join('\n');
  const refs = Array.from({ length: 75_000 }, () => '*c').join(', ');
  return `apiVersion: v1
kind: Pod
metadata: {name: bomb, namespace: ml, uid: bomb-1}
x-env: &e
${env}
x-container: &c {name: c, env: *e, resources: {limits: {nvidia.com/gpu: "1"}}}
spec:
  containers: [${refs}]
`;
}

describe('YAML without aliases', () => {
  it('refuses an anchor wherever it stands, naming its line', () => {
    const cases: [string, number][] = [
      ['a: &x 1\nb: *x\n', 1],
      ['a: 1\nb: &x {k: 1}\nc: *x\n', 2],
      ['a:\n  b: 1\nc: &x\n  k: 1\n', 3],
      ['a: !!map &x\n  k: 1\n', 1],
      ['&x key: value\n', 1],
      ['- 1\n- &x [1, 2]\n- *x\n', 2],
      ['x: [1, &a 1, *a]\n', 1],
    ];
    for (const [text, line] of cases) expect(() => parseYaml(text), text).toThrow(new RegExp(`^line ${line}: YAML anchors and aliases are not accepted`));
    expect(() => parseYamlAll('k: 1\n---\nj: 2\n---\nz: &z 3\n')).toThrow(/^line 5: YAML anchors/);
  });

  it('reads everything else as before: JSON, plain YAML, "&" inside scalars, several documents', () => {
    expect(parseYaml('{"a": [1, {"b": "c"}]}')).toEqual({ a: [1, { b: 'c' }] });
    expect(parseYaml('plain: a&b\nquoted: "&c *d"\n')).toEqual({ plain: 'a&b', quoted: '&c *d' });
    expect(parseYamlAll('a: 1\n---\nb: 2\n')).toEqual([{ a: 1 }, { b: 2 }]);
    expect(parseYaml('')).toBeUndefined();
  });

  it('the alias fan-out bomb is refused at its first anchor, in milliseconds', () => {
    const text = aliasBombPod();
    expect(text.length).toBeGreaterThan(350_000);
    const t0 = performance.now();
    expect(() => parseYaml(text)).toThrow(/^line 4: YAML anchors and aliases are not accepted \(found &e\)/);
    // Generous bound: walking the expanded tree took tens of seconds before.
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('snapshot files, the config file and CLI pod files refuse anchors with the file name', async () => {
    const snap = file('snap.yaml', 'apiVersion: v1\nkind: List\nitems:\n- &n {kind: Node, metadata: {name: n1}}\n- *n\n');
    await expect(loadSnapshotFiles([snap])).rejects.toThrow(`${snap}: not valid YAML or JSON: line 4: YAML anchors and aliases are not accepted`);
    const cfg = file('config.yaml', 'tiers:\n  - &t {name: small, memory: 8Gi, threads: 10}\n');
    expect(() => loadConfigFile(cfg)).toThrow(/config\.yaml: not valid YAML or JSON: line 2: YAML anchors and aliases are not accepted/);
    const pod = file('pod.yaml', aliasBombPod());
    let err = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    try {
      expect(await main(['explain', '--snapshot', 'examples/demo-cluster.yaml', pod])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(err).toContain(`${pod}: line 4: YAML anchors and aliases are not accepted`);
  });

  it('js-yaml is imported only by src/model/yaml.ts', () => {
    const offenders: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && p !== join('src', 'model', 'yaml.ts') && /from 'js-yaml'/.test(readFileSync(p, 'utf8'))) offenders.push(p);
      }
    };
    walk('src');
    walk('bench');
    expect(offenders).toEqual([]);
  });
});
