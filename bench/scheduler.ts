// `npm run bench:scheduler`: kube-scheduler's throughput with gpu-ledger, on a real control plane
// (etcd + kube-apiserver 1.30 + kube-scheduler 1.30.6 from ../shared/k8s, README "End-to-end
// tests"). Same run, same cluster of MPS nodes, three extenders behind the shipped
// deploy/scheduler-config/second-scheduler.yaml (changed only in kubeconfig, extender URL, leader
// election off, and the client's qps/burst):
//   stub            — zero-logic extender: filter passes all, prioritize 0, kube-scheduler binds;
//   gpu-ledger      — without its bind verb (kube-scheduler binds);
//   gpu-ledger+bind — with its bind verb (gpu-ledger writes the Binding).
// Each run: the pods are created while no scheduler runs, then kube-scheduler starts and binds
// them; pods/s = (pods − 1) / (last bind − first bind), each bind timed by a pods watch. Between
// runs the pods and kube-scheduler's Events are deleted, so every run starts from the same empty
// cluster. Per cluster size: a discarded warm-up run, then `--repeat` rounds of the three, in an
// order that rotates per round, each with a fresh extender process; the summary gives per
// extender the median pods/s and the median of its per-round ratios to the stub.
//
//   npm run bench:scheduler -- [--nodes 1000,5000] [--pods 1000] [--qps 1000] [--repeat 3] [--json file]
//   GPU_LEDGER_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=prof" npm run bench:scheduler   # profile gpu-ledger
//
// Without the control plane it prints why and exits 0. Not part of `npm test` (minutes).

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseYaml } from '../src/model/yaml.js';
import { Api, controlPlane, locateControlPlane } from './kube-api.js';
import { startLedger, startReference, verbMeans } from './processes.js';
import { median } from '../src/cli/replay/report.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const repo = resolve(here, '..', '..');
const SHIPPED = join(repo, 'deploy', 'scheduler-config', 'second-scheduler.yaml');

type Rec = Record<string, unknown>;
export type Variant = 'stub' | 'gpu-ledger' | 'gpu-ledger+bind';

export interface SchedulerRun {
  variant: Variant;
  nodes: number;
  pods: number;
  round: number;
  /** (pods − 1) / (last bind − first bind). */
  podsPerSec: number;
  /** From kube-scheduler's start to the last bind. */
  wallSec: number;
  /** Pods that carry gpu-ledger's assignment annotations (its bind wrote them). */
  annotated: number;
  /** gpu-ledger's own mean time per verb (its /metrics), ms; absent for the stub. */
  verbMeanMs?: Record<string, number>;
  /** CPU time per bound pod (ms) of each process, from kube-scheduler's start to the last bind (/proc/<pid>/stat). */
  cpuMsPerPod: { extender: number; scheduler: number; apiserver: number; etcd: number; /** of which in the kernel (loopback TCP is processed in the sender's system calls) */ extenderSystem: number };
}

