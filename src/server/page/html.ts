// HTML from cluster data without injection: every interpolated value is escaped unless it is
// itself Html built here. Node, pod, namespace and label names, reasons and messages all come from
// the cluster (hostile input), so no renderer concatenates strings into markup: they use html``.

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and for double- or single-quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

function part(v: Value): string {
  // Booleans print ("true"/"false": data attributes); only null and undefined vanish.
  if (v === null || v === undefined) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(part).join('');
  return esc(String(v));
}

/** Tagged template: `html\`<td>${name}</td>\`` escapes `name`; arrays are joined; null and undefined vanish. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1];
  return new Html(out);
}

/** A relative link's query string, built from parts that are each URL-encoded (and then escaped by html``). */
export function query(params: URLSearchParams): string {
  const s = params.toString();
  return s ? `?${s}` : '';
}
