// The extender verbs on node:http directly. kube-scheduler calls them once per pod and cycle,
// with bodies of up to tens of MB (full Node lists); express's router and body-parser stack cost
// more than the work itself on the hot path, so the verbs read, parse, decode and answer here —
// the one place for their status codes and error bodies. Everything else (explain, metrics,
// health, 404s) goes on to express.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { handleBind, handleFilter, handlePreempt, handlePrioritize, handlePrioritizeCpu, type ExtenderContext } from './extender.js';
import type { Metrics } from './metrics.js';
import { decodeBindingArgs, decodeExtenderArgs, decodePreemptionArgs, WireError } from './wire.js';

interface Verb {
  name: string;
  run: (body: unknown) => unknown;
}

/** An error the client caused: its status and a message for the JSON `Error` reply. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** "64mb" → bytes (the --max-body syntax: a number and an optional b/kb/mb/gb unit, 1024-based). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a size (e.g. 64mb)`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]);
}

function readBody(req: IncomingMessage, limit: number, limitText: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, `body larger than the limit (${limitText}; see --max-body)`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    let ended = false;
    req.on('end', () => {
      ended = true;
      if (!failed) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    // A client that goes away mid-body: settle instead of waiting forever.
    req.on('close', () => {
      if (ended || failed) return;
      failed = true;
      reject(new HttpError(400, 'request body: connection closed before the body was complete'));
    });
    req.on('error', (err) => {
      if (failed) return;
      failed = true;
      reject(new HttpError(400, `request body: ${err.message}`));
    });
  });
}

function send(res: ServerResponse, status: number, text: string, close = false): void {
  if (res.headersSent) return;
  // Replies are nearly always ASCII (names, reasons): then Latin-1 bytes are the UTF-8 bytes and
  // encoding runs ~20× faster than Node's UTF-8 path for a large string.
  const length = Buffer.byteLength(text, 'utf8');
  const body = Buffer.from(text, length === text.length ? 'latin1' : 'utf8');
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
  maxBody: string;
}

/** Returns a request listener for the verbs that hands every other request to `next`. */
export function verbHandler(opts: VerbOptions, next: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  const { ctx, metrics, logger } = opts;
  const limit = parseSize(opts.maxBody);
  const decoded = <T>(decode: (b: unknown) => T, handle: (a: T) => unknown) => (body: unknown) => handle(decode(body));
  const verbs = new Map<string, Verb>([
    ['/filter', { name: 'filter', run: decoded(decodeExtenderArgs, (a) => handleFilter(ctx, a)) }],
    ['/prioritize', { name: 'prioritize', run: decoded(decodeExtenderArgs, (a) => handlePrioritize(ctx, a)) }],
    ['/prioritize-cpu', { name: 'prioritize-cpu', run: decoded(decodeExtenderArgs, (a) => handlePrioritizeCpu(ctx, a)) }],
    ['/bind', { name: 'bind', run: decoded(decodeBindingArgs, (a) => handleBind(ctx, a)) }],
    ['/preempt', { name: 'preempt', run: decoded(decodePreemptionArgs, (a) => handlePreempt(ctx, a)) }],
  ]);

  async function serveVerb(verb: Verb, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const end = metrics.duration.startTimer({ verb: verb.name });
    try {
      const encoding = req.headers['content-encoding'];
      if (encoding !== undefined && encoding !== 'identity') throw new HttpError(415, `content-encoding "${encoding}" is not supported (kube-scheduler sends plain JSON)`);
      const raw = await readBody(req, limit, opts.maxBody);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        throw new HttpError(400, `body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      let result: unknown;
      try {
        result = await verb.run(body);
      } catch (err) {
        if (err instanceof WireError) throw new HttpError(400, err.message);
        throw err;
      }
      send(res, 200, JSON.stringify(result));
    } catch (err) {
      if (err instanceof HttpError) {
        metrics.badRequests.inc({ verb: verb.name });
        logger.debug({ path: req.url, status: err.status, message: err.message }, 'bad request');
        // A refused body may still be on the wire: close the connection rather than read it.
        send(res, err.status, JSON.stringify({ Error: err.message }), err.status === 413);
        if (err.status === 413) req.resume();
      } else {
        logger.error({ err, path: req.url }, 'request failed');
        send(res, 500, JSON.stringify({ Error: 'internal error' }));
      }
    } finally {
      end();
    }
  }

  return (req, res) => {
    const q = req.url?.indexOf('?') ?? -1;
    const path = q >= 0 ? req.url!.slice(0, q) : req.url;
    const verb = req.method === 'POST' && path !== undefined ? verbs.get(path) : undefined;
    if (verb) void serveVerb(verb, req, res);
    else next(req, res);
  };
}
