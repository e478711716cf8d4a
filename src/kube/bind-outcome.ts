// Kept apart from binder.ts so the server can recognise the error without loading the Kubernetes
// client (snapshot mode never does).

/**
 * The Binding request may have reached the API server, and whether the pod is now bound is not
 * known (timeout, connection reset, 5xx). The caller must keep the pod's GPUs accounted until the
 * API server's own view (watch or relist) settles it: releasing them could hand the same GPU out twice.
 */
export class BindOutcomeUnknownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BindOutcomeUnknownError';
  }
}
