// Bind in live mode: record the GPU assignment on the pod, then create the Binding. No node-level
// locks and no writes to Node objects. Idempotent: a 409 for a pod already bound to the same node
// is success.

import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { BindConflictError, type Binder, type BindRequest } from '../state/sink.js';

function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: unknown } | string | undefined;
    const msg = typeof body === 'object' && body && typeof body.message === 'string' ? body.message : typeof body === 'string' ? body : err.message;
    return `${err.code}: ${msg}`.slice(0, 500);
  }
  return err instanceof Error ? err.message : String(err);
}

export class LiveBinder implements Binder {
  private readonly api: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  async bind(req: BindRequest): Promise<void> {
    try {
      // The uid in the patch is a precondition: a pod recreated under the same name fails (409)
      // instead of being annotated by mistake.
      await this.api.patchNamespacedPod(
        { name: req.podName, namespace: req.podNamespace, body: { metadata: { uid: req.podUid, annotations: req.annotations } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) throw new BindConflictError(`pod ${req.podNamespace}/${req.podName} is gone`, null);
      if (status !== 409) throw new Error(`annotating pod ${req.podNamespace}/${req.podName}: ${messageOf(err)}`);
      await this.alreadyBound(req, err);
    }
    try {
      await this.api.createNamespacedPodBinding({
        name: req.podName,
        namespace: req.podNamespace,
        body: {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name: req.podName, namespace: req.podNamespace, uid: req.podUid },
          target: { apiVersion: 'v1', kind: 'Node', name: req.node },
        },
      });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) throw new BindConflictError(`pod ${req.podNamespace}/${req.podName} is gone`, null);
      if (status !== 409) throw new Error(`binding pod ${req.podNamespace}/${req.podName}: ${messageOf(err)}`);
      await this.alreadyBound(req, err);
    }
  }

  /** After a 409: success if the pod (same UID) is bound to the requested node, else a conflict. */
  private async alreadyBound(req: BindRequest, cause: unknown): Promise<void> {
    let pod;
    try {
      pod = await this.api.readNamespacedPod({ name: req.podName, namespace: req.podNamespace });
    } catch (err) {
      if (statusOf(err) === 404) throw new BindConflictError(`pod ${req.podNamespace}/${req.podName} is gone`, null);
      throw new Error(`reading pod ${req.podNamespace}/${req.podName} after ${messageOf(cause)}: ${messageOf(err)}`);
    }
    if (pod.metadata?.uid !== req.podUid) throw new BindConflictError(`pod ${req.podNamespace}/${req.podName} was recreated (uid ${pod.metadata?.uid})`, null);
    const boundTo = pod.spec?.nodeName ?? null;
    if (boundTo === req.node) throw new BindConflictError(`pod already bound to ${boundTo}`, boundTo);
    if (boundTo) throw new BindConflictError(`pod already bound to ${boundTo}, not ${req.node}`, boundTo);
    // 409 on the patch but not bound: a resourceVersion race on the annotation; the Binding decides.
  }
}
