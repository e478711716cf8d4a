import { open, readFile } from 'node:fs/promises';
import type { LedgerConfig } from '../model/config-types.js';
import { JsonItemsError, JsonItemsSplitter } from '../model/json-items.js';
import { addSnapshotItem, checkListKind, parseSnapshot, SnapshotError, type Snapshot, type SnapshotSink } from '../model/snapshot.js';
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

const CHUNK = 1 << 20;

/**
 * Hands every Node and Pod of the files to `sink`, in file order. A JSON file (kubectl -o json)
 * is read in 1 MiB chunks and its items array parsed one item at a time (src/model/json-items.ts),
 * so the parsed dump is never held whole; YAML files are parsed whole (js-yaml has no streaming
 * parser, and dumps that large are JSON).
 */
export async function streamSnapshotFiles(paths: readonly string[], sink: SnapshotSink): Promise<void> {
  for (const p of paths) {
    let file;
    try {
      file = await open(p, 'r');
    } catch (err) {
      throw new SnapshotError(`${p}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
    }
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      const first = await file.read(buf, 0, CHUNK, 0);
      const head = buf.subarray(0, first.bytesRead);
      // A byte-order mark, then whitespace: the first character says JSON or YAML.
      let start = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
      while (start < head.length && (head[start] === 0x20 || head[start] === 0x0a || head[start] === 0x0d || head[start] === 0x09)) start++;
      if (head[start] !== 0x7b) {
        const s = parseSnapshot(await file.readFile({ encoding: 'utf8' }).then((rest) => head.toString('utf8') + rest), p);
        for (const n of s.nodes) sink.node(n);
        for (const x of s.pods) sink.pod(x);
        continue;
      }
      let index = 0;
      const splitter = new JsonItemsSplitter((json, i) => {
        index = i;
        let item: unknown;
        try {
          item = JSON.parse(json);
        } catch (err) {
          throw new SnapshotError(`${p}: not valid JSON: items[${i}]: ${err instanceof Error ? err.message : String(err)}`);
        }
        addSnapshotItem(item, `document.items[${i}]`, p, sink);
      });
      try {
        splitter.push(head.subarray(start));
        let position = first.bytesRead;
        for (;;) {
          // One buffer for every chunk (the splitter copies what it keeps): a fresh megabyte per
          // chunk left the allocator holding tens of MB after the load.
          const r = await file.read(buf, 0, CHUNK, position);
          if (r.bytesRead === 0) break;
          position += r.bytesRead;
          splitter.push(buf.subarray(0, r.bytesRead));
        }
        const skeleton = splitter.end();
        if (splitter.itemCount > 0) checkListKind(skeleton, p);
        addSnapshotItem(skeleton, 'document', p, sink);
      } catch (err) {
        if (err instanceof JsonItemsError) throw new SnapshotError(`${p}: not valid JSON: ${err.message}${splitter.itemCount > 0 ? ` (after items[${index}])` : ''}`);
        throw err;
      }
    } finally {
      await file.close();
    }
  }
}

/**
 * Loads snapshot files into an empty ClusterState as resetNodes + resetPods would, without holding
 * the files' objects: nodes are applied as they come, pods too once their node is known (the
 * ledger accounts a pod on its node); a pod whose node comes later (or never) waits until the
 * end. The result is that of loading every node first — except for a node listed twice with
 * another inventory (a later file updating it): pods already accounted there keep their GPUs
 * where the new inventory allows, as when a Node changes in live mode.
 */
export async function loadSnapshotInto(state: ClusterState, paths: readonly string[]): Promise<void> {
  const known = (name: string) => state.ledger.nodes.has(name) || state.ledger.knownWithoutGpu(name);
  const waiting: unknown[] = [];
  await streamSnapshotFiles(paths, {
    node: (n) => state.upsertNode(n),
    pod: (pod) => {
      const node = (pod as { spec?: { nodeName?: unknown } } | null)?.spec?.nodeName;
      if (typeof node === 'string' && node !== '' && !known(node)) waiting.push(pod);
      else state.upsertPod(pod);
    },
  });
  for (const pod of waiting) state.upsertPod(pod);
  state.nodesSynced = true;
  state.podsSynced = true;
}

/**
 * The ledger of snapshot files, exactly as `serve --snapshot` (and so `npm start`) builds it
 * (streamed, as loadSnapshotInto). `explain` and `kubectl gpu-ledger --snapshot` read it.
 */
export async function loadSnapshotState(paths: readonly string[], config: LedgerConfig, options: Omit<ClusterStateOptions, 'config'> = {}): Promise<ClusterState> {
  const state = new ClusterState({ ...options, config });
  await loadSnapshotInto(state, paths);
  return state;
}
