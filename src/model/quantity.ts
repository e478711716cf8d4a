// Kubernetes quantities ("128Gi", "1.5G", "512M", "500m") and the MPS env's sizes ("16G", "512M",
// "512MB"). @kubernetes/client-node's quantityToScalar is not exported from its entry point and
// throws on decimals with binary suffixes ("1.5Gi"), so the grammar lives here, once.

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY_RE = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/** Parses a Kubernetes resource quantity into a plain number (bytes for memory). */
export function parseQuantity(text: string): number | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return null;
  const m = QUANTITY_RE.exec(text.trim());
  if (!m) return null;
  const base = Number(m[1]);
  if (!Number.isFinite(base)) return null;
  let factor = 1;
  if (m[2] !== undefined) factor = BINARY[m[2]] ?? DECIMAL[m[2]] ?? 1;
  else if (m[3] !== undefined) factor = 10 ** Number(m[3]);
  const value = base * factor;
  return Number.isFinite(value) ? value : null;
}

/**
 * A CPU quantity ("500m", "2", 1.5) in whole milli-CPUs; 0 when missing or not a non-negative
 * quantity. CPU is advisory in gpu-ledger (the API server validates it), so this never fails.
 */
export function parseCpuMilli(raw: unknown): number {
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string') return 0;
  const v = parseQuantity(text);
  return v === null || v < 0 ? 0 : Math.round(v * 1000);
}

/** A memory quantity as whole bytes, or null when it is not a non-negative quantity. */
export function parseMemoryQuantity(text: string): number | null {
  const v = parseQuantity(text);
  if (v === null || v < 0) return null;
  return Math.round(v);
}

const MPS_SIZE_RE = /^(\d+(?:\.\d+)?)\s*(K|KB|KiB|M|MB|MiB|G|GB|GiB|T|TB|TiB)?$/i;

/**
 * Sizes in CUDA_MPS_PINNED_DEVICE_MEM_LIMIT. NVIDIA's device plugin writes `<n>M` meaning MiB
 * and the MPS docs show `1G` and `512MB`; all are binary (G = GiB, M = MiB). A bare number is
 * taken as MiB, like the plugin's own values.
 */
export function parseMpsSize(text: string): number | null {
  const m = MPS_SIZE_RE.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'M').toUpperCase()[0];
  const factor = unit === 'K' ? 2 ** 10 : unit === 'M' ? 2 ** 20 : unit === 'G' ? 2 ** 30 : 2 ** 40;
  const bytes = Math.round(n * factor);
  return Number.isFinite(bytes) && bytes > 0 ? bytes : null;
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
