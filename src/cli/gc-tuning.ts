// Garbage-collector tuning of a gpu-ledger process: `serve` applies it at start-up, and the
// benchmarks that run the product's pipeline in their own process apply the same, so they measure
// what the server runs.
//
// V8's allocation-site pretenuring allocates the objects of a code site directly in the old
// generation once most of them have been seen to survive a minor GC. gpu-ledger's fit path makes
// the same kinds of objects (takes, answers, reasons) both for the long-lived ledger at load and
// for one request's short-lived answers, so whether a site is judged long-lived depends on timing
// during the load: in about half of the processes (6 of 14 in one measurement) the sites were
// tenured, every later request's answers went to the old generation pointing at young objects,
// and each minor GC then copied and promoted ~6 MB (2.1–3.0 s of scavenges over a stream of 1,300
// never-seen shapes at 5,000 nodes, against ~0.5 s; the never-seen shape 1,700–2,400 ns per node
// against 1,700–1,750 with it off). With pretenuring off every process ran in the fast mode (14 of
// 14), the known-shape path and the 15,000-node load (time, peak and steady memory) unchanged.

import v8 from 'node:v8';

const FLAG = 'allocation-site-pretenuring';

/**
 * Turns V8's allocation-site pretenuring off, unless the node command line sets it either way
 * (`node --allocation-site-pretenuring …` keeps V8's default). Returns whether pretenuring is on.
 */
export function tuneGarbageCollector(execArgv: readonly string[] = process.execArgv): boolean {
  let named: boolean | null = null;
  for (const a of execArgv) {
    const f = a.replace(/_/g, '-');
    if (f === `--${FLAG}`) named = true;
    else if (f === `--no-${FLAG}`) named = false;
  }
  if (named !== null) return named;
  v8.setFlagsFromString(`--no-${FLAG}`);
  return false;
}
