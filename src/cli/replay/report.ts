// Turns runs into the paper's numbers: per run, bucket rows by x = round(100·arrived/total) and
// take each bucket's mean (or the mean over x−1..x+1 when it is empty); across seeds, mean and
// sd of unallocated GPU % at x = 100, and the median curve.

import type { Policy, RunResult, RunRow } from './experiment.js';

export interface CurvePoint {
  arrived: number;
  unallocated: number;
  fragAmount: number;
  fragRate: number;
}

export interface PolicyReport {
  policy: Policy;
  seeds: number[];
  unallocatedAt100: { mean: number; sd: number };
  allocatedAtEnd: { mean: number; sd: number };
  failedPods: { mean: number };
  fragAmountAt90: { median: number };
  curve: CurvePoint[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
/** Sample standard deviation (n − 1), as numpy's default in the paper's scripts is not stated: we say so. */
const sd = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};
/** The middle value (the mean of the two middle ones for an even count; NaN for none). */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/** Per-x mean of the rows of one run; empty buckets use x−1..x+1 (and stay NaN if those are empty too). */
export function bucket(rows: readonly RunRow[], total: number, maxX = 130): { unallocated: number[]; fragAmount: number[]; fragRate: number[] } {
  const sums = Array.from({ length: maxX + 1 }, () => ({ n: 0, alloc: 0, frag: 0, rate: 0 }));
  for (const r of rows) {
    const x = Math.round((100 * r.arrived) / total);
    if (x < 0 || x > maxX) continue;
    const b = sums[x];
    b.n++;
    b.alloc += r.allocated;
    b.frag += r.frag;
    b.rate += r.idle > 0 ? r.frag / r.idle : 0;
  }
  const unallocated: number[] = [];
  const fragAmount: number[] = [];
  const fragRate: number[] = [];
  for (let x = 0; x <= maxX; x++) {
    let n = sums[x].n;
    let alloc = sums[x].alloc;
    let frag = sums[x].frag;
    let rate = sums[x].rate;
    if (n === 0) {
      for (const y of [x - 1, x + 1]) {
        if (y < 0 || y > maxX) continue;
        n += sums[y].n;
        alloc += sums[y].alloc;
        frag += sums[y].frag;
        rate += sums[y].rate;
      }
    }
    unallocated.push(n ? 100 - (100 * (alloc / n)) / total : NaN);
    fragAmount.push(n ? (100 * (frag / n)) / total : NaN);
    fragRate.push(n ? (100 * rate) / n : NaN);
  }
  return { unallocated, fragAmount, fragRate };
}

export function summarize(runs: readonly RunResult[]): PolicyReport {
  const policy = runs[0].policy;
  const per = runs.map((r) => ({ r, b: bucket(r.rows, r.totalGpuMilli) }));
  const at100 = per.map(({ b }) => b.unallocated[100]).filter((v) => !Number.isNaN(v));
  const atEnd = per.map(({ r }) => (100 * r.rows[r.rows.length - 1].allocated) / r.totalGpuMilli);
  const curve: CurvePoint[] = [];
  for (let x = 0; x <= 130; x++) {
    const u = per.map(({ b }) => b.unallocated[x]).filter((v) => !Number.isNaN(v));
    if (u.length === 0) continue;
    curve.push({
      arrived: x,
      unallocated: median(u),
      fragAmount: median(per.map(({ b }) => b.fragAmount[x]).filter((v) => !Number.isNaN(v))),
      fragRate: median(per.map(({ b }) => b.fragRate[x]).filter((v) => !Number.isNaN(v))),
    });
  }
  return {
    policy,
    seeds: runs.map((r) => r.seed),
    unallocatedAt100: { mean: mean(at100), sd: sd(at100) },
    allocatedAtEnd: { mean: mean(atEnd), sd: sd(atEnd) },
    failedPods: { mean: mean(runs.map((r) => r.failedPods)) },
    fragAmountAt90: { median: median(per.map(({ b }) => b.fragAmount[90]).filter((v) => !Number.isNaN(v))) },
    curve,
  };
}

export function renderTable(reports: readonly PolicyReport[]): string {
  const lines = ['policy        unallocated@100%   allocated@end     failed pods   frag amount@90%', '-'.repeat(82)];
  for (const r of reports) {
    lines.push(
      `${r.policy.padEnd(13)} ${`${r.unallocatedAt100.mean.toFixed(2)} ± ${r.unallocatedAt100.sd.toFixed(2)} %`.padEnd(18)} ${`${r.allocatedAtEnd.mean.toFixed(2)} ± ${r.allocatedAtEnd.sd.toFixed(2)} %`.padEnd(17)} ${r.failedPods.mean.toFixed(0).padStart(11)}   ${r.fragAmountAt90.median.toFixed(2)} %`,
    );
  }
  return lines.join('\n');
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];

/** Unallocated GPU % vs arrived GPU % per policy (median over seeds), as a standalone SVG. */
export function renderSvg(reports: readonly PolicyReport[], title: string): string {
  const W = 720;
  const H = 440;
  const m = { l: 60, r: 150, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const xMin = 50;
  const xMax = 130;
  const yMax = Math.max(10, ...reports.flatMap((r) => r.curve.filter((p) => p.arrived >= xMin).map((p) => p.unallocated))) * 1.05;
  const X = (x: number) => m.l + ((x - xMin) / (xMax - xMin)) * pw;
  const Y = (y: number) => m.t + ph - (y / yMax) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${m.l}" y="24" font-size="14" font-weight="bold">${title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`);
  for (let x = xMin; x <= xMax; x += 10) {
    parts.push(`<line x1="${X(x)}" y1="${m.t}" x2="${X(x)}" y2="${m.t + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${X(x)}" y="${m.t + ph + 16}" text-anchor="middle">${x}</text>`);
  }
  const step = yMax > 40 ? 10 : yMax > 20 ? 5 : 2;
  for (let y = 0; y <= yMax; y += step) {
    parts.push(`<line x1="${m.l}" y1="${Y(y)}" x2="${m.l + pw}" y2="${Y(y)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${Y(y) + 4}" text-anchor="end">${y}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">arrived workload (% of cluster GPU capacity)</text>`);
  parts.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">unallocated GPUs (%)</text>`);
  reports.forEach((r, i) => {
    const pts = r.curve.filter((p) => p.arrived >= xMin && p.arrived <= xMax).map((p) => `${X(p.arrived).toFixed(1)},${Y(p.unallocated).toFixed(1)}`);
    const c = COLORS[i % COLORS.length];
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(' ')}"/>`);
    parts.push(`<line x1="${m.l + pw + 12}" y1="${m.t + 14 + i * 20}" x2="${m.l + pw + 32}" y2="${m.t + 14 + i * 20}" stroke="${c}" stroke-width="3"/>`);
    parts.push(`<text x="${m.l + pw + 38}" y="${m.t + 18 + i * 20}">${r.policy} (${r.unallocatedAt100.mean.toFixed(2)} %)</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
