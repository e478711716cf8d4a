// Snapshot files streamed item by item: the splitter hands over exactly the items JSON.parse
// would find, however the bytes are chunked, and refuses what JSON.parse refuses; loading a
// snapshot streamed builds the same ledger as parsing it whole and calling resetNodes/resetPods.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSnapshotFiles, loadSnapshotInto } from '../../src/cli/snapshot-files.js';
import { defaultConfig } from '../../src/model/config-types.js';
import { JsonItemsSplitter } from '../../src/model/json-items.js';
import { parseYaml } from '../../src/model/yaml.js';
import { ClusterState } from '../../src/state/cluster-state.js';

/** Runs the splitter over `text` cut into chunks at `cuts`; returns the items and the skeleton. */
function split(text: string, cuts: number[]): { items: unknown[]; skeleton: unknown } {
  const bytes = Buffer.from(text, 'utf8');
  const items: unknown[] = [];
  const s = new JsonItemsSplitter((json) => items.push(JSON.parse(json)));
  let at = 0;
  for (const c of [...cuts.map((x) => x % (bytes.length + 1))].sort((a, b) => a - b)) {
    s.push(Buffer.from(bytes.subarray(at, c)));
    at = c;
  }
  s.push(Buffer.from(bytes.subarray(at)));
  return { items, skeleton: s.end() };
}

