// The filter verb's reply, written as JSON directly. With thousands of candidates the generic path
// (a FailedAndUnresolvableNodes object with a key per failing node, then JSON.stringify of it)
// cost more than deciding: V8 keeps such an object as a hash table and walks it again to
// serialise it. Here the reply is joined from ready-made pieces: each node's name as a JSON
// literal (made once, when the node entered the ledger), and the reason texts' JSON, memoised
// (the texts are few and stable). Names the ledger does not know are escaped per request.

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
  /** Pieces of the two failed-node objects, in order: `"name"`, `:`, `"text"`, `,` … (joined once). */
  private readonly failed: string[] = [];
  private readonly unresolvable: string[] = [];
  /** The reply's Error: set when gpu-ledger's own preemption started for the pod (kube-scheduler shows it). */
  error = '';

  /**
   * `names`: the nodes that fit (NodeNames requests), with `quotedNames` their JSON literals when
   * known; `nodes`: the Node objects that fit (full-Node requests). Exactly one of them is set.
   */
  constructor(
    private readonly names: readonly string[] | null,
    private readonly nodes: readonly unknown[] | null,
    private readonly quotedNames: readonly string[] | null = null,
  ) {}

  /**
   * A node that does not fit: FailedNodes when preemption could help it (`resolvable`), else
   * FailedAndUnresolvableNodes. `quoted`: the name's JSON literal, when known.
   */
  fail(name: string, text: string, resolvable: boolean, quoted: string | null = null): void {
    const out = resolvable ? this.failed : this.unresolvable;
    if (out.length > 0) out.push(',');
    out.push(quoteName(name, quoted), ':', quoteText(text));
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
   * join of ready-made pieces: the result is one flat string, so measuring and encoding it for
   * the socket are single copies.
   */
  json(): string {
    const parts: string[] = ['{"Nodes":'];
    if (this.nodes) parts.push('{"metadata":{},"items":', JSON.stringify(this.nodes), '}');
    else parts.push('null');
    parts.push(',"NodeNames":');
    if (!this.names) parts.push('null');
    else if (this.quotedNames) parts.push('[', this.quotedNames.join(','), ']');
    else parts.push(JSON.stringify(this.names));
    // Joined apart: spreading tens of thousands of pieces as arguments would overflow the stack.
    parts.push(',"FailedNodes":{', this.failed.join(''), '},"FailedAndUnresolvableNodes":{', this.unresolvable.join(''), '},"Error":', JSON.stringify(this.error), '}');
    return parts.join('');
  }
}
