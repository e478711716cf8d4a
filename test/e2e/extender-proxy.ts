// A loopback HTTP proxy between kube-scheduler and gpu-ledger that can act at one exact moment of
// the protocol — e.g. just before a bind reaches gpu-ledger — so that races which are otherwise a
// matter of luck can be reproduced deterministically. Every request is passed on unchanged.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Hook = (verb: string, body: unknown) => Promise<void>;

export interface ExtenderProxy {
  url: string;
  /** verbs seen, in order (e.g. "filter", "bind") */
  seen: string[];
  close(): Promise<void>;
}

export async function startExtenderProxy(target: string, before: Hook): Promise<ExtenderProxy> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks);
        const verb = (req.url ?? '').replace(/^\//, '');
        seen.push(verb);
        try {
          await before(verb, raw.length ? JSON.parse(raw.toString('utf8')) : undefined);
          const r = await fetch(`${target}${req.url ?? ''}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: req.method === 'POST' ? raw : undefined });
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        } catch (err) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ Error: `extender proxy: ${err instanceof Error ? err.message : String(err)}` }));
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
