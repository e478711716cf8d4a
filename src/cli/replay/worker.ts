// A replay worker thread: runs (policy, seed) jobs over the trace it was started with. Runs are
// independent and deterministic per seed, so spreading them over cores changes nothing but time.

import { parentPort, workerData } from 'node:worker_threads';
import type { TraceNode, TracePod } from '../../model/trace.js';
import { runExperiment, type Policy } from './experiment.js';
import type { TraceShape } from './frag.js';
import { loadSchedulerModel } from './sched-config.js';

export interface WorkerInit {
  nodes: TraceNode[];
  pods: TracePod[];
  shapes: TraceShape[];
}

export interface Job {
  id: number;
  policy: Policy;
  seed: number;
}

const init = workerData as WorkerInit;
const scheduler = loadSchedulerModel();
parentPort?.on('message', (job: Job) => {
  const result = runExperiment(init.nodes, init.pods, job.policy, job.seed, { shapes: init.shapes, scheduler });
  parentPort?.postMessage({ id: job.id, result });
});
