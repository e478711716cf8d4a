// Pod parsing: every GPU quantity exact and bounded, nothing silently ignored — a pod that names an
// NVIDIA resource with an unusable value stays gpu-ledger's to judge (invalid, with a reason),
// never "unmanaged" and so passed everywhere.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/model/config-types.js';
import { parsePodDemand } from '../../src/model/demand.js';
import { MAX_CPU_MILLI, MAX_REQUEST_PER_RESOURCE } from '../../src/model/limits.js';
import { parseCount, parseMemoryQuantity, parseMpsSize } from '../../src/model/quantity.js';

const tiers = defaultConfig().tiers;
const GiB = 2 ** 30;

function podWith(limits: Record<string, unknown>, env: { name: string; value: string }[] = [], annotations: Record<string, string> = {}) {
  return { metadata: { name: 'p', namespace: 'ml', uid: 'u', annotations }, spec: { containers: [{ name: 'main', env, resources: { limits } }] } };
}

describe('quantities are exact and bounded', () => {
  const cases: [string, ReturnType<typeof parseMemoryQuantity>][] = [
    ['128Gi', { ok: true, value: 128 * GiB }],
    ['1.5Gi', { ok: true, value: 1.5 * GiB }],
    ['0.1Gi', { ok: true, value: Math.ceil(0.1 * GiB) }], // rounded up to whole bytes, exactly
    ['1e3', { ok: true, value: 1000 }],
    ['64G', { ok: true, value: 64e9 }],
    ['1e295', { ok: false, why: `exceeds the limit of ${2 ** 42}` }],
    ['1e999999999', { ok: false, why: `exceeds the limit of ${2 ** 42}` }],
    ['99999999999999999999999Ti', { ok: false, why: `exceeds the limit of ${2 ** 42}` }],
    ['-1Gi', { ok: false, why: 'must not be negative' }],
    ['lots', { ok: false, why: 'is not a quantity' }],
    ['1e18T', { ok: false, why: 'is not a quantity' }],
    ['', { ok: false, why: 'is not a quantity' }],
  ];
  for (const [text, want] of cases) it(`memory "${text}"`, () => expect(parseMemoryQuantity(text, 2 ** 42)).toEqual(want));

  it('counts are whole: "1k" is 1000 (the API server writes 1000 so), "1.5" and "abc" are errors', () => {
    expect(parseCount('1k', MAX_REQUEST_PER_RESOURCE)).toEqual({ ok: true, value: 1000 });
    expect(parseCount('1.5', MAX_REQUEST_PER_RESOURCE)).toEqual({ ok: false, why: 'must be a whole number' });
    expect(parseCount('abc', MAX_REQUEST_PER_RESOURCE)).toEqual({ ok: false, why: 'is not a quantity' });
    expect(parseCount('300000000', MAX_REQUEST_PER_RESOURCE)).toMatchObject({ ok: false });
  });

  it('MPS sizes: G = GiB, M = MiB, a bare number is MiB; no exponents, no zero, bounded', () => {
    expect(parseMpsSize('16G', 2 ** 42)).toEqual({ ok: true, value: 16 * GiB });
    expect(parseMpsSize('512MB', 2 ** 42)).toEqual({ ok: true, value: 512 * 2 ** 20 });
    expect(parseMpsSize('1630', 2 ** 42)).toEqual({ ok: true, value: 1630 * 2 ** 20 });
    expect(parseMpsSize('1e295T', 2 ** 42)).toEqual({ ok: false, why: 'is not a size' });
    expect(parseMpsSize('0G', 2 ** 42)).toEqual({ ok: false, why: 'must be more than 0' });
    expect(parseMpsSize('99999999999999999999T', 2 ** 42)).toMatchObject({ ok: false });
  });
});

