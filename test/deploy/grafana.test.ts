// deploy/grafana/gpu-ledger.json against the code: every metric a query or a variable names must be
// one the server registers (with --pod-metrics on), so a renamed metric breaks this test, not a
// dashboard in production. Checked against a live registry, not a copied list.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/model/config-types.js';
import { createMetrics } from '../../src/server/metrics.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import { DEPLOY } from './files.js';

type Rec = Record<string, unknown>;
const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana/gpu-ledger.json'), 'utf8')) as Rec;

/** PromQL words that are not metric names. */
const PROMQL = new Set(
  'sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring group_left group_right bool and or unless offset rate irate increase delta idelta deriv histogram_quantile label_values label_replace label_join abs ceil floor round clamp clamp_min clamp_max absent absent_over_time avg_over_time max_over_time min_over_time sum_over_time count_over_time time vector scalar sort sort_desc changes resets predict_linear'.split(' '),
);

/** Metric names in a PromQL expression: identifiers outside label matchers, strings, ranges and groupings. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    // numbers and durations (0.99, 5m)
    .replace(/(?<![a-zA-Z0-9_:])\d+(?:\.\d+)?[a-z]*/g, '');
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL.has(w));
}

function queries(d: Rec): string[] {
  const out: string[] = [];
  const walk = (panels: unknown) => {
    for (const p of (panels as Rec[] | undefined) ?? []) {
      for (const t of (p.targets as Rec[] | undefined) ?? []) out.push(String(t.expr));
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const v of ((d.templating as Rec).list as Rec[]) ?? []) {
    if (v.type === 'query') out.push(String((v.query as Rec).query).replace(/^label_values\((.*),\s*\w+\)$/, '$1'));
  }
  return out;
}

async function registered(): Promise<Set<string>> {
  const m = createMetrics(new ClusterState({ config: defaultConfig() }), () => true, { podMetrics: true });
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    // Histograms and summaries are queried through their series.
    if (String(metric.type) === 'histogram' || String(metric.type) === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(metric.name + s);
  }
  return names;
}

describe('the Grafana dashboard (deploy/grafana/gpu-ledger.json)', () => {
  it('the name extraction sees through PromQL', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, verb) (rate(gpu_ledger_request_duration_seconds_bucket{job=~"$job", x="a{b}"}[5m])))')).toEqual(['gpu_ledger_request_duration_seconds_bucket']);
    expect(metricNames('max by (node) (a_bytes{node=~"$node"}) / b_bytes offset 5m')).toEqual(['a_bytes', 'b_bytes']);
  });

  it('queries only metrics the server registers', async () => {
    const known = await registered();
    const used = new Set(queries(dashboard).flatMap(metricNames));
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((n) => !known.has(n))).toEqual([]);
    // The per-pod attribution, the per-GPU gauges and the standard process metrics are all shown.
    for (const n of ['gpu_ledger_pod_gpu_memory_bytes', 'gpu_ledger_pod_gpu_threads_ratio', 'gpu_ledger_gpu_threads_allocated_ratio', 'gpu_ledger_mig_instances_allocated', 'process_resident_memory_bytes', 'process_cpu_seconds_total']) {
      expect(used, n).toContain(n);
    }
  });

  it('is importable: a uid, a Prometheus data source variable, panels with unique ids and queries on it', () => {
    expect(dashboard.uid).toBe('gpu-ledger');
    const vars = ((dashboard.templating as Rec).list as Rec[]).map((v) => v.name);
    expect(vars).toEqual(['datasource', 'job', 'node', 'namespace']);
    const panels: Rec[] = [];
    const walk = (ps: unknown) => {
      for (const p of (ps as Rec[] | undefined) ?? []) {
        panels.push(p);
        walk(p.panels);
      }
    };
    walk(dashboard.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect((p.datasource as Rec).uid, String(p.title)).toBe('${datasource}');
      expect(((p.targets as Rec[]) ?? []).length, String(p.title)).toBeGreaterThan(0);
      // Every query is scoped to the chosen job: process_* are not gpu-ledger's alone.
      for (const t of p.targets as Rec[]) expect(String(t.expr), String(p.title)).toContain('job=~"$job"');
    }
  });
});
