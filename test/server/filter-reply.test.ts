// The filter reply written as JSON directly says what JSON.stringify of the wire object says,
// for any names (quotes, backslashes, control characters, non-ASCII, lone surrogates) and texts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FilterReply } from '../../src/server/filter-reply.js';

const nameArb = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0000', 'ünï', '\ud800', 'x\u2028y'),
);

describe('filter reply JSON', () => {
  it('parses to the wire object, whatever the names and texts', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(nameArb, { maxLength: 40 }),
        fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 30 }), fc.boolean()), { maxLength: 40 }),
        fc.boolean(),
        fc.boolean(),
        (names, texts, full, quoted) => {
          // Integer-like keys are ordered first by JS objects; __proto__ is not an own key there.
          const plain = names.filter((n) => !/^\d+$/.test(n) && n !== '__proto__');
          const passed = plain.slice(0, Math.floor(plain.length / 2));
          const failing = plain.slice(passed.length);
          // `quoted`: the names' JSON literals come with them (nodes the ledger knows), else they are escaped here.
          const nodes = full ? passed.map((n) => ({ metadata: { name: n } })) : null;
          const reply = new FilterReply(full ? null : passed, nodes, quoted ? passed.map((n) => JSON.stringify(n)) : null);
          // The wire object built the generic way, from the same inputs: what the reply must say.
          const FailedNodes: Record<string, string> = {};
          const FailedAndUnresolvableNodes: Record<string, string> = {};
          failing.forEach((n, i) => {
            const [text, resolvable] = texts[i % Math.max(1, texts.length)] ?? ['reason', false];
            reply.fail(n, text, resolvable, quoted && i % 2 === 0 ? JSON.stringify(n) : null);
            (resolvable ? FailedNodes : FailedAndUnresolvableNodes)[n] = text;
          });
          const wire = { Nodes: nodes ? { metadata: {}, items: nodes } : null, NodeNames: full ? null : passed, FailedNodes, FailedAndUnresolvableNodes, Error: '' };
          expect(reply.json()).toBe(JSON.stringify(wire));
          expect(reply.toWire()).toEqual(wire);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('handles more failed nodes than a call can take arguments', () => {
    const reply = new FilterReply([], null);
    for (let i = 0; i < 200_000; i++) reply.fail(`n${i}`, 'gpu-ledger: no', false);
    expect(Object.keys(JSON.parse(reply.json()).FailedAndUnresolvableNodes)).toHaveLength(200_000);
  });

  it('keeps request order and a repeated name (same node, same text)', () => {
    const reply = new FilterReply(['b'], null);
    reply.fail('z', 'gpu-ledger: no', false);
    reply.fail('1', 'gpu-ledger: no', false);
    reply.fail('z', 'gpu-ledger: no', false);
    expect(reply.json()).toBe('{"Nodes":null,"NodeNames":["b"],"FailedNodes":{},"FailedAndUnresolvableNodes":{"z":"gpu-ledger: no","1":"gpu-ledger: no","z":"gpu-ledger: no"},"Error":""}');
    expect(JSON.parse(reply.json()).FailedAndUnresolvableNodes).toEqual({ z: 'gpu-ledger: no', 1: 'gpu-ledger: no' });
  });
});
