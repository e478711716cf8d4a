// The filter verb's reply, written as JSON directly. With thousands of candidates the generic path
// (a FailedAndUnresolvableNodes object with a key per failing node, then JSON.stringify of it)
// cost more than deciding: V8 keeps such an object as a hash table and walks it again to
// serialise it. Here the reply is joined from ready-made pieces: each node's name as a JSON
// literal (made once, when the node entered the ledger), and the reason texts' JSON, memoised
// (the texts are few and stable). Names the ledger does not know are escaped per request.

import { slots, type FilterOutcome } from '../filter/filter-nodes.js';
import type { Reason } from '../model/types.js';
import type { ExtenderFilterResult } from './wire.js';

/** JSON string literals of reason texts (a bounded memo: there are few distinct texts). */
const quoted = new Map<string, string>();
function quoteText(text: string): string {
  let q = quoted.get(text);
  if (q === undefined) {
    q = JSON.stringify(text);
    if (quoted.size >= 4096) quoted.clear();
    quoted.set(text, q);
  }
  return q;
}

/** A JSON string literal for a name: the node's own (made once) when the ledger knows it. */
function quoteName(name: string, known: string | null): string {
  return known ?? JSON.stringify(name);
}

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
   * FailedAndUnresolvableNodes, with the text of its first reason. Read when json() writes the reply.
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

  /**
   * The JSON text kube-scheduler receives: what JSON.stringify of the wire object says, with the failed
   * nodes in request order (a name the request repeats is repeated, with the same text). One
   * join of ready-made pieces, in one array sized for them: the result is one flat string, so
   * measuring and encoding it for the socket are single copies.
   */
  json(): string {
    const o = this.outcome;
    const textOf = this.textOf;
    const size = 12 + (o ? 2 * o.passedCount + 4 * o.failedCount : 0);
    const parts = slots<string>(size);
    let k = 0;
    parts[k++] = '{"Nodes":';
    if (this.nodes) {
      parts[k++] = '{"metadata":{},"items":';
      parts[k++] = JSON.stringify(this.nodes);
      parts[k++] = '}';
    } else parts[k++] = 'null';
    parts[k++] = ',"NodeNames":';
    if (this.nodes) parts[k++] = 'null';
    else if (o) {
      parts[k++] = '[';
      for (let i = 0; i < o.passedCount; i++) {
        if (i > 0) parts[k++] = ',';
        parts[k++] = o.passedLiteral(i);
      }
      parts[k++] = ']';
    } else parts[k++] = JSON.stringify(this.names);
    // Always unresolvable for kube-scheduler: its preemption dry run cannot see GPU shares and would
    // find no victim (`expected at least one victim pod`). gpu-ledger preempts for them itself (--preemption).
    parts[k++] = ',"FailedNodes":{},"FailedAndUnresolvableNodes":{';
    if (o && textOf) {
      let first = true;
      o.forEachFailed((name, reasons, literal) => {
        if (!first) parts[k++] = ',';
        first = false;
        parts[k++] = quoteName(name, literal);
        parts[k++] = ':';
        parts[k++] = quoteText(textOf(reasons[0]));
      });
    }
    parts[k++] = '},"Error":';
    parts[k++] = JSON.stringify(this.error);
    parts[k++] = '}';
    parts.length = k;
    return parts.join('');
  }
}
