// The one decision path: demand → fit → score → GPU choice at bind, with the production
// configuration. The extender verbs, explain and the trace replay all go through a Pipeline, so
// what the replay measures and what explain says is what the server does.

import type { Reason } from '../model/types.js';
import { FilterOutcome, filterNodes } from '../filter/filter-nodes.js';
import { fitCached, type Placement } from '../filter/fit-cache.js';
import type { GpuChooser } from '../gpu/place.js';
import { NO_GPU, NODE_UNKNOWN } from '../gpu/reason.js';
import type { ClusterState, ReserveResult } from '../state/cluster-state.js';
import type { NodeLedger } from '../state/ledger.js';
import { demandShape, type Shape } from '../state/workload.js';
import { fragmentationChooser } from './chooser.js';
import { rankCpuPod, rankNodes, type RankContext, type Ranked, type Resolve } from './rank.js';
import type { ScoreShape } from './score-shape.js';
import type { PodDemand } from '../model/types.js';

/** Candidate nodes of a full-Node request: their inventory from the request, allocations from the ledger. */
export type NodeViews = ReadonlyMap<string, NodeLedger | null>;

export class Pipeline {
  private chooser: { shapes: readonly Shape[]; chooser: GpuChooser } | null = null;

  constructor(readonly state: ClusterState) {}

  /** The production GPU choice for the workload as it stands (a new chooser when the shapes change). */
  placement(): Placement {
    const shapes = this.state.workload.shapes();
    if (this.chooser?.shapes !== shapes) this.chooser = { shapes, chooser: fragmentationChooser(shapes) };
    return { chooser: this.chooser.chooser, epoch: shapes };
  }

  private context(): RankContext {
    const placement = this.placement();
    return { weights: this.state.config.scoring.weights, tiers: this.state.config.tiers, shapes: placement.epoch as readonly Shape[], placement };
  }

  /** Names → nodes in the ledger (looked up once per list: Ledger.lookup), or, for a full-Node request, the views built from it. */
  resolver(names: readonly string[], views?: NodeViews): Resolve {
    const ledger = this.state.ledger;
    if (views) return (name) => views.get(name) ?? NO_GPU;
    const nodes = ledger.lookup(names);
    return (name, i): NodeLedger | Reason => nodes[i] ?? (ledger.knownWithoutGpu(name) ? NO_GPU : NODE_UNKNOWN);
  }

  /**
   * Filter. The pod also joins the workload model here, once per UID: the typical shapes the
   * fragmentation scorer keeps room for are the pods that arrive, placed or not.
   */
  filter(shape: ScoreShape, names: readonly string[], views?: NodeViews, uid?: string): FilterOutcome {
    if (uid) this.state.workload.observePod(uid, demandShape(shape));
    const placement = this.placement();
    if (!views) return filterNodes(shape, this.state.ledger, names, placement);
    const out = new FilterOutcome();
    const resolve = this.resolver(names, views);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const node = resolve(name, i);
      if (!('inventory' in node)) {
        out.fail(name, [node]);
        continue;
      }
      const r = fitCached(shape, node, placement);
      if (r.fits) out.pass(name, node);
      else out.fail(name, r.reasons, node);
    }
    return out;
  }

  rank(shape: ScoreShape, names: readonly string[], views?: NodeViews): Ranked[] {
    return rankNodes(shape, names, this.resolver(names, views), this.context());
  }

  rankCpu(shape: ScoreShape, names: readonly string[], views?: NodeViews): Ranked[] {
    return rankCpuPod(shape, names, this.resolver(names, views), this.context());
  }

  /** Bind's decision: re-checks the pod on the node as it is now and reserves it in the same step. */
  reserve(demand: PodDemand, nodeName: string): ReserveResult {
    const placement = this.placement();
    return this.state.reserve(demand, nodeName, (node) => fitCached(demand, node, placement));
  }
}
