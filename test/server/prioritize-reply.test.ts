// The prioritize reply written as JSON directly says exactly what JSON.stringify of the
// HostPriority list says, for any names (quotes, control characters, non-ASCII, lone surrogates),
// with or without the names' ready-made literals, and any score.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrioritizeReply } from '../../src/server/prioritize-reply.js';

const nameArb = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('a"b', 'back\\slash', 'nl\n', '\u0000', 'ünï', '\ud800', 'x\u2028y'),
);

describe('prioritize reply JSON', () => {
  it('is JSON.stringify of the wire list without its zeros, whatever the names and scores', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(nameArb, fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), fc.boolean()), { maxLength: 40 }), (rows) => {
        const reply = new PrioritizeReply();
        for (const [host, score, quoted] of rows) reply.add(host, score, quoted ? Buffer.from(JSON.stringify(host)) : null);
        // A 0 (or −0) is left out: kube-scheduler reads an absent host as 0.
        const wire = rows.filter(([, Score]) => Score !== 0).map(([Host, Score]) => ({ Host, Score }));
        expect(reply.json()).toBe(JSON.stringify(wire));
        expect(reply.toWire()).toEqual(JSON.parse(JSON.stringify(wire)));
      }),
    );
  });

  it('an empty list is []', () => {
    expect(new PrioritizeReply().json()).toBe('[]');
  });
});
