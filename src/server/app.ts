// The HTTP surface: extender verbs, explain, metrics, health. Every reply is JSON (or the
// Prometheus text format / an explain table when asked for). Malformed input is a 4xx with a JSON
// error, never a 500, and never reaches the ledger.

import express, { type NextFunction, type Request, type Response } from 'express';
import yaml from 'js-yaml';
import type { Logger } from 'pino';
import { explainPod, renderExplanation } from '../explain/explain.js';
import type { ClusterState } from '../state/cluster-state.js';
import type { Binder } from '../state/sink.js';
import { handleBind, handleFilter, handlePreempt, handlePrioritize, handlePrioritizeCpu, type ExtenderContext } from './extender.js';
import type { Metrics } from './metrics.js';
import { decodeBindingArgs, decodeExtenderArgs, decodePreemptionArgs, WireError } from './wire.js';

export interface AppOptions {
  state: ClusterState;
  binder: Binder;
  logger: Logger;
  metrics: Metrics;
  preemption: boolean;
  /** Largest body accepted, e.g. "64mb". */
  maxBody: string;
  /** Extra readiness condition (live mode: informers synced). */
  ready?: () => boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // Replies are nearly always ASCII (names, reasons): then the Latin-1 bytes are the UTF-8 bytes,
  // and encoding a large reply that way is many times faster than Node's UTF-8 path.
  const ascii = Buffer.byteLength(text, 'utf8') === text.length;
  res.status(status).type('application/json').send(Buffer.from(text, ascii ? 'latin1' : 'utf8'));
}

export function createApp(opts: AppOptions): express.Express {
  const { state, logger, metrics } = opts;
  const ctx: ExtenderContext = { state, binder: opts.binder, logger, metrics, preemption: opts.preemption };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // kube-scheduler always sends application/json; accept a body whatever its content type for the verbs.
  const json = express.json({ limit: opts.maxBody, strict: false, type: () => true });
  const text = express.text({ limit: opts.maxBody, type: () => true });

  const verb = <T>(name: string, decode: (b: unknown) => T, handle: (a: T) => unknown | Promise<unknown>) =>
    async (req: Request, res: Response) => {
      const end = metrics.duration.startTimer({ verb: name });
      try {
        let args: T;
        try {
          args = decode(req.body);
        } catch (err) {
          if (err instanceof WireError) throw new HttpError(400, err.message);
          throw err;
        }
        sendJson(res, 200, await handle(args));
      } finally {
        end();
      }
    };

  app.post('/filter', json, verb('filter', decodeExtenderArgs, (a) => handleFilter(ctx, a)));
  app.post('/prioritize', json, verb('prioritize', decodeExtenderArgs, (a) => handlePrioritize(ctx, a)));
  app.post('/prioritize-cpu', json, verb('prioritize-cpu', decodeExtenderArgs, (a) => handlePrioritizeCpu(ctx, a)));
  app.post('/bind', json, verb('bind', decodeBindingArgs, (a) => handleBind(ctx, a)));
  app.post('/preempt', json, verb('preempt', decodePreemptionArgs, (a) => handlePreempt(ctx, a)));

  const explainReply = (req: Request, res: Response, pod: unknown) => {
    const e = explainPod(state.demandOf(pod), state);
    if (req.query.format === 'text') res.status(200).type('text/plain').send(renderExplanation(e) + '\n');
    else sendJson(res, 200, e);
  };
  app.post('/explain', text, (req: Request, res: Response) => {
    const end = metrics.duration.startTimer({ verb: 'explain' });
    try {
      let pod: unknown;
      try {
        pod = yaml.load(typeof req.body === 'string' ? req.body : '', { json: true });
      } catch (err) {
        throw new HttpError(400, `body is not a Pod in JSON or YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
      if (pod === null || typeof pod !== 'object' || Array.isArray(pod) || (pod as { kind?: unknown }).kind !== 'Pod') {
        throw new HttpError(400, 'body must be a Pod (kind: Pod) in JSON or YAML');
      }
      explainReply(req, res, pod);
    } finally {
      end();
    }
  });
  app.get('/explain/:namespace/:name', (req: Request, res: Response) => {
    const ns = String(req.params.namespace);
    const name = String(req.params.name);
    const found = state.findByName(ns, name);
    if (!found) throw new HttpError(404, `pod ${ns}/${name} is not known to gpu-ledger (POST it to /explain instead)`);
    if (!found.demand) {
      // Bound pods are kept as their takes only; their spec is not retained.
      const a = found.allocation!;
      sendJson(res, 200, {
        pod: { namespace: ns, name, uid: found.uid },
        placedOn: a.node,
        state: a.state,
        takes: a.takes.map((t) => ({ ...t, mig: t.mig ? Object.fromEntries(t.mig) : {} })),
        summary: `${a.state} on ${a.node}; POST the pod to /explain for the per-node analysis`,
      });
      return;
    }
    const e = explainPod(found.demand, state);
    if (req.query.format === 'text') res.status(200).type('text/plain').send(renderExplanation(e) + '\n');
    else sendJson(res, 200, e);
  });

  app.get('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
  app.get('/readyz', (_req, res) => {
    const ready = state.ready() && (opts.ready ? opts.ready() : true);
    sendJson(res, ready ? 200 : 503, { ready, nodes: state.ledger.nodes.size, pods: state.ledger.pods.size });
  });
  app.get('/metrics', async (_req, res) => {
    res.status(200).type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use((req: Request, res: Response) => sendJson(res, 404, { Error: `no route ${req.method} ${req.path}` }));
  // Express recognises error handlers by their four parameters.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: unknown; statusCode?: unknown; type?: unknown; message?: unknown };
    let status = 500;
    let message = 'internal error';
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (e && typeof e === 'object' && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      // body-parser: entity.parse.failed (400), entity.too.large (413), encoding errors (415).
      status = e.status;
      message = e.type === 'entity.too.large' ? `body larger than the limit (${opts.maxBody}; see --max-body)` : e.type === 'entity.parse.failed' ? `body is not valid JSON: ${String(e.message)}` : String(e.message ?? 'bad request');
    }
    if (status >= 500) logger.error({ err, path: req.path }, 'request failed');
    else {
      metrics.badRequests.inc({ verb: req.path.split('/')[1] || 'root' });
      logger.debug({ path: req.path, status, message }, 'bad request');
    }
    if (res.headersSent) return;
    sendJson(res, status, { Error: message });
  });
  return app;
}
