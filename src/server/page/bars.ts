// One bar per accounted dimension of a GPU: used of capacity, marked when over capacity (pods bound
// outside the scheduler). Widths are classes (w0…w100, style.ts), not inline styles: the page's
// Content-Security-Policy allows no inline style.

import type { Dimension } from '../../explain/ledger-view.js';
import { html, type Html } from './html.js';

export function dimensionKey(d: Dimension): string {
  return d.name === 'mig' ? `mig-${d.profile ?? ''}` : d.name;
}

export function dimensionLabel(d: Dimension): string {
  return d.name === 'mig' ? (d.profile ?? 'MIG') : d.name;
}

export function bar(d: Dimension): Html {
  const ratio = d.capacity > 0 ? d.used / d.capacity : d.used > 0 ? 1 : 0;
  const width = Math.max(0, Math.min(100, Math.round(ratio * 100)));
  const over = d.used > d.capacity;
  return html`<div class="bar${over ? ' over' : ''}" data-dim="${dimensionKey(d)}" role="meter" aria-label="${dimensionLabel(d)}" aria-valuemin="0" aria-valuemax="${d.capacity}" aria-valuenow="${d.used}"><span class="dim">${dimensionLabel(d)}</span><span class="track"><span class="fill w${width}"></span></span><span class="val">${d.text}${over ? ' over capacity' : ''}</span></div>`;
}
