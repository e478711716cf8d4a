import { readFile } from 'node:fs/promises';
import { parseSnapshot, SnapshotError, type Snapshot } from '../model/snapshot.js';

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
