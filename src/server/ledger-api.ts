// GET /api/ledger (a filtered page of nodes) and GET /api/ledger/nodes/{name} (one node, every pod)
// on the read-only status port: the JSON the page, `kubectl gpu-ledger` and the tests read.

import { Router, type Request, type Response } from 'express';
import { parseLedgerQuery, QueryError, type LedgerQuery } from '../explain/ledger-query.js';
import { ledgerView, nodeDetail } from '../explain/ledger-view.js';
import type { ClusterState } from '../state/cluster-state.js';
import { HttpError } from './body.js';

/** The request's query as a LedgerQuery; a 400 naming the parameter and the value otherwise. */
export function ledgerQueryOf(req: Request, state: ClusterState, extra: readonly string[] = []): LedgerQuery {
  try {
    return parseLedgerQuery(req.query as Record<string, unknown>, state.config.pools.map((p) => p.name), extra);
  } catch (err) {
    if (err instanceof QueryError) throw new HttpError(400, err.message);
    throw err;
  }
}

export function ledgerApi(state: ClusterState, ready: () => boolean): Router {
  const r = Router();
  const json = (res: Response, body: unknown) => res.status(200).type('application/json').send(JSON.stringify(body));
  r.get('/api/ledger', (req, res) => json(res, ledgerView(state, ledgerQueryOf(req, state), ready())));
  r.get('/api/ledger/nodes/:name', (req, res) => {
    const name = String(req.params.name);
    const node = nodeDetail(state, name);
    if (!node) throw new HttpError(404, `node ${JSON.stringify(name.slice(0, 253))} is not a GPU node in the ledger`);
    json(res, node);
  });
  return r;
}