/** JSON text with random whitespace between tokens (as pretty printers and hand edits make). */
function spaced(value: unknown, ws: () => string): string {
  if (Array.isArray(value)) return `[${ws()}${value.map((v) => spaced(v, ws)).join(`${ws()},${ws()}`)}${ws()}]`;
  if (value !== null && typeof value === 'object') {
    return `{${ws()}${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}${ws()}:${ws()}${spaced(v, ws)}`)
      .join(`${ws()},${ws()}`)}${ws()}}`;
  }
  return JSON.stringify(value);
}

const wsArb = fc.array(fc.constantFrom('', '', ' ', '\n', '\t', '\r\n  '), { minLength: 64, maxLength: 64 });

describe('JSON items splitter', () => {
  it('hands over exactly the items, however the document is spaced and chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 12 }),
        fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== 'items'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
        fc.boolean(),
        wsArb,
        fc.array(fc.nat(), { maxLength: 8 }),
        (items, extra, itemsFirst, spaces, cuts) => {
          let w = 0;
          const ws = () => spaces[w++ % spaces.length];
          const doc = itemsFirst ? { items, kind: 'List', ...extra } : { kind: 'List', ...extra, items };
          const text = `${ws()}${spaced(doc, ws)}${ws()}`;
          const got = split(text, cuts);
          expect(got.items).toEqual(JSON.parse(text).items);
          expect(got.skeleton).toEqual({ ...JSON.parse(text), items: [] });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses what JSON.parse refuses', () => {
    const docs = fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }).map((items) => JSON.stringify({ apiVersion: 'v1', items, kind: 'List' }));
    fc.assert(
      fc.property(docs, fc.nat(), fc.constantFrom('delete', 'insert', 'truncate'), fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', 'x', '1', ' '), fc.array(fc.nat(), { maxLength: 4 }), (text, at, how, ch, cuts) => {
        const i = at % (text.length + 1);
        const bad = how === 'delete' ? text.slice(0, i) + text.slice(i + 1) : how === 'insert' ? text.slice(0, i) + ch + text.slice(i) : text.slice(0, i);
        let valid = true;
        try {
          const v = JSON.parse(bad) as unknown;
          // A top-level object is what the splitter takes; other documents are refused by it (and by the loader's kind check).
          valid = v !== null && typeof v === 'object' && !Array.isArray(v);
        } catch {
          valid = false;
        }
        if (valid) {
          const got = split(bad, cuts);
          const want = JSON.parse(bad) as { items?: unknown };
          expect(got.items).toEqual(Array.isArray(want.items) ? want.items : []);
        } else expect(() => split(bad, cuts)).toThrow();
      }),
      { numRuns: 1500 },
    );
  });

  it('refuses a second items array and trailing garbage', () => {
    expect(() => split('{"items":[1],"items":[2]}', [])).toThrow(/items" appears twice/);
    expect(() => split('{"items":[]} {}', [])).toThrow(/after the end/);
    expect(() => split('{"items":[1,]}', [])).toThrow();
    expect(() => split('{"items":[', [])).toThrow(/ends early/);
  });
});

describe('streamed snapshot load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-ledger-stream-'));
  /** Everything the ledger holds, in a stable form. */
  const dump = (s: ClusterState) =>
    JSON.stringify({
      nodes: [...s.ledger.nodes.values()].map((n) => ({ name: n.name, gpus: n.gpus.map((u) => ({ ...u, mig: [...u.mig] })), cpu: n.cpuMilli, pods: [...n.pods.keys()] })).sort((a, b) => a.name.localeCompare(b.name)),
      pods: [...s.ledger.pods.values()].map((a) => ({ ...a, shape: undefined, takes: a.takes.map((t) => ({ ...t, mig: t.mig ? [...t.mig] : null })) })).sort((a, b) => a.uid.localeCompare(b.uid)),
      cpuNodes: [...s.ledger.cpuNodes].sort(),
      detached: [...s.ledger.detachedPods().entries()].map(([k, v]) => [k, [...v].sort()]).sort(),
      shapes: s.workload.shapes(),
    });

  async function both(items: unknown[]): Promise<[string, string]> {
    const file = join(dir, `snap-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', items, kind: 'List', metadata: {} }, null, 1));
    const whole = new ClusterState({ config: defaultConfig() });
    const snap = await loadSnapshotFiles([file]);
    whole.resetNodes(snap.nodes);
    whole.resetPods(snap.pods);
    const streamed = new ClusterState({ config: defaultConfig() });
    await loadSnapshotInto(streamed, [file]);
    expect(streamed.ready()).toBe(true);
    return [dump(streamed), dump(whole)];
  }

  const clusters = ['examples/demo-cluster.yaml', 'test/fixtures/rig-cluster.yaml', 'test/fixtures/cpu-strand.yaml'];
  for (const f of clusters) {
    it(`builds the same ledger as a whole parse: ${f}, and with its pods before its nodes`, async () => {
      const items = (parseYaml(readFileSync(f, 'utf8')) as { items: { kind: string }[] }).items;
      const [a, b] = await both(items);
      expect(a).toBe(b);
      const podsFirst = [...items.filter((i) => i.kind === 'Pod'), ...items.filter((i) => i.kind !== 'Pod')];
      const [c, d] = await both(podsFirst);
      expect(c).toBe(d);
    });
  }

  it('YAML files and several files load too (later files add to earlier ones)', async () => {
    const whole = new ClusterState({ config: defaultConfig() });
    const files = ['examples/demo-cluster.yaml', 'test/fixtures/rig-cluster.yaml'];
    const snap = await loadSnapshotFiles(files);
    whole.resetNodes(snap.nodes);
    whole.resetPods(snap.pods);
    const streamed = new ClusterState({ config: defaultConfig() });
    await loadSnapshotInto(streamed, files);
    expect(dump(streamed)).toBe(dump(whole));
  });

  it('names the file and the item of a syntax error', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"apiVersion":"v1","kind":"List","items":[{"kind":"Node","metadata":{"name":"a"}},{"kind":"Pod",]}');
    await expect(loadSnapshotInto(new ClusterState({ config: defaultConfig() }), [file])).rejects.toThrow(`${file}: not valid JSON: items[1]: `);
    const notList = join(dir, 'not-list.json');
    writeFileSync(notList, '{"kind":"ConfigMap","items":[{"kind":"Node","metadata":{"name":"a"}}]}');
    await expect(loadSnapshotInto(new ClusterState({ config: defaultConfig() }), [notList])).rejects.toThrow(/must be a v1 List, NodeList or PodList, got kind ConfigMap/);
  });
});
