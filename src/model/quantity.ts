// Kubernetes quantities ("128Gi", "1.5G", "1k", "500m", "1e3") and the MPS env's sizes ("16G",
// "512M", "512MB"), parsed exactly: the decimal mantissa and the suffix are combined in integer
// (BigInt) arithmetic and the result is compared with an upper bound before it becomes a Number,
// so "1e295T", "1e999999999" or "0.1Gi" can never produce Infinity, NaN or a rounding error.
// @kubernetes/client-node's quantityToScalar is not exported from its entry point and throws on
// decimals with binary suffixes ("1.5Gi"), so the grammar lives here, once.

import { MAX_CPU_MILLI } from './limits.js';

export type Parsed = { ok: true; value: number } | { ok: false; why: string };

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const QUANTITY_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d{1,9}))?$/;
/** Longer texts are not quantities anyone writes (Kubernetes' canonical forms are a few characters). */
const MAX_TEXT = 64;

interface Exact {
  /** value = mantissa × 2^binary × 10^decimal */
  mantissa: bigint;
  binary: number;
  decimal: number;
  negative: boolean;
}

function fail(why: string): Parsed {
  return { ok: false, why };
}

/**
 * mantissa × 2^binary × 10^decimal × scale, rounded up to an integer, or an error when it is
 * negative, not whole (with `whole`), or above `max`. Exponents are bounded before any power is
 * built, so the work is constant whatever the text says.
 */
function toInteger(e: Exact, scale: number, max: number, whole: boolean): Parsed {
  if (e.mantissa === 0n) return { ok: true, value: 0 };
  if (e.negative) return fail('must not be negative');
  let decimal = e.decimal;
  // scale is a power of ten (1 or 1000): fold it into the decimal exponent.
  decimal += Math.round(Math.log10(scale));
  const digits = e.mantissa.toString().length;
  // Quick bound: mantissa < 10^digits, so value < 10^(digits + decimal) × 2^binary.
  if (digits + decimal + e.binary * Math.LOG10E * Math.LN2 - 1 > Math.log10(max) + 1) return fail(`exceeds the limit of ${max}`);
  let num = e.mantissa << BigInt(e.binary);
  let den = 1n;
  if (decimal >= 0) num *= 10n ** BigInt(decimal);
  else if (decimal < -60) return whole ? fail('must be a whole number') : { ok: true, value: 1 };
  else den = 10n ** BigInt(-decimal);
  if (whole && num % den !== 0n) return fail('must be a whole number');
  const v = (num + den - 1n) / den;
  if (v > BigInt(max)) return fail(`exceeds the limit of ${max}`);
  return { ok: true, value: Number(v) };
}

function splitQuantity(text: string): Exact | null {
  if (text.length === 0 || text.length > MAX_TEXT) return null;
  const m = QUANTITY_RE.exec(text);
  if (!m) return null;
  const intPart = m[2] ?? '';
  const frac = m[3] ?? '';
  if (intPart === '' && frac === '') return null;
  let binary = 0;
  let decimal = -frac.length;
  if (m[4] !== undefined) {
    if (BINARY[m[4]] !== undefined) binary = BINARY[m[4]];
    else decimal += DECIMAL[m[4]];
  } else if (m[5] !== undefined) decimal += Number(m[5]);
  return { mantissa: BigInt((intPart + frac).replace(/^0+(?=\d)/, '') || '0'), binary, decimal, negative: m[1] === '-' };
}

/**
 * A Kubernetes quantity as a whole number of units × `scale` (1 for bytes and counts, 1000 for
 * milli-CPUs), rounded up, at most `max`. `whole`: the value must be an integer (extended
 * resources, GPU counts: "1k" is 1000, "1.5" is an error).
 */
export function parseQuantityAs(raw: unknown, max: number, options: { scale?: number; whole?: boolean } = {}): Parsed {
  const text = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
  if (typeof text !== 'string') return fail('is not a quantity');
  const e = splitQuantity(text.trim());
  if (!e) return fail('is not a quantity');
  return toInteger(e, options.scale ?? 1, max, options.whole ?? false);
}

/** A count (extended resource, replicas, GPUs): a whole non-negative quantity ≤ max. */
export function parseCount(raw: unknown, max: number): Parsed {
  return parseQuantityAs(raw, max, { whole: true });
}

/** A memory quantity as whole bytes (rounded up), at most `max`. */
export function parseMemoryQuantity(raw: unknown, max: number): Parsed {
  return parseQuantityAs(raw, max);
}

/**
 * A CPU quantity ("500m", "2", 1.5) in whole milli-CPUs; 0 when missing or unreadable, capped at
 * MAX_CPU_MILLI. CPU is advisory in gpu-ledger (the API server validates it and kube-scheduler
 * filters on it), so this never fails.
 */
export function parseCpuMilli(raw: unknown): number {
  if (raw === undefined || raw === null) return 0;
  const r = parseQuantityAs(raw, MAX_CPU_MILLI, { scale: 1000 });
  if (r.ok) return r.value;
  return r.why.startsWith('exceeds') ? MAX_CPU_MILLI : 0;
}

const MPS_SIZE_RE = /^(\d{1,20})(?:\.(\d{1,20}))?\s*(K|KB|KiB|M|MB|MiB|G|GB|GiB|T|TB|TiB)?$/i;
const MPS_SHIFT: Record<string, number> = { K: 10, M: 20, G: 30, T: 40 };

/**
 * Sizes in CUDA_MPS_PINNED_DEVICE_MEM_LIMIT. NVIDIA's device plugin writes `<n>M` meaning MiB
 * and the MPS docs show `1G` and `512MB`; all are binary (G = GiB, M = MiB). A bare number is
 * taken as MiB, like the plugin's own values. Rounded up to whole bytes, at least 1, at most `max`.
 */
export function parseMpsSize(text: string, max: number): Parsed {
  const m = MPS_SIZE_RE.exec(text.trim());
  if (!m) return fail('is not a size');
  const frac = m[2] ?? '';
  const unit = (m[3] ?? 'M').toUpperCase()[0];
  const r = toInteger({ mantissa: BigInt(m[1] + frac), binary: MPS_SHIFT[unit], decimal: -frac.length, negative: false }, 1, max, false);
  if (r.ok && r.value === 0) return fail('must be more than 0');
  return r;
}

/** Human form for messages: binary units, at most one decimal ("15.9Gi", "512Mi"). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const abs = Math.abs(bytes);
  const units: [string, number][] = [
    ['Ti', 2 ** 40],
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ];
  for (const [u, f] of units) {
    if (abs >= f) {
      const v = bytes / f;
      const s = Number.isInteger(v) ? String(v) : v.toFixed(1).replace(/\.0$/, '');
      return `${s}${u}`;
    }
  }
  return `${bytes}B`;
}

/** milli-GPU → "25%" (one decimal when needed). */
export function formatMilli(milli: number): string {
  const pct = milli / 10;
  return `${Number.isInteger(pct) ? pct : pct.toFixed(1)}%`;
}
