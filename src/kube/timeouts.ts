// Deadlines on every API call. @kubernetes/client-node 1.x has no timeout option (kubernetes-client/
// javascript#1613), but each generated call takes per-call ConfigurationOptions whose middleware
// sees the RequestContext, and `RequestContext.setSignal` reaches node-fetch: an AbortSignal there
// aborts the request and the body read. Watch takes no options; its fetch options come from the
// KubeConfig, so a KubeConfig whose fetch options carry node-fetch's `timeout` bounds the watch
// from the socket to the response headers (the stream itself may then stay open: the reflector's
// watchdog bounds its silence).

import { KubeConfig, Observable, type ConfigurationOptions, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

/** Per-call options that abort the request when `signal` fires. */
export function withSignal(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/** Per-call options with a deadline of `ms`. */
export function withTimeout(ms: number): ConfigurationOptions {
  return withSignal(AbortSignal.timeout(ms));
}

/** The same cluster and credentials; every fetch it configures gives up after `ms` without response headers. */
export function withConnectTimeout(kc: KubeConfig, ms: number): KubeConfig {
  const timed = Object.create(kc) as KubeConfig;
  timed.applyToFetchOptions = async (opts) => ({ ...(await kc.applyToFetchOptions(opts)), timeout: ms });
  return timed;
}

/** True when `err` is the abort of a call whose deadline passed (node-fetch's AbortError or its request-timeout). */
export function isTimeout(err: unknown): boolean {
  const e = err as { name?: unknown; type?: unknown } | null;
  return e?.name === 'AbortError' || e?.name === 'TimeoutError' || e?.type === 'request-timeout' || e?.type === 'aborted';
}
