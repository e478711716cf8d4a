// Garbage-collector tuning of a gpu-ledger process: `serve` applies it at start-up, and the
// benchmarks that run the product's pipeline in their own process apply the same, so they measure
// what the server runs.
//
// V8's allocation-site pretenuring allocates the objects of a code site directly in the old
// generation once most of them have been seen to survive a minor GC. With it on, about half of the
// processes (6 of 14 in one measurement, the same build and input) ran a stream of never-seen pod
// shapes with each minor GC copying and promoting ~6 MB: 2.1–3.0 s of scavenges over 1,300 filters
// at 5,000 nodes instead of ~0.5 s, the old generation growing to ~350 MB between full GCs. The
// likeliest reading: the fit path makes the same kinds of objects for the long-lived ledger at
// load and for a request's short-lived answers, so when V8 judges a site long-lived during the
// load, later answers land in the old generation pointing at young objects. With it off, 14 of 14
// processes ran in the fast mode; the never-seen shape's filter 706–1,534 ns per node (median 955)
// against 1,416–2,388 (median 1,900) in five processes each, the known-shape path and the
// 15,000-node load (time, peak and steady memory) unchanged.

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
