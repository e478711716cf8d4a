// Bind in live mode: one API write. The pods/binding subresource copies the Binding's
// metadata.annotations onto the pod and checks metadata.uid as a precondition (BindingREST.Create →
// setPodNodeAndMetadata in kube-apiserver), so the GPU assignment and the node land in the same
// update: there is no state where the pod is annotated but unbound, or bound without its GPUs.
// No node-level locks and no writes to Node objects.
//
// The Binding goes out as one plain HTTPS request on client-node's credentials (./api-write.ts: half
// the CPU of the generated call); the rare read that settles an outcome stays on client-node.
//
// Outcomes: success; a 409 is settled by reading the pod (same UID bound to this node: success; bound
// elsewhere, recreated or gone: BindConflictError); other 4xx and refused connections: the write did
// not happen (Error); a timeout, a reset connection or a 5xx after the request was sent: the write may
// have happened (BindOutcomeUnknownError). The whole bind, reads included, runs under one deadline
// shorter than kube-scheduler's httpTimeout.

import { ApiException, CoreV1Api, type ConfigurationOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { BindConflictError, type Binder, type BindRequest } from '../state/sink.js';
import { BindOutcomeUnknownError } from './bind-outcome.js';
import { ApiWriter } from './api-write.js';
import { KeepAlivePool } from './keep-alive.js';
import { isTimeout, withSignal } from './timeouts.js';

export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export function messageOf(err: unknown, timeoutMs: number): string {
  if (isTimeout(err)) return `no answer within ${timeoutMs} ms (--bind-timeout)`;
  if (err instanceof ApiException) return `${err.code}: ${statusMessage(err.body) ?? err.message}`.slice(0, 500);
  return (err instanceof Error ? err.message : String(err)).slice(0, 500);
}

/** A Status body's message and its causes (client-node 1.x hands the body over as JSON text). */
function statusMessage(body: unknown): string | undefined {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      return b as string;
    }
  }
  const st = b as { message?: unknown; details?: { causes?: { message?: unknown }[] } } | null;
  if (!st || typeof st !== 'object' || typeof st.message !== 'string') return typeof body === 'string' ? body : undefined;
  const causes = (st.details?.causes ?? []).map((c) => c.message).filter((m): m is string => typeof m === 'string' && m !== '');
  return causes.length > 0 ? `${st.message} (${causes.join('; ')})` : st.message;
}

/** Errors raised before the request left this process: the API server never saw it. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);

/** Could the API server have applied the write? Yes for timeouts, resets and 5xx; no for 4xx and refused connections. */
export function mayHaveApplied(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined && status >= 400 && status < 500) return false;
  if (status !== undefined && status >= 500) return true;
  const code = (err as { code?: unknown; errno?: unknown } | null)?.code ?? (err as { errno?: unknown } | null)?.errno;
  return !(typeof code === 'string' && NOT_SENT.has(code));
}

export interface LiveBinderOptions {
  /** Deadline for the whole bind (Binding + any read), ms. Must stay below kube-scheduler's httpTimeout. */
  timeoutMs: number;
}

export class LiveBinder implements Binder {
  private readonly api: CoreV1Api;
  private readonly timeoutMs: number;
  /** Binds reuse connections (./keep-alive.ts): a handshake per bind cost more than the bind. */
  private readonly pool = new KeepAlivePool();
  private readonly writer: ApiWriter;

  constructor(kc: KubeConfig, opts: LiveBinderOptions) {
    this.api = kc.makeApiClient(CoreV1Api);
    this.writer = new ApiWriter(kc, this.pool);
    this.timeoutMs = opts.timeoutMs;
  }

  /** Per-call options: the bind's deadline, over a kept-alive connection. */
  private options(signal: AbortSignal): ConfigurationOptions {
    return { middleware: [...(withSignal(signal).middleware ?? []), ...(this.pool.options().middleware ?? [])], middlewareMergeStrategy: 'append' };
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.pool.close();
  }

  async bind(req: BindRequest): Promise<void> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const label = `${req.podNamespace}/${req.podName}`;
    try {
      const binding = {
        apiVersion: 'v1',
        kind: 'Binding',
        // uid: precondition (a pod recreated under the same name answers 409); annotations: copied onto the pod.
        metadata: { name: req.podName, namespace: req.podNamespace, uid: req.podUid, annotations: { ...req.annotations } },
        target: { apiVersion: 'v1', kind: 'Node', name: req.node },
      };
      const [ns, name] = [encodeURIComponent(req.podNamespace), encodeURIComponent(req.podName)];
      await this.writer.send('POST', `/api/v1/namespaces/${ns}/pods/${name}/binding`, JSON.stringify(binding), signal);
      return;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) throw new BindConflictError(`pod ${label} is gone`, null);
      if (status === 409) return this.settle(req, signal, `409 from the Binding (${messageOf(err, this.timeoutMs)})`, false);
      if (!mayHaveApplied(err)) throw new Error(`binding pod ${label}: ${messageOf(err, this.timeoutMs)}`);
      // The write may have happened: ask the API server while the deadline lasts.
      return this.settle(req, signal, `binding pod ${label}: ${messageOf(err, this.timeoutMs)}`, true);
    }
  }

  /**
   * Reads the pod to settle a 409 or an unknown outcome: same UID bound to this node is success,
   * bound elsewhere / recreated / gone is a conflict. Unbound after a 409 means the API refused
   * (e.g. the pod is being deleted); unbound after an unknown outcome, or no answer, stays unknown.
   */
  private async settle(req: BindRequest, signal: AbortSignal, cause: string, unknown: boolean): Promise<void> {
    const label = `${req.podNamespace}/${req.podName}`;
    let pod: V1Pod;
    try {
      pod = await this.api.readNamespacedPod({ name: req.podName, namespace: req.podNamespace }, this.options(signal));
    } catch (err) {
      if (statusOf(err) === 404) throw new BindConflictError(`pod ${label} is gone`, null);
      throw new BindOutcomeUnknownError(`${cause}; reading the pod: ${messageOf(err, this.timeoutMs)}`);
    }
    if (pod.metadata?.uid !== req.podUid) throw new BindConflictError(`pod ${label} was recreated (uid ${String(pod.metadata?.uid)})`, null);
    const boundTo = pod.spec?.nodeName || null;
    if (boundTo === req.node) throw new BindConflictError(`pod already bound to ${boundTo}`, boundTo);
    if (boundTo) throw new BindConflictError(`pod already bound to ${boundTo}, not ${req.node}`, boundTo);
    if (unknown) throw new BindOutcomeUnknownError(`${cause}; the pod is not bound yet`);
    throw new Error(`${cause}; the pod is not bound`);
  }
}
