// Where `kubectl gpu-ledger` reads the ledger from: a running gpu-ledger's status port (directly
// with --server, or through the API server's service proxy with the user's kubeconfig), or snapshot
// files read here with the code `serve --snapshot` runs (no server at all). Every source answers
// with the same JSON the status port serves.

import { readFile } from 'node:fs/promises';
import { explainPod, type PodExplanation } from '../../explain/explain.js';
import { parseLedgerQuery, queryParams, QueryError, type LedgerQuery } from '../../explain/ledger-query.js';
import { ledgerView, type LedgerView } from '../../explain/ledger-view.js';
import type { LedgerConfig } from '../../model/config-types.js';
import { parseYaml } from '../../model/yaml.js';
import { Pipeline } from '../../prioritize/pipeline.js';
import { HttpError } from '../../server/body.js';
import { explainByName } from '../../server/explain-by-name.js';
import { loadSnapshotState } from '../snapshot-files.js';
import { UsageError } from '../usage-error.js';

export interface LedgerSource {
  /** Where it reads from, for messages. */
  readonly where: string;
  ledger(q: LedgerQuery): Promise<LedgerView>;
  explainByName(namespace: string, name: string): Promise<PodExplanation>;
  /** A pod file's text (YAML or JSON). */
  explainPod(text: string): Promise<PodExplanation>;
}

/** The answer of gpu-ledger (or of the API server in front of it) that is not what was asked for. */
export class SourceError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/** Every page of the ledger for a query, one request per page (pages are bounded by the server). */
export async function wholeLedger(source: LedgerSource, q: LedgerQuery): Promise<LedgerView> {
  const first = await source.ledger({ ...q, offset: 0 });
  const nodes = [...first.nodes];
  let next = first.nextOffset;
  while (next !== null) {
    const page = await source.ledger({ ...q, offset: next });
    nodes.push(...page.nodes);
    next = page.nextOffset;
  }
  return { ...first, offset: 0, limit: nodes.length, nextOffset: null, nodes };
}

export function ledgerPath(q: LedgerQuery): string {
  const p = queryParams(q).toString();
  return `/api/ledger${p ? `?${p}` : ''}`;
}

/** Offline: the snapshot files' ledger, built as `serve --snapshot` builds it. */
export async function snapshotSource(files: readonly string[], config: LedgerConfig): Promise<LedgerSource> {
  const state = await loadSnapshotState(files, config);
  const pipeline = new Pipeline(state);
  const pools = config.pools.map((p) => p.name);
  return {
    where: `snapshot ${files.join(', ')}`,
    async ledger(q) {
      // The same validation the server applies to its query parameters.
      try {
        parseLedgerQuery(Object.fromEntries(queryParams(q)), pools);
      } catch (err) {
        if (err instanceof QueryError) throw new UsageError(err.message);
        throw err;
      }
      return ledgerView(state, q, true);
    },
    async explainByName(namespace, name) {
      try {
        return explainByName(pipeline, namespace, name);
      } catch (err) {
        if (err instanceof HttpError) throw new SourceError(err.message, err.status);
        throw err;
      }
    },
    async explainPod(text) {
      let pod: unknown;
      try {
        pod = parseYaml(text);
      } catch (err) {
        throw new UsageError(`not a Pod in JSON or YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
      if (pod === null || typeof pod !== 'object' || (pod as { kind?: unknown }).kind !== 'Pod') throw new UsageError('expected a Pod (kind: Pod)');
      return explainPod(state.parse(pod), pipeline);
    },
  };
}

export async function readPodFile(file: string): Promise<string> {
  try {
    return file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
