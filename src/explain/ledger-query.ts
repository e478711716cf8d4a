// Which part of the ledger a reader asks for: filters by node, pool, sharing mode and namespace,
// and a page of nodes. Every reader (GET /api/ledger, the page, `kubectl gpu-ledger`) goes through
// parseLedgerQuery, so a 15,000-node cluster is always read a bounded page at a time and bad values
// are refused with the parameter and the value, never silently ignored.

import { SHARING_MODES } from '../gpu/modes.js';
import { MAX_NAME } from '../model/limits.js';

/** Nodes per page when the reader does not say; and the most one page may hold. */
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 500;
/** Beyond any real cluster (the largest run 65,000 nodes): a larger offset is a mistake. */
export const MAX_OFFSET = 1_000_000;
/** Pods listed per GPU: by default, and at most (the count is always exact). */
export const DEFAULT_PODS_PER_GPU = 16;
export const MAX_PODS_PER_GPU_LISTED = 512;
/** limit × pods: what one page may list, so a dump of a large cluster is paged, never one huge reply. */
export const MAX_PAGE_PODS = 16_384;

export interface LedgerQuery {
  /** Part of a node name (case-insensitive). */
  node: string | null;
  /** A pool of the config file, by name (the first pool whose selector matches the node). */
  pool: string | null;
  mode: string | null;
  /** Only nodes holding a pod of this namespace, and only that namespace's pods. */
  namespace: string | null;
  limit: number;
  offset: number;
  /** Pods listed per GPU. */
  pods: number;
}

export const LEDGER_QUERY_KEYS = ['node', 'pool', 'mode', 'namespace', 'limit', 'offset', 'pods'] as const;

export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}

function show(v: string): string {
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
}

function whole(field: string, raw: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new QueryError(`${field} ${show(raw)} must be a whole number from ${min} to ${max}`);
  return Number(raw);
}

/**
 * Reads a query from URL parameters (or CLI flags). `extra`: parameters the caller handles itself
 * (the page's `show`, explain's `format`); any other unknown key is an error naming it.
 */
export function parseLedgerQuery(params: Readonly<Record<string, unknown>>, pools: readonly string[], extra: readonly string[] = []): LedgerQuery {
  for (const key of Object.keys(params)) {
    if (!(LEDGER_QUERY_KEYS as readonly string[]).includes(key) && !extra.includes(key)) {
      throw new QueryError(`unknown query parameter ${show(key)} (known: ${LEDGER_QUERY_KEYS.join(', ')})`);
    }
  }
  const text = (field: string): string | null => {
    const v = params[field];
    if (v === undefined) return null;
    if (typeof v !== 'string') throw new QueryError(`${field} must be given once, as text`);
    if (v.length > MAX_NAME) throw new QueryError(`${field} ${show(v)} is longer than ${MAX_NAME} characters`);
    return v.trim() === '' ? null : v.trim();
  };
  const mode = text('mode');
  if (mode !== null && !(SHARING_MODES as readonly string[]).includes(mode)) throw new QueryError(`mode ${show(mode)} is not one of ${SHARING_MODES.join(', ')}`);
  const pool = text('pool');
  if (pool !== null && !pools.includes(pool)) {
    throw new QueryError(`pool ${show(pool)} is not a pool of the config file${pools.length ? ` (${pools.join(', ')})` : ' (it defines none)'}`);
  }
  const limitText = text('limit');
  const offset = text('offset');
  const podsText = text('pods');
  const limit = limitText === null ? DEFAULT_PAGE : whole('limit', limitText, 1, MAX_PAGE);
  const pods = podsText === null ? DEFAULT_PODS_PER_GPU : whole('pods', podsText, 0, MAX_PODS_PER_GPU_LISTED);
  if (limit * pods > MAX_PAGE_PODS) throw new QueryError(`limit ${limit} × pods ${pods} lists more than ${MAX_PAGE_PODS} pods per GPU row: ask for fewer nodes per page (offset pages on)`);
  return {
    node: text('node'),
    pool,
    mode,
    namespace: text('namespace'),
    limit,
    offset: offset === null ? 0 : whole('offset', offset, 0, MAX_OFFSET),
    pods,
  };
}

/** The query as URL parameters (defaults left out): links to the same view, the next page. */
export function queryParams(q: LedgerQuery, change: Partial<LedgerQuery> = {}): URLSearchParams {
  const v = { ...q, ...change };
  const out = new URLSearchParams();
  for (const k of ['node', 'pool', 'mode', 'namespace'] as const) if (v[k]) out.set(k, v[k]);
  if (v.limit !== DEFAULT_PAGE) out.set('limit', String(v.limit));
  if (v.offset > 0) out.set('offset', String(v.offset));
  if (v.pods !== DEFAULT_PODS_PER_GPU) out.set('pods', String(v.pods));
  return out;
}