describe('pod demand: unusable input is an error naming the field and the value', () => {
  const cases: { name: string; limits: Record<string, unknown>; env?: { name: string; value: string }[]; field: string; message: RegExp }[] = [
    { name: 'nvidia.com/gpu: "1.5"', limits: { 'nvidia.com/gpu': '1.5' }, field: 'spec.containers[main].resources.limits.nvidia.com/gpu', message: /"1\.5" must be a whole number/ },
    { name: 'nvidia.com/gpu: "abc"', limits: { 'nvidia.com/gpu': 'abc' }, field: 'spec.containers[main].resources.limits.nvidia.com/gpu', message: /"abc" is not a quantity/ },
    { name: 'nvidia.com/gpu: "300000000"', limits: { 'nvidia.com/gpu': '300000000' }, field: 'spec.containers[main].resources.limits.nvidia.com/gpu', message: /exceeds the limit/ },
    { name: 'nvidia.com/gpu99999999', limits: { 'nvidia.com/gpu99999999': '1' }, field: 'spec.containers[main].resources.limits.nvidia.com/gpu99999999', message: /names GPU 99999999/ },
    {
      name: 'an MPS env entry for device 9 on a one-GPU pod',
      limits: { 'nvidia.com/gpu': '1' },
      env: [{ name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: '0=8G,9=8G' }],
      field: 'spec.containers[main].env.CUDA_MPS_PINNED_DEVICE_MEM_LIMIT',
      message: /names device 9, but the container gets at most 1 GPU device\(s\) \(ordinals 0\.\.0\)/,
    },
    { name: '0=1e295T', limits: { 'nvidia.com/gpu': '1' }, env: [{ name: 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', value: '0=1e295T' }], field: 'spec.containers[main].env.CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', message: /"1e295T" is not a size/ },
    { name: 'thread % 150', limits: { 'nvidia.com/gpu': '1' }, env: [{ name: 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', value: '150' }], field: 'spec.containers[main].env.CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', message: /from 1 to 100/ },
  ];
  for (const c of cases) {
    it(`${c.name}: managed, invalid, with the field`, () => {
      const d = parsePodDemand(podWith(c.limits, c.env), tiers);
      expect(d.managed).toBe(true);
      expect(d.errors.length).toBeGreaterThan(0);
      expect(d.errors[0].field).toBe(c.field);
      expect(d.errors[0].message).toMatch(c.message);
    });
  }

  it('"1k" replicas is a valid (absurd) request of 1000: no node fits it, but it is not unmanaged', () => {
    const d = parsePodDemand(podWith({ 'nvidia.com/gpu': '1k' }), tiers);
    expect(d).toMatchObject({ managed: true, errors: [] });
    expect(d.requests.get('nvidia.com/gpu')).toBe(1000);
  });

  it('a running pod with an absurd request carries a bounded value (accounting stays bounded)', () => {
    const d = parsePodDemand(podWith({ 'nvidia.com/gpu': '300000000' }), tiers);
    expect(d.requests.get('nvidia.com/gpu')).toBe(MAX_REQUEST_PER_RESOURCE);
  });

  it('the gpu-memory annotation is bounded and exact', () => {
    expect(parsePodDemand(podWith({ 'nvidia.com/gpu': '1' }, [], { 'gpu-ledger.io/gpu-memory': '20Gi' }), tiers).declaredMemoryBytes).toBe(20 * GiB);
    const d = parsePodDemand(podWith({ 'nvidia.com/gpu': '1' }, [], { 'gpu-ledger.io/gpu-memory': '99999Ti' }), tiers);
    expect(d.errors[0]).toMatchObject({ field: 'metadata.annotations.gpu-ledger.io/gpu-memory', value: '99999Ti' });
    expect(d.errors[0].message).toContain('exceeds the largest GPU');
  });

  it('CPU is advisory: unreadable counts as none, absurd is capped', () => {
    const cpu = (v: string) => parsePodDemand({ spec: { containers: [{ name: 'c', resources: { requests: { cpu: v } } }] } }, tiers).cpuMilli;
    expect(cpu('500m')).toBe(500);
    expect(cpu('lots')).toBe(0);
    expect(cpu('1e30')).toBe(MAX_CPU_MILLI);
  });

  it('hostile sizes are cut: too many containers, env entries, resource names are errors, and only the first errors are kept', () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, resources: { limits: { 'nvidia.com/gpu': 'x' } } }));
    const d = parsePodDemand({ spec: { containers: many } }, tiers);
    expect(d.managed).toBe(true);
    expect(d.errors.length).toBeLessThanOrEqual(16);
    expect(d.errors.some((e) => e.message.includes('more than 256 containers'))).toBe(true);
    const names = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`nvidia.com/mig-${i}g.x`, '1']));
    expect(parsePodDemand(podWith(names), tiers).errors.some((e) => e.message.includes('distinct NVIDIA resources'))).toBe(true);
  });

  it('priority, preemption policy, start time and labels are read for preemption', () => {
    const d = parsePodDemand(
      { metadata: { labels: { app: 'llm' } }, spec: { priority: 1000, preemptionPolicy: 'Never', containers: [] }, status: { startTime: '2026-01-01T00:00:00Z' } },
      tiers,
    );
    expect(d).toMatchObject({ priority: 1000, preemptionPolicy: 'Never', startTime: Date.parse('2026-01-01T00:00:00Z'), labels: { app: 'llm' } });
  });
});
