// The prioritize verbs' reply, written as JSON directly (as the filter's is, ./filter-reply.ts):
// with thousands of candidates, an object per host and JSON.stringify of the array cost more than
// the ranking's last step. Each host's name is the node's JSON literal, made once when the node
// entered the ledger; names the ledger does not know are escaped per request.
// A host that scores 0 is left out: kube-scheduler adds an extender's score × weight only for
// the hosts its reply lists (schedule_one.go prioritizeNodes), so an absent host and a 0 are the
// same — and at thousands of candidates, most of them 0, both sides skip encoding and decoding them.

import type { HostPriority } from './wire.js';

/** The scores as JSON text pieces (kube-scheduler's extender scores are integers 0..10). */
const SCORE_TEXT = Array.from({ length: 11 }, (_, i) => `,"Score":${i}}`);

export class PrioritizeReply {
  private readonly parts: string[] = [];

  /** `quoted`: the host's JSON literal, when known. A 0 adds nothing (see above). */
  add(host: string, score: number, quoted: string | null = null): void {
    if (score === 0) return;
    const text = Number.isInteger(score) && score >= 0 && score <= 10 ? SCORE_TEXT[score] : `,"Score":${JSON.stringify(score)}}`;
    this.parts.push(this.parts.length === 0 ? '[{"Host":' : ',{"Host":', quoted ?? JSON.stringify(host), text);
  }

  /** The JSON text kube-scheduler receives: what JSON.stringify of the HostPriority list (its non-zero rows) says. */
  json(): string {
    return this.parts.length === 0 ? '[]' : this.parts.join('') + ']';
  }

  /** The reply as the wire type (tests, logs): decoded from json(), so the two cannot disagree. */
  toWire(): HostPriority[] {
    return JSON.parse(this.json()) as HostPriority[];
  }
}
