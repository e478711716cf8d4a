// The filter reply written as JSON directly says what JSON.stringify of the wire object says,
// for any names (quotes, backslashes, control characters, non-ASCII, lone surrogates) and texts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FilterOutcome } from '../../src/filter/filter-nodes.js';
import type { Reason } from '../../src/model/types.js';
import { FilterReply } from '../../src/server/filter-reply.js';
import type { NodeLedger } from '../../src/state/ledger.js';

const nameArb = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0000', 'ünï', '\ud800', 'x\u2028y'),
);

describe('filter reply JSON', () => {
  it('every candidate passing (a pod gpu-ledger does not manage) parses to the wire object, whatever the names', () => {
    fc.assert(
      fc.property(fc.uniqueArray(nameArb, { maxLength: 40 }), fc.boolean(), (names, full) => {
        const nodes = full ? names.map((n) => ({ metadata: { name: n } })) : null;
        const reply = FilterReply.all(full ? null : names, nodes);
        const wire = { Nodes: nodes ? { metadata: {}, items: nodes } : null, NodeNames: full ? null : names, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' };
        expect(reply.json()).toBe(JSON.stringify(wire));
        expect(reply.toWire()).toEqual(wire);
      }),
      { numRuns: 500 },
    );
  });

  it("a filter outcome's reply says what the wire object built from it says, in request order", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(nameArb, { maxLength: 60 }),
        fc.array(fc.tuple(fc.constantFrom('pass', 'fail-known', 'fail-unknown'), fc.string({ unit: 'binary', maxLength: 20 })), { minLength: 60, maxLength: 60 }),
        fc.boolean(),
        (raw, verdicts, full) => {
          const names = raw.filter((n) => !/^\d+$/.test(n) && n !== '__proto__');
          const outcome = new FilterOutcome(names);
          const passed: string[] = [];
          const failed: Record<string, string> = {};
          // A node the ledger knows brings its name's JSON literal; the reply must not depend on who made it.
          const node = (n: string) => ({ jsonBytes: Buffer.from(JSON.stringify(n)) }) as unknown as NodeLedger;
          names.forEach((n, i) => {
            const [verdict, text] = verdicts[i];
            if (verdict === 'pass') {
              outcome.pass(node(n), i);
              passed.push(n);
            } else {
              outcome.fail(i, [{ code: 'test', text } as unknown as Reason], verdict === 'fail-known' ? node(n) : undefined);
              failed[n] = text;
            }
          });
          const items = full ? passed.map((n) => ({ metadata: { name: n } })) : null;
          const reply = FilterReply.of(outcome, (r) => (r as unknown as { text: string }).text, items);
          const wire = { Nodes: items ? { metadata: {}, items } : null, NodeNames: full ? null : passed, FailedNodes: {}, FailedAndUnresolvableNodes: failed, Error: '' };
          expect(reply.json()).toBe(JSON.stringify(wire));
          expect(reply.toWire()).toEqual(wire);
          expect(outcome.passed).toEqual(passed);
          expect([...outcome.passedIndex].map((i) => names[i])).toEqual(passed);
          expect(Object.fromEntries([...outcome.failed].map(([n, rs]) => [n, (rs[0] as unknown as { text: string }).text]))).toEqual(failed);
          expect(outcome.passedCount + outcome.failedCount).toBe(names.length);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('handles more failed nodes than a call can take arguments', () => {
    // Past the size where the outcome's and the reply's arrays are sized at once, too.
    const many = Array.from({ length: 200_000 }, (_, i) => `n${i}`);
    const all = new FilterOutcome(many);
    many.forEach((_, i) => all.fail(i, [{ code: 'x' } as unknown as Reason]));
    expect(Object.keys(JSON.parse(FilterReply.of(all, () => 'gpu-ledger: no').json()).FailedAndUnresolvableNodes)).toHaveLength(200_000);
    const names = Array.from({ length: 120_000 }, (_, i) => `n${i}`);
    const outcome = new FilterOutcome(names);
    names.forEach((_, i) => (i % 3 === 0 ? outcome.pass({ jsonBytes: Buffer.from(`"n${i}"`) } as unknown as NodeLedger, i) : outcome.fail(i, [{ code: 'x' } as unknown as Reason])));
    const wire = JSON.parse(FilterReply.of(outcome, () => 'no').json());
    expect(wire.NodeNames).toHaveLength(40_000);
    expect(wire.NodeNames[1]).toBe('n3');
    expect(Object.keys(wire.FailedAndUnresolvableNodes)).toHaveLength(80_000);
  });

  it('keeps request order and a repeated name (same node, same text)', () => {
    const outcome = new FilterOutcome(['z', 'b', '1', 'z']);
    const no = [{ code: 'x' } as unknown as Reason];
    outcome.fail(0, no);
    outcome.pass({ jsonBytes: Buffer.from('"b"') } as unknown as NodeLedger, 1);
    outcome.fail(2, no);
    outcome.fail(3, no);
    const reply = FilterReply.of(outcome, () => 'gpu-ledger: no');
    expect(reply.json()).toBe('{"Nodes":null,"NodeNames":["b"],"FailedNodes":{},"FailedAndUnresolvableNodes":{"z":"gpu-ledger: no","1":"gpu-ledger: no","z":"gpu-ledger: no"},"Error":""}');
    expect(JSON.parse(reply.json()).FailedAndUnresolvableNodes).toEqual({ z: 'gpu-ledger: no', 1: 'gpu-ledger: no' });
  });
});
