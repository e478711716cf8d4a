// The extender verbs on node:http directly. kube-scheduler calls them once per pod and cycle,
// with bodies of up to tens of MB (full Node lists); express's router and body-parser stack cost
// more than the work itself on the hot path, so the verbs read, parse, decode and answer here —
// the one place for their status codes and error bodies. This listener serves the verbs and
// /healthz only: metrics, readiness and explain are on the read-only status listener (./app.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { readBody, HttpError, type BodyLimits } from './body.js';
import { filterReply, handleBind, handlePreempt, handlePrioritize, handlePrioritizeCpu, type ExtenderContext } from './extender.js';
import { FilterReply } from './filter-reply.js';
import { PrioritizeReply } from './prioritize-reply.js';
import type { Metrics } from './metrics.js';
import { notInSyncReason, refuseBind, refuseFilter, refusePreempt, refusePrioritize, type SyncSource } from './sync-gate.js';
import { decodeBindingArgs, decodeExtenderArgs, decodePreemptionArgs, WireError } from './wire.js';

export { HttpError, parseSize } from './body.js';

interface Verb<A> {
  name: string;
  decode: (body: unknown) => A;
  run: (args: A) => unknown;
  /** The reply while the ledger is not in sync (./sync-gate.ts). */
  refuse: (args: A, reason: string) => unknown;
}

function send(res: ServerResponse, status: number, reply: string | Buffer, close = false): void {
  if (res.headersSent) return;
  const body = typeof reply === 'string' ? Buffer.from(reply, 'utf8') : reply;
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', body.length);
  if (close) res.setHeader('connection', 'close');
  res.end(body);
}

export interface VerbOptions {
  ctx: ExtenderContext;
  metrics: Metrics;
  logger: Logger;
  limits: BodyLimits;
  /** Is the ledger in sync with its source? Verbs refuse to place pods while it is not. */
  sync: SyncSource;
}

/** The request listener of the verbs port: the five verbs, GET /healthz, and JSON 404s. */
export function verbHandler(opts: VerbOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { ctx, metrics, logger } = opts;
  const verb = <A>(v: Verb<A>) => v as Verb<unknown>;
  const verbs = new Map<string, Verb<unknown>>([
    ['/filter', verb({ name: 'filter', decode: decodeExtenderArgs, run: (a) => filterReply(ctx, a), refuse: refuseFilter })],
    ['/prioritize', verb({ name: 'prioritize', decode: decodeExtenderArgs, run: (a) => handlePrioritize(ctx, a), refuse: refusePrioritize })],
    ['/prioritize-cpu', verb({ name: 'prioritize-cpu', decode: decodeExtenderArgs, run: (a) => handlePrioritizeCpu(ctx, a), refuse: refusePrioritize })],
    ['/bind', verb({ name: 'bind', decode: decodeBindingArgs, run: (a) => handleBind(ctx, a), refuse: (_a, reason) => refuseBind(reason) })],
    ['/preempt', verb({ name: 'preempt', decode: decodePreemptionArgs, run: (a) => handlePreempt(ctx, a), refuse: refusePreempt })],
  ]);

  async function serveVerb(v: Verb<unknown>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const end = metrics.duration.startTimer({ verb: v.name });
    let release = () => {};
    try {
      const encoding = req.headers['content-encoding'];
      if (encoding !== undefined && encoding !== 'identity') throw new HttpError(415, `content-encoding "${encoding}" is not supported (kube-scheduler sends plain JSON)`);
      const read = await readBody(req, opts.limits);
      release = read.release;
      let body: unknown;
      try {
        body = JSON.parse(read.body.toString('utf8'));
      } catch (err) {
        throw new HttpError(400, `body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      let args: unknown;
      try {
        args = v.decode(body);
      } catch (err) {
        if (err instanceof WireError) throw new HttpError(400, err.message);
        throw err;
      }
      const sync = opts.sync();
      let result: unknown;
      if (sync.inSync) result = await v.run(args);
      else {
        const reason = notInSyncReason(sync);
        metrics.notInSync.inc({ verb: v.name });
        logger.info({ verb: v.name, resources: sync.resources }, 'ledger not in sync: refusing');
        result = v.refuse(args, reason);
      }
      // The filter and prioritize replies write their own JSON bytes (./reply-bytes.ts); every other reply is a plain value.
      send(res, 200, result instanceof FilterReply || result instanceof PrioritizeReply ? result.bytes() : JSON.stringify(result));
    } catch (err) {
      if (err instanceof HttpError) {
        metrics.badRequests.inc({ verb: v.name });
        logger.debug({ path: req.url, status: err.status, message: err.message }, 'bad request');
        // A refused body may still be on the wire: close the connection rather than read it.
        const refused = err.status === 413 || err.status === 503;
        send(res, err.status, JSON.stringify({ Error: err.message }), refused);
        if (refused) req.resume();
      } else {
        logger.error({ err, path: req.url }, 'request failed');
        send(res, 500, JSON.stringify({ Error: 'internal error' }));
      }
    } finally {
      release();
      end();
    }
  }

  return (req, res) => {
    const q = req.url?.indexOf('?') ?? -1;
    const path = q >= 0 ? req.url!.slice(0, q) : req.url;
    const v = req.method === 'POST' && path !== undefined ? verbs.get(path) : undefined;
    if (v) {
      void serveVerb(v, req, res);
      return;
    }
    req.resume();
    if (req.method === 'GET' && path === '/healthz') send(res, 200, JSON.stringify({ status: 'ok' }));
    else if (path !== undefined && verbs.has(path)) send(res, 405, JSON.stringify({ Error: `${path} takes POST` }));
    else send(res, 404, JSON.stringify({ Error: `no route ${req.method} ${path} on the extender port (metrics, readiness and explain are on the status port, --status-port)` }));
  };
}
