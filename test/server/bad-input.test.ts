// Hundreds of malformed bodies to every verb: no crash, no non-JSON reply, no 5xx, no ledger change.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.js';
import { post, serve } from './harness.js';

const good = JSON.parse(readFileSync('test/fixtures/kube-scheduler-1.30/filter-nodenames.json', 'utf8')) as Record<string, unknown>;
const VERBS = ['filter', 'prioritize', 'bind', 'preempt'];

function ledgerFingerprint(s: RunningServer): string {
  const pods = [...s.state.ledger.pods.values()].map((a) => [a.uid, a.node, a.state, a.takes.map((t) => [t.gpu, t.replicas, t.memoryBytes, t.threadMilli])]);
  const gpus = [...s.state.ledger.nodes.values()].map((n) => [n.name, n.gpus.map((u) => [u.replicas, u.memoryBytes, u.threadMilli, u.clients, u.pods])]);
  return JSON.stringify([s.state.ledger.generation, pods, gpus]);
}

/** Mutations of a valid body: wrong types in each field, huge strings, deep nesting, prototype keys. */
const wrongValue = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string({ maxLength: 20 }),
  fc.constant('x'.repeat(100_000)),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.anything({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.constant(JSON.parse('{"__proto__": {"polluted": true}}')),
);
const paths = [['Pod'], ['NodeNames'], ['Nodes'], ['Pod', 'metadata'], ['Pod', 'metadata', 'uid'], ['Pod', 'spec'], ['Pod', 'spec', 'containers'], ['PodUID'], ['Node'], ['NodeNameToMetaVictims'], ['NodeNames', 0]];

function mutate(path: (string | number)[], value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
  let cur: Record<string | number, unknown> = copy;
  for (let i = 0; i < path.length - 1; i++) {
    const next = cur[path[i]];
    if (next === null || typeof next !== 'object') return copy;
    cur = next as Record<string | number, unknown>;
  }
  cur[path[path.length - 1]] = value;
  return copy;
}

function deep(n: number): string {
  return '{"Pod":' + '['.repeat(n) + ']'.repeat(n) + ',"NodeNames":["a"]}';
}

describe('bad input', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve(['test/fixtures/rig-cluster.yaml', 'examples/demo-cluster.yaml'], { maxBody: '1mb' });
  });
  afterAll(() => s.close());

  async function check(verb: string, body: string): Promise<number> {
    const before = ledgerFingerprint(s);
    const res = await post(`${s.url}/${verb}`, body, true);
    expect(res.status, `${verb} ${body.slice(0, 200)}`).toBeLessThan(500);
    expect(res.type, body.slice(0, 200)).toMatch(/application\/json/);
    expect(res.json, res.text.slice(0, 200)).toBeDefined();
    if (res.status !== 200) expect((res.json as { Error: string }).Error).toBeTypeOf('string');
    // bind may legitimately record a pod; every other verb must leave the ledger as it was.
    if (verb !== 'bind') expect(ledgerFingerprint(s)).toBe(before);
    return res.status;
  }

  it('random JSON values and structure mutations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...VERBS), fc.anything({ maxDepth: 4 }), async (verb, value) => {
        await check(verb, JSON.stringify(value) ?? 'null');
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...VERBS), fc.constantFrom(...paths), wrongValue, async (verb, path, value) => {
        await check(verb, JSON.stringify(mutate(path, value)));
      }),
      { numRuns: 250 },
    );
  });

  it('truncated, non-JSON, oversized and deeply nested bodies', async () => {
    const text = JSON.stringify(good);
    const statuses: number[] = [];
    for (let cut = 1; cut < text.length; cut += Math.ceil(text.length / 40)) statuses.push(await check('filter', text.slice(0, cut)));
    expect(statuses.every((x) => x === 400)).toBe(true);
    expect(await check('filter', 'not json at all')).toBe(400);
    expect(await check('prioritize', '')).toBe(400);
    expect(await check('filter', deep(10_000))).toBe(400);
    expect(await check('filter', JSON.stringify({ Pod: JSON.parse(deep(200)).Pod, NodeNames: ['a'] }))).toBe(400);
    // Nesting under an own "__proto__" key (JSON.parse makes one; a plain x["__proto__"] reads the prototype instead).
    expect(await check('filter', `{"Pod":{"spec":{"__proto__":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}},"NodeNames":["a"]}`)).toBe(400);
    expect(await check('filter', JSON.stringify({ ...good, NodeNames: Array.from({ length: 200_000 }, (_, i) => `node-${i}`) }))).toBe(413);
    const polluted = await post(`${s.url}/filter`, '{"__proto__":{"admin":true},"Pod":{"metadata":{"uid":"p"}},"NodeNames":["spark-01"]}', true);
    expect(polluted.status).toBe(200);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('a client that disconnects mid-body is settled as a bad request, and the server keeps serving', async () => {
    const metric = async () => {
      const text = (await (await fetch(`${s.statusUrl}/metrics`)).text()).split('\n').find((l) => l.startsWith('gpu_ledger_bad_requests_total{verb="filter"}'));
      return text ? Number(text.split(' ').pop()) : 0;
    };
    const before = await metric();
    const { port } = new URL(s.url);
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => {
        sock.write('POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"Pod":');
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 50);
      });
      sock.on('error', reject);
    });
    for (let i = 0; i < 50 && (await metric()) === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await metric()).toBe(before + 1);
  });

  it('the server still answers correctly afterwards', async () => {
    const res = await post(`${s.url}/filter`, good);
    expect(res.status).toBe(200);
    expect((res.json as { NodeNames: string[] }).NodeNames.sort()).toEqual(['rig-node-0000', 'rig-node-0001', 'rig-node-0002']);
  });
});
