// The same-run baseline: a minimal Node.js HTTP server that does what any extender must do at
// the least — read the body, JSON.parse it, and answer with every candidate name (JSON.stringify).
// gpu-ledger's latency divided by this one's is our overhead above parse and write.
// Usage: node baseline-server.js  (prints "listening on http://127.0.0.1:<port>")

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
    const reply = {
      NodeNames: args.NodeNames ?? null,
      Nodes: args.Nodes ?? null,
      FailedNodes: {},
      FailedAndUnresolvableNodes: {},
      Error: '',
    };
    const out = JSON.stringify(reply);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') process.stdout.write(`listening on http://127.0.0.1:${addr.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