/** CPU seconds (user + system, or system only) a process has used so far; 0 when it cannot be read. */
function cpuSeconds(pid: number | undefined, systemOnly = false): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 (clock ticks, 100 per second on Linux).
    return ((systemOnly ? 0 : Number(fields[11])) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function pidOf(dir: string, name: string): number | undefined {
  try {
    return Number(readFileSync(join(dir, 'run', `${name}.pid`), 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The shipped configuration, adapted for this run only where it must be. */
export function adaptConfig(shipped: Rec, o: { kubeconfig: string; url: string; bind: boolean; qps: number }): Rec {
  const c = structuredClone(shipped);
  c.clientConnection = { ...((c.clientConnection as Rec | undefined) ?? {}), kubeconfig: o.kubeconfig, qps: o.qps, burst: o.qps };
  c.leaderElection = { ...((c.leaderElection as Rec | undefined) ?? {}), leaderElect: false };
  const extenders = c.extenders as Rec[];
  if (extenders.length !== 1) throw new Error(`${SHIPPED}: expected one extender, found ${extenders.length}`);
  extenders[0].urlPrefix = o.url;
  if (!o.bind) delete extenders[0].bindVerb;
  return c;
}

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function stop(child: ChildProcess | null): Promise<void> {
  return new Promise((res) => {
    if (!child || child.exitCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

/** A GB10-like MPS node (examples/demo-cluster.yaml spark-01), created with its status. */
function node(name: string): Rec {
  const capacity = { cpu: '20', memory: '128Gi', pods: '110', 'nvidia.com/gpu': '10' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.product': 'NVIDIA-GB10', 'nvidia.com/gpu.replicas': '10', 'nvidia.com/gpu.sharing-strategy': 'mps' },
      annotations: { 'gpu-ledger.io/gpu-memory': '128Gi' },
    },
    status: { capacity, allocatable: capacity },
  };
}

/** A one-GPU MPS pod: 8 GB pinned, 10 % of the threads. */
function pod(namespace: string, name: string, schedulerName: string): Rec {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: {
      schedulerName,
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'worker',
          image: 'example/worker:1',
          env: [
            { name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: '0=8G' },
            { name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: '10' },
          ],
          resources: { limits: { 'nvidia.com/gpu': '1' }, requests: { cpu: '100m', memory: '256Mi' } },
        },
      ],
    },
  };
}

interface Env {
  script: string;
  dir: string;
  work: string;
  kubeconfig: string;
  api: Api;
  shipped: Rec;
  schedulerName: string;
  qps: number;
}

let namespaces = 0;

async function runOnce(e: Env, variant: Variant, url: string, nodes: number, pods: number, round: number, statusUrl: string | null, extenderPid: number | undefined): Promise<SchedulerRun> {
  const ns = `sched-bench-${Date.now().toString(36)}-${++namespaces}`;
  await e.api.ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const names = Array.from({ length: pods }, (_, i) => `p-${String(i).padStart(5, '0')}`);
  await Api.each(names, 32, (n) => e.api.ok('POST', `/api/v1/namespaces/${ns}/pods`, pod(ns, n, e.schedulerName)));
  const list = (await e.api.ok('GET', `/api/v1/namespaces/${ns}/pods?limit=1`)) as { metadata: { resourceVersion: string } };
  const binds: number[] = [];
  let done: () => void = () => {};
  const all = new Promise<void>((r) => (done = r));
  const stopWatch = e.api.watchBinds(ns, list.metadata.resourceVersion, (_n, at) => {
    binds.push(at);
    if (binds.length === pods) done();
  });
  const before = statusUrl ? await verbMeans(statusUrl) : null;
  const cfg = join(e.work, `scheduler-${variant}-${nodes}-${round}.json`);
  writeFileSync(cfg, JSON.stringify(adaptConfig(e.shipped, { kubeconfig: e.kubeconfig, url, bind: variant === 'gpu-ledger+bind', qps: e.qps })));
  const launched = performance.now();
  const procs = { extender: extenderPid, apiserver: pidOf(e.dir, 'apiserver'), etcd: pidOf(e.dir, 'etcd') };
  const cpu0 = { extender: cpuSeconds(procs.extender), extenderSystem: cpuSeconds(procs.extender, true), apiserver: cpuSeconds(procs.apiserver), etcd: cpuSeconds(procs.etcd) };
  await controlPlane(e.script, ['scheduler', e.dir, cfg], { CONTROL_PLANE_SCHEDULER_V: '1' });
  const schedulerPid = pidOf(e.dir, 'scheduler');
  let cpu: SchedulerRun['cpuMsPerPod'];
  try {
    await Promise.race([all, new Promise((_r, rej) => setTimeout(() => rej(new Error(`${variant}: only ${binds.length} of ${pods} pods bound after 600 s`)), 600_000).unref())]);
    const per = (s: number) => (s * 1000) / pods;
    cpu = {
      extender: per(cpuSeconds(procs.extender) - cpu0.extender),
      extenderSystem: per(cpuSeconds(procs.extender, true) - cpu0.extenderSystem),
      scheduler: per(cpuSeconds(schedulerPid)),
      apiserver: per(cpuSeconds(procs.apiserver) - cpu0.apiserver),
      etcd: per(cpuSeconds(procs.etcd) - cpu0.etcd),
    };
  } finally {
    stopWatch();
    await controlPlane(e.script, ['scheduler-stop', e.dir]);
  }
  binds.sort((a, b) => a - b);
  const sample = (await e.api.ok('GET', `/api/v1/namespaces/${ns}/pods`)) as { items: { metadata: { annotations?: Record<string, string> } }[] };
  const annotated = sample.items.filter((p) => p.metadata.annotations?.['gpu-ledger.io/gpus'] !== undefined).length;
  let verbMeanMs: Record<string, number> | undefined;
  if (statusUrl && before) {
    const after = await verbMeans(statusUrl);
    verbMeanMs = {};
    for (const [verb, a] of Object.entries(after)) {
      const b = before[verb] ?? { sum: 0, count: 0 };
      if (a.count > b.count) verbMeanMs[verb] = ((a.sum - b.sum) / (a.count - b.count)) * 1000;
    }
  }
  // Empty the cluster again: every run starts from the same state.
  await e.api.ok('DELETE', `/api/v1/namespaces/${ns}/pods?gracePeriodSeconds=0`);
  await until(async () => ((await e.api.ok('GET', `/api/v1/namespaces/${ns}/pods?limit=1`)) as { items: unknown[] }).items.length === 0, `pods of ${ns} deleted`, 300_000);
  // And the Events kube-scheduler wrote (one per binding): nothing collects them here, and a growing
  // store slowed later runs (the 2026-12-01 night run's control plane lost a third of its speed).
  await e.api.ok('DELETE', `/api/v1/namespaces/${ns}/events`);
  const span = (binds[binds.length - 1] - binds[0]) / 1000;
  return { variant, nodes, pods, round, podsPerSec: (pods - 1) / span, wallSec: (binds[binds.length - 1] - launched) / 1000, annotated, ...(verbMeanMs ? { verbMeanMs } : {}), cpuMsPerPod: cpu };
}

const VARIANTS: readonly Variant[] = ['stub', 'gpu-ledger', 'gpu-ledger+bind'];

/** One run with its own extender process, stopped afterwards. */
async function runWith(e: Env, variant: Variant, nodes: number, pods: number, round: number, kubeconfig: string): Promise<SchedulerRun> {
  const ext = variant === 'stub' ? { ...(await startReference('stub-extender.js')), statusUrl: null } : await startLedger(['--kubeconfig', kubeconfig]);
  try {
    return await runOnce(e, variant, ext.url, nodes, pods, round, ext.statusUrl, ext.child.pid);
  } finally {
    await stop(ext.child);
  }
}

/**
 * Per cluster size and extender: the median pods/s over the rounds, and the median of the
 * per-round ratios to the same round's stub (the target is read from this table).
 */
export function schedulerSummary(runs: readonly SchedulerRun[]): string {
  const lines = ['| nodes | extender | rounds | pods/s (median) | vs stub, median of rounds | vs stub per round |', '|---:|---|---:|---:|---:|---|'];
  for (const nodes of [...new Set(runs.map((r) => r.nodes))].sort((a, b) => a - b)) {
    for (const variant of VARIANTS) {
      const mine = runs.filter((r) => r.nodes === nodes && r.variant === variant);
      if (mine.length === 0) continue;
      const ratios = mine.flatMap((r) => {
        const stub = runs.find((x) => x.variant === 'stub' && x.nodes === r.nodes && x.round === r.round);
        return stub ? [r.podsPerSec / stub.podsPerSec] : [];
      });
      lines.push(`| ${nodes} | ${variant} | ${mine.length} | ${median(mine.map((r) => r.podsPerSec)).toFixed(1)} | ${ratios.length > 0 ? `${median(ratios).toFixed(2)}×` : '—'} | ${ratios.map((x) => `${x.toFixed(2)}×`).join(', ')} |`);
    }
  }
  return lines.join('\n');
}

export async function benchScheduler(o: { nodes: number[]; pods: number; qps: number; repeat: number; log: (s: string) => void }): Promise<SchedulerRun[] | string> {
  const found = locateControlPlane(repo);
  if ('missing' in found) return `bench:scheduler skipped (${found.missing}): put the control-plane package (script + bin/) at ../shared/k8s next to the repository, or set GPU_LEDGER_E2E_CONTROL_PLANE to its directory (README "End-to-end tests")`;
  const work = mkdtempSync(join(os.tmpdir(), 'gpu-ledger-sched-'));
  const dir = join(work, 'cp');
  const runs: SchedulerRun[] = [];
  let api: Api | null = null;
  try {
    o.log('starting the control plane…');
    const kubeconfig = (await controlPlane(found.script, ['start', dir])).split('\n').pop()!;
    api = await Api.fromKubeconfig(kubeconfig);
    const shipped = parseYaml(readFileSync(SHIPPED, 'utf8')) as Rec;
    const schedulerName = String(((shipped.profiles as Rec[])[0] as Rec).schedulerName);
    const e: Env = { script: found.script, dir, work, kubeconfig, api, shipped, schedulerName, qps: o.qps };
    let created = 0;
    for (const size of [...o.nodes].sort((a, b) => a - b)) {
      const names = Array.from({ length: size - created }, (_, i) => `bench-spark-${String(created + i).padStart(5, '0')}`);
      o.log(`creating ${names.length} nodes (${size} in all)…`);
      const api_ = api;
      await Api.each(names, 32, (n) => api_.ok('POST', '/api/v1/nodes', node(n)));
      created = size;
      // A discarded warm-up run first: in the old fixed order the stub, always first after the nodes
      // were created, once read 56.7 pods/s against 62.8 for gpu-ledger without bind right after it
      // (slower than doing nothing): running first cost more than the target's margin.
      o.log(`${size} nodes: warm-up (stub, not reported)…`);
      await runWith(e, 'stub', size, Math.min(o.pods, 300), 0, kubeconfig);
      for (let round = 1; round <= o.repeat; round++) {
        // The order rotates from round to round, so no extender always runs first or last; each run
        // gets a fresh extender process (a running gpu-ledger would compete for the CPU watching the
        // pods of another extender's run).
        for (let k = 0; k < VARIANTS.length; k++) {
          const variant = VARIANTS[(k + round - 1) % VARIANTS.length];
          o.log(`${size} nodes, round ${round}: ${variant}…`);
          runs.push(await runWith(e, variant, size, o.pods, round, kubeconfig));
          o.log(`  ${runs[runs.length - 1].podsPerSec.toFixed(1)} pods/s`);
        }
      }
    }
    return runs;
  } finally {
    api?.close();
    await controlPlane(found.script, ['stop', dir]).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

export function schedulerTable(runs: readonly SchedulerRun[]): string {
  const lines = [
    '| nodes | pods | round | extender | pods/s | vs stub | wall (s) | annotated by gpu-ledger | gpu-ledger mean ms per verb | CPU ms per pod: extender (kernel) / kube-scheduler / apiserver / etcd |',
    '|---:|---:|---:|---|---:|---:|---:|---:|---|---|',
  ];
  for (const r of runs) {
    const stub = runs.find((x) => x.variant === 'stub' && x.nodes === r.nodes && x.round === r.round);
    const verbs = r.verbMeanMs ? Object.entries(r.verbMeanMs).map(([v, ms]) => `${v} ${ms.toFixed(2)}`).join(', ') : '—';
    const c = r.cpuMsPerPod;
    lines.push(
      `| ${r.nodes} | ${r.pods} | ${r.round} | ${r.variant} | ${r.podsPerSec.toFixed(1)} | ${stub ? `${(r.podsPerSec / stub.podsPerSec).toFixed(2)}×` : '—'} | ${r.wallSec.toFixed(1)} | ${r.annotated} | ${verbs} | ${c.extender.toFixed(2)} (${c.extenderSystem.toFixed(2)}) / ${c.scheduler.toFixed(2)} / ${c.apiserver.toFixed(2)} / ${c.etcd.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '1000,5000' },
      pods: { type: 'string', default: '1000' },
      qps: { type: 'string', default: '1000' },
      repeat: { type: 'string', default: '3' },
      json: { type: 'string' },
    },
  });
  const t0 = Date.now();
  benchScheduler({ nodes: values.nodes.split(',').map(Number), pods: Number(values.pods), qps: Number(values.qps), repeat: Number(values.repeat), log: (s) => process.stderr.write(s + '\n') }).then(
    (r) => {
      if (typeof r === 'string') {
        process.stdout.write(r + '\n');
        return;
      }
      const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
      process.stdout.write(`Machine: ${machine}. Command: \`npm run bench:scheduler${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` (${((Date.now() - t0) / 1000).toFixed(0)} s).\n\n${schedulerSummary(r)}\n\nEvery run:\n\n${schedulerTable(r)}\n`);
      if (values.json) writeFileSync(values.json, JSON.stringify({ machine, runs: r }, null, 2) + '\n');
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
