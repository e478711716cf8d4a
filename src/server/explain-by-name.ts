// Explain of a pod the ledger knows, by namespace/name: GET /explain/{ns}/{name} and the page's pod
// view. Its demand is the one filter saw last, else rebuilt from its allocation.

import { explainPod, type ExplainOptions, type PodExplanation } from '../explain/explain.js';
import type { Pipeline } from '../prioritize/pipeline.js';
import { HttpError } from './body.js';

export function explainByName(pipeline: Pipeline, namespace: string, name: string, options: ExplainOptions = {}): PodExplanation {
  const state = pipeline.state;
  const found = state.findByName(namespace, name);
  if (!found) throw new HttpError(404, `pod ${namespace}/${name} is not known to gpu-ledger (POST it to /explain instead)`);
  const demand = found.demand ?? (found.allocation ? state.demandOfAllocation(found.allocation) : undefined);
  if (!demand) throw new HttpError(404, `pod ${namespace}/${name} is known to gpu-ledger but its GPU demand is not (POST it to /explain instead)`);
  return explainPod(demand, pipeline, undefined, options);
}
