// The two-pass reply writer: the bytes are exactly the pieces' UTF-8, whatever their size, and a
// writer whose passes differ is refused rather than sending bytes it never wrote.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QuotedTexts, ReplyWriter, utf8 } from '../../src/server/reply-bytes.js';

describe('ReplyWriter', () => {
  it('writes bytes and single characters exactly, small and large pieces alike, any text as its UTF-8', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }).map((s) => ({ kind: 'bytes' as const, s })), fc.integer({ min: 0, max: 127 }).map((c) => ({ kind: 'byte' as const, s: String.fromCharCode(c) }))), { maxLength: 50 }), (pieces) => {
        const made = pieces.map((p) => (p.kind === 'bytes' ? utf8(p.s) : null));
        const out = ReplyWriter.bytes((w) => {
          pieces.forEach((p, i) => (p.kind === 'bytes' ? w.bytes(made[i]!) : w.byte(p.s.charCodeAt(0))));
        });
        expect(out.equals(Buffer.from(pieces.map((p) => p.s).join(''), 'utf8'))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a writer that writes a different length the second time', () => {
    let shorter = 0;
    expect(() => ReplyWriter.bytes((w) => w.bytes(utf8(++shorter === 1 ? 'abc' : 'ab')))).toThrow(/measured 3 bytes, wrote 2/);
    // Past the measured end the copy itself refuses.
    let longer = 0;
    expect(() => ReplyWriter.bytes((w) => w.bytes(utf8(++longer === 1 ? 'ab' : 'abc')))).toThrow(RangeError);
  });

  it('quotes texts as JSON literals (lone surrogates escaped), the same bytes for the same text', () => {
    const q = new QuotedTexts();
    expect(Buffer.from(q.of('a"b\ud800ü')).toString('utf8')).toBe(JSON.stringify('a"b\ud800ü'));
    expect(q.of('same')).toBe(q.of('same'));
  });
});
