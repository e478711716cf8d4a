// The HTTP surface, on two listeners. The extender port (./verbs.ts) serves the verbs that change
// or decide placement — filter, prioritize, bind, preempt — and listens on loopback by default: the
// kube-scheduler next to it is its only client. The status port (this express app) is read-only:
// metrics, health, readiness and explain; it is the one the Service, probes and NetworkPolicy
// expose, and it never serves a verb. Every reply is JSON (or the Prometheus text format / an
// explain table when asked for). Malformed input is a 4xx with a JSON error, never a 500, and never
// reaches the ledger.

import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { explainPod, renderExplanation, type PodExplanation } from '../explain/explain.js';
import { parseYaml } from '../model/yaml.js';
import { Pipeline } from '../prioritize/pipeline.js';
import type { ClusterState } from '../state/cluster-state.js';
import type { Binder } from '../state/sink.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyBudget, HttpError, parseSize, readBody, type BodyLimits } from './body.js';
import type { ExtenderContext } from './extender.js';
import type { Metrics } from './metrics.js';
import type { Preemptor } from './preemption.js';
import { SNAPSHOT_SYNC, type SyncSource } from './sync-gate.js';
import { verbHandler } from './verbs.js';
// --- the ledger page and its JSON view (read-only) ---
import { explainByName } from './explain-by-name.js';
import { ledgerApi } from './ledger-api.js';
import { renderExplanationHtml } from './page/explain-html.js';
import { pageRoutes, securityHeaders } from './page/routes.js';

export interface AppOptions {
  state: ClusterState;
  binder: Binder;
  logger: Logger;
  metrics: Metrics;
  preemption: boolean;
  /** gpu-ledger's own preemption (live mode with --preemption). */
  preemptor?: Preemptor;
  /** Largest body accepted, e.g. "64mb". */
  maxBody: string;
  /** Bytes all bodies being read may hold at once (shared by both listeners). Default: 2 × maxBody. */
  budget?: BodyBudget;
  /** Is the ledger in sync with its source (live mode: every informer)? Default: always (snapshot). */
  sync?: SyncSource;
  /** The decision path both listeners use (one per server: its GPU chooser is cached per workload). */
  pipeline?: Pipeline;
}

function pipelineOf(opts: AppOptions): Pipeline {
  return opts.pipeline ?? new Pipeline(opts.state);
}

/** A Pod is at most 1.5 MiB in etcd and the API server takes 3 MiB requests: explain needs no more. */
export const EXPLAIN_MAX_BODY = 3 * 1024 * 1024;

function budgetOf(opts: AppOptions): BodyBudget {
  return opts.budget ?? new BodyBudget(2 * parseSize(opts.maxBody), `2 × ${opts.maxBody}`);
}

function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.status(status).type('application/json').send(text);
}

/** The extender port's request listener: the verbs on node:http (./verbs.ts), /healthz, JSON 404s. */
export function createVerbsHandler(opts: AppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const ctx: ExtenderContext = { state: opts.state, pipeline: pipelineOf(opts), binder: opts.binder, logger: opts.logger, metrics: opts.metrics, preemption: opts.preemption, preemptor: opts.preemptor };
  const limits: BodyLimits = { max: parseSize(opts.maxBody), maxText: opts.maxBody, budget: budgetOf(opts) };
  return verbHandler({ ctx, metrics: opts.metrics, logger: opts.logger, limits, sync: opts.sync ?? SNAPSHOT_SYNC });
}

/** The status port: explain, metrics, health, readiness and the 404/error replies; never a verb. */
export function createApp(opts: AppOptions): express.Express {
  const pipeline = pipelineOf(opts);
  const { state, logger, metrics } = opts;
  const sync = opts.sync ?? SNAPSHOT_SYNC;
  const explainOptions = { preemption: opts.preemption, going: opts.preemptor?.going };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const explainMax = Math.min(parseSize(opts.maxBody), EXPLAIN_MAX_BODY);
  const limits: BodyLimits = { max: explainMax, maxText: explainMax === EXPLAIN_MAX_BODY ? '3mb for explain' : opts.maxBody, budget: budgetOf(opts) };
  // The body as text, under the same size rules and shared budget as the verbs (./body.ts).
  const text = (req: Request, res: Response, next: NextFunction) => {
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') return next(new HttpError(415, `content-encoding "${encoding}" is not supported`));
    readBody(req, limits).then(({ body, release }) => {
      res.on('close', release);
      req.body = body.toString('utf8');
      next();
    }, next);
  };

  // Explain parses the pod on its own: it never writes the demand bind will reserve.
  const explainReply = (req: Request, res: Response, e: PodExplanation) => {
    if (req.query.format === 'text') res.status(200).type('text/plain').send(renderExplanation(e) + '\n');
    else if (req.query.format === 'html') {
      // The page's pod view: a fragment, under the page's security headers.
      securityHeaders(req, res, () => undefined);
      res.status(200).type('text/html; charset=utf-8').send(renderExplanationHtml(e).text);
    } else sendJson(res, 200, e);
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
      explainReply(req, res, explainPod(state.parse(pod), pipeline, undefined, explainOptions));
    } finally {
      end();
    }
  });
  app.get('/explain/:namespace/:name', (req: Request, res: Response) => {
    explainReply(req, res, explainByName(pipeline, String(req.params.namespace), String(req.params.name), explainOptions));
  });
  // --- the ledger page and its JSON view: GET /api/ledger…, /ui/… (src/server/page) ---
  const isReady = () => state.ready() && sync().inSync;
  app.use(ledgerApi(state, isReady));
  app.use(pageRoutes(pipeline, isReady, explainOptions));
  // ---

  app.get('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
  app.get('/readyz', (_req, res) => {
    const report = sync();
    const ready = state.ready() && report.inSync;
    sendJson(res, ready ? 200 : 503, { ready, nodes: state.ledger.nodes.size, pods: state.ledger.pods.size, resources: report.resources });
  });
  app.get('/metrics', async (_req, res) => {
    res.status(200).type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use((req: Request, res: Response) => sendJson(res, 404, { Error: `no route ${req.method} ${req.path} on the status port (read-only: the extender verbs are served only on the extender port)` }));
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
      // A fixed label set: a label per request path would let any client grow the registry.
      metrics.badRequests.inc({ verb: req.path.startsWith('/explain') ? 'explain' : 'status' });
      logger.debug({ path: req.path, status, message }, 'bad request');
    }
    if (res.headersSent) return;
    // A refused body may still be on the wire: close the connection rather than read it.
    if (status === 413 || status === 503) res.setHeader('connection', 'close');
    sendJson(res, status, { Error: message });
  });
  return app;
}
