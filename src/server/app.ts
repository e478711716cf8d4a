// The HTTP surface: extender verbs, explain, metrics, health. Every reply is JSON (or the
// Prometheus text format / an explain table when asked for). Malformed input is a 4xx with a JSON
// error, never a 500, and never reaches the ledger.

import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { explainPod, renderExplanation } from '../explain/explain.js';
import { parseYaml } from '../model/yaml.js';
import type { ClusterState } from '../state/cluster-state.js';
import type { Binder } from '../state/sink.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExtenderContext } from './extender.js';
import type { Metrics } from './metrics.js';
import { HttpError, verbHandler } from './verbs.js';

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

function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.status(status).type('application/json').send(text);
}

/**
 * The server's request listener: the extender verbs on node:http (./verbs.ts), everything else
 * through express.
 */
export function createHandler(opts: AppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const ctx: ExtenderContext = { state: opts.state, binder: opts.binder, logger: opts.logger, metrics: opts.metrics, preemption: opts.preemption };
  return verbHandler({ ctx, metrics: opts.metrics, logger: opts.logger, maxBody: opts.maxBody }, createApp(opts));
}

/** Explain, metrics, health and the 404/error replies (the verbs are in ./verbs.ts). */
export function createApp(opts: AppOptions): express.Express {
  const { state, logger, metrics } = opts;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const text = express.text({ limit: opts.maxBody, type: () => true });

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
        pod = parseYaml(typeof req.body === 'string' ? req.body : '');
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
