import { readFile } from 'node:fs/promises';
import type { LedgerConfig } from '../model/config-types.js';
import { parseSnapshot, SnapshotError, type Snapshot } from '../model/snapshot.js';
import { ClusterState, type ClusterStateOptions } from '../state/cluster-state.js';

/** Reads and merges snapshot files (later files add to earlier ones). */
export async function loadSnapshotFiles(paths: readonly string[]): Promise<Snapshot> {
  const merged: Snapshot = { nodes: [], pods: [] };
  for (const p of paths) {
    let text: string;
    try {
      text = await readFile(p, 'utf8');
    } catch (err) {
      throw new SnapshotError(`${p}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
    }
    const s = parseSnapshot(text, p);
    // No push(...list): spreading 150,000 pods as arguments overflows the stack.
    for (const n of s.nodes) merged.nodes.push(n);
    for (const p of s.pods) merged.pods.push(p);
  }
  return merged;
}

/**
 * The ledger of snapshot files, exactly as `serve --snapshot` (and so `npm start`) builds it: the
 * nodes, then the pods, applied as one list each. `explain` and `kubectl gpu-ledger --snapshot` read it.
 */
export async function loadSnapshotState(paths: readonly string[], config: LedgerConfig, options: Omit<ClusterStateOptions, 'config'> = {}): Promise<ClusterState> {
  const snap = await loadSnapshotFiles(paths);
  const state = new ClusterState({ ...options, config });
  state.resetNodes(snap.nodes);
  state.resetPods(snap.pods);
  return state;
}
