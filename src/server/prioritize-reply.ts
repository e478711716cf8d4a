// The prioritize verbs' reply, written as JSON bytes directly (as the filter's is, ./reply-bytes.ts):
// with thousands of candidates, an object per host and JSON.stringify of the array cost more than
// the ranking's last step. Each host's name is the node's JSON literal bytes, made once when the
// node entered the ledger; names the ledger does not know are escaped per request.
// A host that scores 0 is left out: kube-scheduler adds an extender's score × weight only for
// the hosts its reply lists (schedule_one.go prioritizeNodes), so an absent host and a 0 are the
// same — and at thousands of candidates, most of them 0, both sides skip encoding and decoding them.

import { ReplyWriter, utf8 } from './reply-bytes.js';
import type { HostPriority } from './wire.js';

/** The scores as JSON pieces (kube-scheduler's extender scores are integers 0..10). */
const SCORE_BYTES = Array.from({ length: 11 }, (_, i) => utf8(`,"Score":${i}}`));
const FIRST = utf8('[{"Host":');
const NEXT = utf8(',{"Host":');
const EMPTY = utf8('[]');
const CLOSE_LIST = 0x5d;

export class PrioritizeReply {
  /** Per listed host: its JSON literal bytes and its score's piece (made once, in add). */
  private readonly literals: Uint8Array[] = [];
  private readonly scores: Uint8Array[] = [];

  /** `quoted`: the host's JSON literal bytes, when known (else escaped here). A 0 adds nothing (see above). */
  add(host: string, score: number, quoted: Uint8Array | null = null): void {
    if (score === 0) return;
    this.literals.push(quoted ?? utf8(JSON.stringify(host)));
    this.scores.push(Number.isInteger(score) && score >= 0 && score <= 10 ? SCORE_BYTES[score] : utf8(`,"Score":${JSON.stringify(score)}}`));
  }

  /** The bytes kube-scheduler receives: what JSON.stringify of the HostPriority list (its non-zero rows) says. */
  bytes(): Buffer {
    const n = this.scores.length;
    return ReplyWriter.bytes((w) => {
      if (n === 0) w.bytes(EMPTY);
      for (let i = 0; i < n; i++) {
        w.bytes(i === 0 ? FIRST : NEXT);
        w.bytes(this.literals[i]);
        w.bytes(this.scores[i]);
      }
      if (n > 0) w.byte(CLOSE_LIST);
    });
  }

  /** The JSON text (tests, logs): the bytes, decoded. */
  json(): string {
    return this.bytes().toString('utf8');
  }

  /** The reply as the wire type (tests, logs): decoded from bytes(), so the two cannot disagree. */
  toWire(): HostPriority[] {
    return JSON.parse(this.json()) as HostPriority[];
  }
}
