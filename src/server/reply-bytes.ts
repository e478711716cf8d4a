// The filter and prioritize replies, written straight into the bytes the socket sends. At
// thousands of candidates a reply is tens of thousands of small pieces (a node's JSON literal, a
// comma, a reason's text); joining them into one string and then encoding that string cost more
// than deciding (a join is ~60 ns a piece on a 2-core machine, 0.7 ms for a 5,000-name filter).
// Here each piece is already bytes — a node's literal is encoded once, when the node enters the
// ledger (NodeLedger.jsonBytes), reason texts are encoded once per distinct text — and a reply is
// written in two passes over the same code: one measures, the second copies into a buffer of
// exactly that size; the two passes copy the same bytes. The rare free-form pieces (names the
// ledger does not know, an Error text, full Node objects) are encoded once per reply, before them.

/** JSON text as UTF-8 bytes (JSON.stringify escapes lone surrogates: the bytes are exact). */
export function utf8(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}

export class ReplyWriter {
  private out: Buffer | null = null;
  /** Bytes measured (first pass) or written (second pass). */
  private at = 0;

  /**
   * The reply `write` produces, as bytes: `write` runs twice and must write the same pieces both
   * times (it may read, never change, what it writes from).
   */
  static bytes(write: (w: ReplyWriter) => void): Buffer {
    const w = new ReplyWriter();
    write(w);
    const out = Buffer.allocUnsafe(w.at);
    w.out = out;
    w.at = 0;
    write(w);
    // A writer whose passes differ would send stale bytes from the pool: never.
    if (w.at !== out.length) throw new Error(`reply writer: measured ${out.length} bytes, wrote ${w.at}`);
    return out;
  }

  /** One ASCII character (punctuation), by its code. */
  byte(code: number): void {
    if (this.out !== null) this.out[this.at] = code;
    this.at++;
  }

  /** Bytes made earlier (a node's literal, a memoised text, a constant). */
  bytes(b: Uint8Array): void {
    // TypedArray#set even for a name's ~20 bytes: a byte loop in JS measured slower (5,000-name reply: 650 against 440 µs).
    if (this.out !== null) this.out.set(b, this.at);
    this.at += b.length;
  }
}

/**
 * JSON string literals of texts as bytes, memoised (reason texts: few and stable across requests).
 * Bounded: cleared past 4,096 texts.
 */
export class QuotedTexts {
  private readonly memo = new Map<string, Uint8Array>();

  of(text: string): Uint8Array {
    let q = this.memo.get(text);
    if (q === undefined) {
      q = utf8(JSON.stringify(text));
      if (this.memo.size >= 4096) this.memo.clear();
      this.memo.set(text, q);
    }
    return q;
  }
}
