// A TCP gate in front of the real kube-apiserver: while closed, connections are accepted and held
// (a slow or stalled API server, as gpu-ledger meets it on start in a large cluster); opened, they
// are passed through byte for byte (TLS end to end). Gives a test control over how long
// gpu-ledger's initial list takes.

import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import yaml from 'js-yaml';

export interface ApiGate {
  /** a copy of the given kubeconfig whose server is the gate */
  kubeconfig: string;
  open(): void;
  close(): Promise<void>;
}

export async function startApiGate(kubeconfig: string, out: string): Promise<ApiGate> {
  const kc = yaml.load(readFileSync(kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  const target = new URL(kc.clusters[0].cluster.server);
  let isOpen = false;
  const held: net.Socket[] = [];
  const sockets = new Set<net.Socket>();
  const pass = (client: net.Socket) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  };
  const server = net.createServer((client) => {
    sockets.add(client);
    client.pause();
    if (isOpen) pass(client);
    else held.push(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  kc.clusters[0].cluster.server = `https://127.0.0.1:${port}`;
  writeFileSync(out, yaml.dump(kc));
  return {
    kubeconfig: out,
    open: () => {
      isOpen = true;
      for (const c of held.splice(0)) pass(c);
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
