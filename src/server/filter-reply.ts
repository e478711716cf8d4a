// The filter verb's reply, written as JSON bytes directly (./reply-bytes.ts). With thousands of
// candidates the generic path (a FailedAndUnresolvableNodes object with a key per failing node,
// then JSON.stringify of it) cost more than deciding: V8 keeps such an object as a hash table and
// walks it again to serialise it. Here the reply is written from ready-made pieces: each node's
// name as JSON literal bytes (made once, when the node entered the ledger), and the reason texts'
// JSON, memoised (the texts are few and stable). Names the ledger does not know are escaped per
// request.

import { slots, type FilterOutcome } from '../filter/filter-nodes.js';
import type { Reason } from '../model/types.js';
import { QuotedTexts, ReplyWriter, utf8 } from './reply-bytes.js';
import type { ExtenderFilterResult } from './wire.js';

const texts = new QuotedTexts();

const HEAD = utf8('{"Nodes":');
const ITEMS = utf8('{"metadata":{},"items":');
const NULL = utf8('null');
const NODE_NAMES = utf8(',"NodeNames":');
// Always unresolvable for kube-scheduler: its preemption dry run cannot see GPU shares and would
// find no victim (`expected at least one victim pod`). gpu-ledger preempts for them itself (--preemption).
const FAILED = utf8(',"FailedNodes":{},"FailedAndUnresolvableNodes":{');
const ERROR = utf8('},"Error":');
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_LIST = 0x5b;
const CLOSE_LIST = 0x5d;
const CLOSE_OBJECT = 0x7d;

export class FilterReply {
  /** The reply's Error: set when gpu-ledger's own preemption started for the pod (kube-scheduler shows it). */
  error = '';

  private constructor(
    private readonly names: readonly string[] | null,
    private readonly nodes: readonly unknown[] | null,
    private readonly outcome: FilterOutcome | null,
    private readonly textOf: ((r: Reason) => string) | null,
  ) {}

  /** Every candidate passes (a pod gpu-ledger does not manage): a NodeNames request's `names`, or a full-Node request's `nodes`. */
  static all(names: readonly string[] | null, nodes: readonly unknown[] | null): FilterReply {
    return new FilterReply(names, nodes, null, null);
  }

  /**
   * The reply to a filter whose outcome is `outcome`: for a NodeNames request (`nodes` null) its
   * passing names, for a full-Node request `nodes` (the items that passed); every failed node in
   * FailedAndUnresolvableNodes, with the text of its first reason. Read when bytes() writes the reply.
   */
  static of(outcome: FilterOutcome, textOf: (r: Reason) => string, nodes: readonly unknown[] | null = null): FilterReply {
    return new FilterReply(null, nodes, outcome, textOf);
  }

  /**
   * The reply as the wire type (tests, logs): what kube-scheduler decodes from json(), so the two
   * cannot disagree (a name listed twice keeps its last text, as a decoder does).
   */
  toWire(): ExtenderFilterResult {
    return JSON.parse(this.json()) as ExtenderFilterResult;
  }

  /** The JSON text kube-scheduler receives (tests, logs): the bytes, decoded. */
  json(): string {
    return this.bytes().toString('utf8');
  }

  /**
   * The reply's bytes: what JSON.stringify of the wire object says, with the failed nodes in request
   * order (a name the request repeats is repeated, with the same text).
   */
  bytes(): Buffer {
    // The free-form pieces are encoded once: the writer runs twice.
    const nodesJson = this.nodes ? utf8(JSON.stringify(this.nodes)) : null;
    const namesJson = !this.nodes && !this.outcome ? utf8(JSON.stringify(this.names)) : null;
    const errorJson = utf8(JSON.stringify(this.error));
    const o = this.outcome;
    const textOf = this.textOf;
    // Each failed node's name and text literals, in request order: looked up once, copied by both passes.
    const failed = slots<Uint8Array>(o && textOf ? 2 * o.failedCount : 0);
    let f = 0;
    if (o && textOf) {
      o.forEachFailed((name, reasons, literal) => {
        failed[f++] = literal ?? utf8(JSON.stringify(name));
        failed[f++] = texts.of(textOf(reasons[0]));
      });
    }
    return ReplyWriter.bytes((w) => {
      w.bytes(HEAD);
      if (nodesJson !== null) {
        w.bytes(ITEMS);
        w.bytes(nodesJson);
        w.byte(CLOSE_OBJECT);
      } else w.bytes(NULL);
      w.bytes(NODE_NAMES);
      if (nodesJson !== null) w.bytes(NULL);
      else if (o) {
        w.byte(OPEN_LIST);
        for (let i = 0; i < o.passedCount; i++) {
          if (i > 0) w.byte(COMMA);
          w.bytes(o.passedLiteral(i));
        }
        w.byte(CLOSE_LIST);
      } else w.bytes(namesJson!);
      w.bytes(FAILED);
      for (let k = 0; k < f; k += 2) {
        if (k > 0) w.byte(COMMA);
        w.bytes(failed[k]);
        w.byte(COLON);
        w.bytes(failed[k + 1]);
      }
      w.bytes(ERROR);
      w.bytes(errorJson);
      w.byte(CLOSE_OBJECT);
    });
  }
}
