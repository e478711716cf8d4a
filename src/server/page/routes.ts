// The ledger page on the read-only status port: GET /ui/ (the page), /ui/ledger.js, /ui/ledger.css
// and the fragments the script refreshes (/ui/part/ledger, /ui/part/node/{name}); pod views come from
// /explain?format=html. Every reply carries a strict Content-Security-Policy: scripts, styles and
// fetches from this origin only, no inline script or style, no framing, no form posts elsewhere —
// so even markup that slipped past escaping could not run.

import { readFileSync } from 'node:fs';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { ledgerView, nodeDetail } from '../../explain/ledger-view.js';
import type { LedgerQuery } from '../../explain/ledger-query.js';
import type { Pipeline } from '../../prioritize/pipeline.js';
import { HttpError } from '../body.js';
import { explainByName } from '../explain-by-name.js';
import { ledgerQueryOf } from '../ledger-api.js';
import { renderExplanationHtml } from './explain-html.js';
import type { ExplainOptions } from '../../explain/explain.js';
import { html, type Html } from './html.js';
import { renderLedger } from './ledger-html.js';
import { renderNode } from './node-html.js';
import { renderPage } from './page-html.js';
import { STYLE } from './style.js';

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Headers for everything the status port serves to browsers. */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
  next();
}

// Read once: the file sits next to this module in the sources and in dist/ (tsconfig.build.json copies it).
const SCRIPT = readFileSync(new URL('./assets/ledger.js', import.meta.url), 'utf8');

/** "node/<name>" or "pod/<ns>/<name>" (parts URL-encoded), as links write it. */
type Show = { kind: 'node'; name: string } | { kind: 'pod'; namespace: string; name: string };

function parseShow(raw: unknown): Show | null {
  if (typeof raw !== 'string' || raw === '' || raw.length > 600) return null;
  let parts: string[];
  try {
    parts = raw.split('/').map(decodeURIComponent);
  } catch {
    return null;
  }
  if (parts[0] === 'node' && parts.length === 2) return { kind: 'node', name: parts[1] };
  if (parts[0] === 'pod' && parts.length === 3) return { kind: 'pod', namespace: parts[1], name: parts[2] };
  return null;
}

function errorHtml(message: string): Html {
  return html`<p class="error">${message}</p>`;
}

export function pageRoutes(pipeline: Pipeline, ready: () => boolean, explainOptions: ExplainOptions = {}): Router {
  const state = pipeline.state;
  const r = Router();
  // Relative redirects: right behind any path prefix.
  r.get('/', (_req, res) => res.redirect(302, 'ui/'));
  r.use('/ui', securityHeaders);
  // Browsers ask for it; an empty answer keeps the console clean.
  r.get('/favicon.ico', (_req, res) => res.status(204).end());
  const send = (res: Response, h: Html) => res.status(200).type('text/html; charset=utf-8').send(h.text);

  const nodeFragment = (name: string, q: LedgerQuery): Html => {
    const n = nodeDetail(state, name);
    return n ? renderNode(n, q) : errorHtml(`node ${name} is not a GPU node in the ledger`);
  };
  const detailFragment = (show: Show | null, q: LedgerQuery): Html | null => {
    if (!show) return null;
    if (show.kind === 'node') return nodeFragment(show.name, q);
    try {
      return renderExplanationHtml(explainByName(pipeline, show.namespace, show.name, explainOptions));
    } catch (err) {
      if (err instanceof HttpError) return errorHtml(err.message);
      throw err;
    }
  };

  r.get('/ui', (req, res) => {
    // Express matches /ui and /ui/ alike; the page's relative links need the slash.
    if (!req.path.endsWith('/')) return res.redirect(302, `ui/${req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''}`);
    const q = ledgerQueryOf(req, state, ['show']);
    const show = parseShow(req.query.show);
    // A bad ?show= never breaks the page: the detail pane says what it could not show.
    const detail = show || req.query.show === undefined ? detailFragment(show, q) : errorHtml(`cannot show ${JSON.stringify(String(req.query.show).slice(0, 100))}: expected node/<name> or pod/<namespace>/<name>`);
    send(res, renderPage(ledgerView(state, q, ready()), q, show ? String(req.query.show) : null, detail));
  });
  r.get('/ui/part/ledger', (req, res) => {
    const q = ledgerQueryOf(req, state);
    send(res, renderLedger(ledgerView(state, q, ready()), q));
  });
  r.get('/ui/part/node/:name', (req, res) => {
    const name = String(req.params.name);
    const n = nodeDetail(state, name);
    if (!n) throw new HttpError(404, `node ${JSON.stringify(name.slice(0, 253))} is not a GPU node in the ledger`);
    send(res, renderNode(n, ledgerQueryOf(req, state)));
  });
  r.get('/ui/ledger.js', (_req, res) => res.status(200).type('text/javascript; charset=utf-8').send(SCRIPT));
  r.get('/ui/ledger.css', (_req, res) => res.status(200).type('text/css; charset=utf-8').send(STYLE));
  return r;
}
