// A TCP gate in front of the real kube-apiserver. Closed, it holds what clients send — new
// connections and new requests on open ones — as a stalled API server would; open, bytes pass
// through unchanged (TLS end to end). Answers to requests already sent keep flowing, so watches
// stay up. Gives a test control over when gpu-ledger's calls reach the API server.

import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import yaml from 'js-yaml';

export interface ApiGate {
  /** a copy of the given kubeconfig whose server is the gate */
  kubeconfig: string;
  open(): void;
  hold(): void;
  close(): Promise<void>;
}

export async function startApiGate(kubeconfig: string, out: string, initiallyOpen = false): Promise<ApiGate> {
  const kc = yaml.load(readFileSync(kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  const target = new URL(kc.clusters[0].cluster.server);
  let isOpen = initiallyOpen;
  const pending: { to: net.Socket; chunk: Buffer }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => (isOpen ? upstream.write(chunk) : pending.push({ to: upstream, chunk })));
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  kc.clusters[0].cluster.server = `https://127.0.0.1:${port}`;
  writeFileSync(out, yaml.dump(kc));
  return {
    kubeconfig: out,
    open: () => {
      isOpen = true;
      for (const { to, chunk } of pending.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    hold: () => {
      isOpen = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
