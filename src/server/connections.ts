// Graceful shutdown of one listener: stop accepting, let requests in flight finish, and close every
// other connection at once — idle keep-alive connections, connections that never sent a request,
// and each connection as soon as its last request in flight is answered. Node's own
// closeIdleConnections() only closes connections that have already served a request, and only
// those idle at the moment it is called, so a silent connection or one that finishes its request
// after SIGTERM would otherwise hold the process until the forced close.
//
// Connections are keyed by the peer's address and port: the same for the TCP socket
// ('connection') and the socket a request arrives on (for HTTPS, the TLS socket over it).

import type http from 'node:http';
import type net from 'node:net';

function keyOf(s: net.Socket): string {
  return `${s.remoteAddress}|${s.remotePort}`;
}

export class ConnectionTracker {
  private readonly sockets = new Map<string, net.Socket>();
  private readonly inFlight = new Map<string, number>();
  private draining = false;

  constructor(private readonly server: http.Server) {
    server.on('connection', (s: net.Socket) => {
      const k = keyOf(s);
      this.sockets.set(k, s);
      s.once('close', () => {
        if (this.sockets.get(k) === s) this.sockets.delete(k);
        this.inFlight.delete(k);
      });
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const k = keyOf(req.socket);
      this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
      res.once('close', () => {
        const left = (this.inFlight.get(k) ?? 1) - 1;
        if (left > 0) this.inFlight.set(k, left);
        else this.inFlight.delete(k);
        // Answered while shutting down: end the connection instead of keeping it alive.
        if (this.draining && left <= 0) this.sockets.get(k)?.end();
      });
    });
  }

  /** Connections open now. */
  get size(): number {
    return this.sockets.size;
  }

  /** Stops accepting; resolves when every connection is closed. */
  drain(): Promise<void> {
    this.draining = true;
    return new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      for (const [k, s] of this.sockets) if (!this.inFlight.get(k)) s.destroy();
    });
  }

  /** The forced end: every connection, in flight or not. */
  destroyAll(): void {
    for (const s of this.sockets.values()) s.destroy();
  }
}
