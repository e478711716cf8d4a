// The one decision path: demand → fit → score → GPU choice at bind, with the production
// configuration. The extender verbs, explain and the trace replay all go through a Pipeline, so
// what the replay measures and what explain says is what the server does.

import type { Reason } from '../model/types.js';
import { filterNodes, type FilterOutcome, type Resolve } from '../filter/filter-nodes.js';
import { fitCached, type Placement } from '../filter/fit-cache.js';
import type { GpuChooser } from '../gpu/place.js';
import { NO_GPU, NODE_UNKNOWN } from '../gpu/reason.js';
import type { ClusterState, ReserveResult } from '../state/cluster-state.js';
import { nodeWithout, type NodeLedger } from '../state/ledger.js';
import { findCandidates, victimsOn, type Candidate, type Preemptor, type SearchOptions } from '../preempt/victims.js';
import { demandShape, type Shape } from '../state/workload.js';
import { fragmentationChooser } from './chooser.js';
import { rankCpuPod, rankNodes, type RankContext, type Ranked } from './rank.js';
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

  /**
   * Names → nodes in the ledger (looked up once per list: Ledger.lookup), or, for a full-Node
   * request, the views built from it.
   */
  resolver(names: readonly string[], views?: NodeViews, uid?: string): Resolve {
    const ledger = this.state.ledger;
    let base: Resolve;
    if (views) base = (name) => views.get(name) ?? NO_GPU;
    else {
      const nodes = ledger.lookup(names);
      base = (name, i): NodeLedger | Reason => nodes[i] ?? (ledger.knownWithoutGpu(name) ? NO_GPU : NODE_UNKNOWN);
    }
    const own = uid ? this.nominatedNode(uid) : null;
    if (own === null) return base;
    // The pod's own nomination is its share: judge that node without it (a scratch copy).
    return (name, i) => {
      const node = base(name, i);
      return name === own && 'inventory' in node ? nodeWithout(node, new Set([uid!])) : node;
    };
  }

  /** The node where the pod holds a nomination (preemption), if any. */
  nominatedNode(uid: string): string | null {
    const a = this.state.ledger.pods.get(uid);
    return a?.state === 'nominated' ? a.node : null;
  }

  /**
   * Filter. The pod also joins the workload model here, once per UID: the typical shapes the
   * fragmentation scorer keeps room for are the pods that arrive, placed or not.
   */
  filter(shape: ScoreShape, names: readonly string[], views?: NodeViews, uid?: string): FilterOutcome {
    if (uid) this.state.workload.observePod(uid, demandShape(shape));
    const out = filterNodes(shape, names, this.resolver(names, views, uid), this.placement());
    // kube-scheduler's prioritize asks about the passing nodes next, in this order.
    if (!views) this.state.ledger.rememberPicked(names, out.passedIndex);
    return out;
  }

  rank(shape: ScoreShape, names: readonly string[], views?: NodeViews, uid?: string): Ranked[] {
    return rankNodes(shape, names, this.resolver(names, views, uid), this.context());
  }

  rankCpu(shape: ScoreShape, names: readonly string[], views?: NodeViews): Ranked[] {
    return rankCpuPod(shape, names, this.resolver(names, views), this.context());
  }

  /**
   * Preemption's decision (a dry run: nothing changes): the candidate nodes among `names` where
   * evicting strictly lower-priority pods makes the pod fit, best first, with the production chooser.
   */
  preemption(p: Preemptor, names: readonly string[], o: Omit<SearchOptions, 'chooser'> = {}): Candidate[] {
    const ledger = this.state.ledger;
    const nodes = (function* () {
      for (const n of names) {
        const node = ledger.nodes.get(n);
        if (node) yield node;
      }
    })();
    return findCandidates(p, nodes, { ...o, chooser: this.placement().chooser });
  }

  /** The victims on one node that must go besides `forced` (kube-scheduler's proposal, /preempt), or null. */
  preemptionOn(p: Preemptor, nodeName: string, forced: ReadonlySet<string>, o: Omit<SearchOptions, 'chooser'> = {}): Candidate | null {
    const node = this.state.ledger.nodes.get(nodeName);
    return node ? victimsOn(p, node, { ...o, chooser: this.placement().chooser }, forced) : null;
  }

  /** Bind's decision: re-checks the pod on the node as it is now and reserves it in the same step. */
  reserve(demand: PodDemand, nodeName: string): ReserveResult {
    const placement = this.placement();
    return this.state.reserve(demand, nodeName, (node) => fitCached(demand, node, placement));
  }
}
