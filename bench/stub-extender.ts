// The zero-logic extender of the scheduler benchmark: filter passes every node, prioritize scores
// every node 0, no bind verb (kube-scheduler binds). What any extender costs kube-scheduler at the
// least: one HTTP round trip per verb with the candidate list parsed and written back.
// Usage: node stub-extender.js  (prints "listening on http://127.0.0.1:<port>")

import http from 'node:http';

interface Args {
  NodeNames?: string[] | null;
  Nodes?: { items?: unknown[] } | null;
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let args: Args;
    try {
      args = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Args;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"Error":"bad json"}');
      return;
    }
    const path = req.url ?? '';
    let out: string;
    if (path.endsWith('/filter')) out = JSON.stringify({ Nodes: args.Nodes ?? null, NodeNames: args.NodeNames ?? null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' });
    else if (path.endsWith('/prioritize')) out = JSON.stringify((args.NodeNames ?? []).map((Host) => ({ Host, Score: 0 })));
    else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"Error":"no such verb"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') process.stdout.write(`listening on http://127.0.0.1:${addr.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
