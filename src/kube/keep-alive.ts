// Kept-alive connections for the calls gpu-ledger makes per pod (the Binding). @kubernetes/client-node
// 1.x gives every call a new https.Agent (KubeConfig.applySecurityAuthentication → createAgent), so
// each bind paid a TCP and TLS handshake — with a client certificate, on both sides, on the same
// cores as kube-scheduler and the API server: a bind took ~40 ms. A middleware put after client-node's
// own swaps that fresh agent for a kept-alive one with the same TLS settings (CA, client certificate
// and key, server name, verification), one per distinct setting, so rotated credentials get their
// own; a plain-HTTP agent (an API server on http://, which client-node allows with skipTLSVerify)
// gets one kept-alive plain agent. Proxy agents are left alone.

import http from 'node:http';
import https from 'node:https';
import { Observable, type ConfigurationOptions, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

/** The TLS settings of an agent that decide who we are and whom we trust. */
const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

function settingKey(options: https.AgentOptions): string {
  return JSON.stringify(TLS_KEYS.map((k) => {
    const v = options[k];
    if (Buffer.isBuffer(v)) return v.toString('base64');
    if (Array.isArray(v)) return v.map((x) => (Buffer.isBuffer(x) ? x.toString('base64') : x));
    return v ?? null;
  }));
}

export class KeepAlivePool {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly maxSockets = 16) {}

  /** The kept-alive agent standing in for `fresh`, or `fresh` itself when it is neither a plain https.Agent nor a plain http.Agent. */
  agentFor(fresh: unknown): unknown {
    const tls = fresh instanceof https.Agent && fresh.constructor === https.Agent;
    if (!tls && !(fresh instanceof http.Agent && fresh.constructor === http.Agent)) return fresh;
    const key = tls ? settingKey(fresh.options) : 'http';
    let agent = this.agents.get(key);
    if (!agent) {
      // Few settings ever exist (one per credential in use); never let a churn of them grow this.
      if (this.agents.size >= 8) this.close();
      if (tls) {
        const o = fresh.options;
        agent = new https.Agent({ keepAlive: true, maxSockets: this.maxSockets, ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase, rejectUnauthorized: o.rejectUnauthorized, servername: o.servername });
      } else agent = new http.Agent({ keepAlive: true, maxSockets: this.maxSockets });
      this.agents.set(key, agent);
    }
    (fresh as http.Agent).destroy();
    return agent;
  }

  /** Per-call options (append after others): the call goes over a kept-alive connection. */
  options(): ConfigurationOptions {
    return {
      middleware: [
        {
          pre: (ctx: RequestContext) => {
            ctx.setAgent(this.agentFor(ctx.getAgent()) as https.Agent);
            return new Observable(Promise.resolve(ctx));
          },
          post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
        },
      ],
      middlewareMergeStrategy: 'append',
    };
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}
