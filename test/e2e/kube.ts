// The test's own view of the real API server (admin credentials): objects from the repository's
// YAML files, creation, waits, FailedScheduling events, and cleanup between scenario files.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type CoreV1Event, type V1Node, type V1Pod } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { REPO } from './control-plane.js';
import { until } from './wait.js';

export type Obj = Record<string, unknown> & { metadata?: Record<string, unknown> };

export function kubeConfigFrom(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

/** A Node of examples/demo-cluster.yaml, as a create request (status included, no uid). */
export function demoNode(name: string): V1Node {
  const list = yaml.load(readFileSync(join(REPO, 'examples/demo-cluster.yaml'), 'utf8')) as { items: Obj[] };
  const node = list.items.find((i) => i.kind === 'Node' && i.metadata?.name === name);
  if (!node) throw new Error(`examples/demo-cluster.yaml has no node ${name}`);
  return strip(node) as V1Node;
}

/** A node of examples/demo-cluster.yaml under another name (its hostname label too). */
export function demoNodeAs(template: string, name: string): V1Node {
  const n = demoNode(template);
  n.metadata = { ...n.metadata, name, labels: { ...n.metadata!.labels, 'kubernetes.io/hostname': name } };
  return n;
}

/** A pod of examples/pods/<file> in `namespace`, renamed; uid and resourceVersion removed. */
export function examplePod(file: string, namespace: string, name?: string): V1Pod {
  const pod = strip(yaml.load(readFileSync(join(REPO, 'examples/pods', file), 'utf8')) as Obj) as V1Pod;
  pod.metadata!.namespace = namespace;
  if (name) pod.metadata!.name = name;
  return pod;
}

function strip(o: Obj): Obj {
  const copy = structuredClone(o);
  const md = { ...(copy.metadata ?? {}) };
  delete md.uid;
  delete md.resourceVersion;
  copy.metadata = md;
  return copy;
}

/** An example pod with changes: annotations merged, GPU limits replaced, the scheduler named. */
export function variant(file: string, namespace: string, name: string, o: { schedulerName: string; annotations?: Record<string, string>; limits?: Record<string, string>; env?: Record<string, string> }): V1Pod {
  const pod = examplePod(file, namespace, name);
  pod.spec!.schedulerName = o.schedulerName;
  if (o.annotations) pod.metadata!.annotations = { ...(pod.metadata!.annotations ?? {}), ...o.annotations };
  const c = pod.spec!.containers[0];
  if (o.limits) c.resources = { limits: o.limits };
  if (o.env) c.env = Object.entries(o.env).map(([name, value]) => ({ name, value }));
  return pod;
}

/** An MPS pod: one container, `mem` as CUDA_MPS_PINNED_DEVICE_MEM_LIMIT (e.g. "0=40G"). */
export function mpsPod(namespace: string, name: string, schedulerName: string, o: { mem: string; threads?: number; gpus?: Record<string, string> }): V1Pod {
  const env = [{ name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: o.mem }];
  if (o.threads !== undefined) env.push({ name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: String(o.threads) });
  const limits = o.gpus ?? { 'nvidia.com/gpu': '1' };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { schedulerName, containers: [{ name: 'worker', image: 'example/worker:1', env, resources: { limits } }] },
  };
}

export class Cluster {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;

  constructor(kubeconfig: string) {
    this.kc = kubeConfigFrom(kubeconfig);
    this.core = this.kc.makeApiClient(CoreV1Api);
  }

  /**
   * Scenario files share one control plane: each starts from a cluster without nodes or pods, so
   * event texts ("0/N nodes are available") and the ledger count only its own objects. There is no
   * kubelet, so pods are deleted with grace period 0 (else they wait for one forever).
   */
  async reset(): Promise<void> {
    const pods = await this.core.listPodForAllNamespaces();
    await Promise.all(pods.items.map((p) => this.forceDelete(p.metadata!.namespace!, p.metadata!.name!)));
    const nodes = await this.core.listNode();
    await Promise.all(nodes.items.map((n) => this.deleteNode(n.metadata!.name!)));
    await until(async () => (await this.core.listPodForAllNamespaces()).items.length === 0 && (await this.core.listNode()).items.length === 0, 'an empty cluster');
  }

  /** A fresh namespace (namespace deletion never finishes without a controller-manager). */
  async namespace(prefix: string): Promise<string> {
    const name = `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e4)}`;
    await this.core.createNamespace({ body: { metadata: { name } } });
    return name;
  }

  async createNode(node: V1Node): Promise<V1Node> {
    return this.core.createNode({ body: node });
  }

  async deleteNode(name: string): Promise<void> {
    await this.core.deleteNode({ name }).catch(ignore404);
  }

  async createPod(pod: V1Pod): Promise<V1Pod> {
    return this.core.createNamespacedPod({ namespace: pod.metadata!.namespace!, body: pod });
  }

  async pod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return this.core.readNamespacedPod({ namespace, name }).catch((err: unknown) => {
      if (statusOf(err) === 404) return undefined;
      throw err;
    });
  }

  async forceDelete(namespace: string, name: string): Promise<void> {
    await this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch(ignore404);
  }

  /** Waits until the pod is gone from the API (a delete is not instant). */
  async deleted(namespace: string, name: string): Promise<void> {
    await until(async () => (await this.pod(namespace, name)) === undefined, `pod ${namespace}/${name} deleted`);
  }

  /** Waits for the pod to be bound; returns its node. */
  async bound(namespace: string, name: string, timeoutMs = 30_000): Promise<string> {
    return until(async () => (await this.pod(namespace, name))?.spec?.nodeName, `pod ${namespace}/${name} bound`, timeoutMs);
  }

  /**
   * The FailedScheduling events of one pod (by UID: a recreated pod has other events), ordered by
   * when each was last observed: kube-scheduler counts a repeated message into the existing event's
   * series, so the last one is what `kubectl describe pod` shows as the latest.
   */
  async failedScheduling(namespace: string, uid: string): Promise<CoreV1Event[]> {
    const l = await this.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.uid=${uid},reason=FailedScheduling` });
    const ms = (t: unknown) => (t === undefined || t === null ? 0 : new Date(t as string | Date).getTime());
    const at = (e: CoreV1Event) => ms(e.series?.lastObservedTime) || ms(e.eventTime) || ms(e.lastTimestamp) || ms(e.firstTimestamp);
    return l.items.sort((a, b) => at(a) - at(b));
  }

  /** Waits for a FailedScheduling event of the pod; returns the messages (see failedScheduling for the order). */
  async failedSchedulingMessages(namespace: string, name: string, timeoutMs = 30_000): Promise<string[]> {
    return until(
      async () => {
        const p = await this.pod(namespace, name);
        if (!p) return undefined;
        const evs = await this.failedScheduling(namespace, p.metadata!.uid!);
        return evs.length > 0 ? evs.map((e) => e.message ?? '') : undefined;
      },
      `a FailedScheduling event for ${namespace}/${name}`,
      timeoutMs,
    );
  }
}

export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function ignore404(err: unknown): void {
  if (statusOf(err) !== 404) throw err;
}
