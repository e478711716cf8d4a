// The seam between event sources (snapshot files, informers) and the ledger. Live mode and
// snapshot mode differ only in who calls these methods and which Binder the server uses.

/** Receives cluster objects as plain API JSON (or @kubernetes/client-node model objects). */
export interface ClusterSink {
  /** Initial list or relist: after this call the ledger holds exactly these nodes. */
  resetNodes(nodes: readonly unknown[]): void;
  /**
   * Initial list or relist of pods that hold a node: afterwards the ledger holds exactly these
   * bound pods, plus reservations made by this process that have not expired, plus pods this
   * process bound after `listStartedAt` (the LIST may predate their Binding; the watch that
   * follows the list delivers them).
   */
  resetPods(pods: readonly unknown[], listStartedAt?: number): void;
  upsertNode(node: unknown): void;
  deleteNode(name: string): void;
  /** A pod added or changed. Terminal phase or no spec.nodeName → its allocation is released. */
  upsertPod(pod: unknown): void;
  /** A pod deleted (keyed by UID: a recreated pod with the same name is another pod). */
  deletePod(uid: string): void;
}

export interface BindRequest {
  podName: string;
  podNamespace: string;
  podUid: string;
  node: string;
  /** GPU indexes chosen by the extender, in the order the container will see them. */
  gpus: readonly number[];
  /** Annotations recording the assignment (`gpu-ledger.io/...`), written onto the pod before binding. */
  annotations: Readonly<Record<string, string>>;
}

/** Makes a bind real: in snapshot mode nothing beyond the ledger; in live mode PATCH + pods/binding. */
export interface Binder {
  bind(req: BindRequest): Promise<void>;
}

/** Thrown by a Binder when the API says the pod is already bound to another node, or is gone. */
export class BindConflictError extends Error {
  constructor(
    message: string,
    readonly boundTo: string | null,
  ) {
    super(message);
    this.name = 'BindConflictError';
  }
}
