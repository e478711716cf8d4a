// The ledger page's script (served as /ui/ledger.js; type-checked by tsconfig.web.json). The
// server renders every piece of HTML (escaped there); this script only fetches fragments and puts
// them in place: live refresh of the list and of the open node or pod, filters without a reload,
// and pasted pods sent to POST ../explain. Error texts are shown with textContent, never as HTML.
'use strict';

(() => {
  const REFRESH_MS = 5000;

  /** @param {string} id */
  const byId = (id) => {
    const el = document.getElementById(id);
    if (!el) throw new Error(`page element #${id} missing`);
    return el;
  };
  const ledger = byId('ledger');
  const detail = byId('detail');
  const filters = /** @type {HTMLFormElement} */ (byId('filters'));
  const live = /** @type {HTMLInputElement} */ (byId('live'));
  const updated = byId('updated');
  const explainForm = /** @type {HTMLFormElement} */ (byId('explain-form'));
  const podYaml = /** @type {HTMLTextAreaElement} */ (byId('pod-yaml'));

  let offset = Number(new URLSearchParams(location.search).get('offset') ?? '0') || 0;
  /** What the detail pane shows: "node/<name>", "pod/<ns>/<name>", "pasted" or "". */
  let show = detail.dataset.show ?? '';
  let busy = false;
  /** A refresh was asked for while one was running (a filter changed): run it right after. */
  let again = false;

  /** The filters as query parameters (empty ones left out). */
  function filterParams() {
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (typeof v === 'string' && v.trim() !== '') p.set(k, v.trim());
    if (offset > 0) p.set('offset', String(offset));
    return p;
  }

  function syncUrl() {
    const p = filterParams();
    if (show && show !== 'pasted') p.set('show', show);
    const s = p.toString();
    history.replaceState(null, '', s ? `?${s}` : location.pathname);
  }

  /** @param {Response} res */
  async function errorText(res) {
    const text = await res.text();
    try {
      const j = JSON.parse(text);
      if (j && typeof j.Error === 'string') return j.Error;
    } catch {
      /* not JSON */
    }
    return `${res.status} ${res.statusText}`;
  }

  /** @param {HTMLElement} target @param {string} message */
  function showError(target, message) {
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = message;
    target.replaceChildren(p);
  }

  /** URL of the fragment for a detail view. @param {string} view */
  function detailUrl(view) {
    const [kind, ...rest] = view.split('/');
    if (kind === 'node' && rest.length === 1) return `part/node/${rest[0]}`;
    if (kind === 'pod' && rest.length === 2) return `../explain/${rest[0]}/${rest[1]}?format=html`;
    return null;
  }

  /** @param {string} url @param {HTMLElement} target @param {RequestInit} [init] */
  async function load(url, target, init) {
    const res = await fetch(url, { headers: { accept: 'text/html' }, cache: 'no-store', ...init });
    if (!res.ok) {
      showError(target, await errorText(res));
      return false;
    }
    target.innerHTML = await res.text();
    return true;
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const p = filterParams();
      const ok = await load(`part/ledger${p.toString() ? `?${p}` : ''}`, ledger);
      const url = detailUrl(show);
      if (url) await load(url, detail);
      updated.classList.toggle('error', !ok);
      updated.textContent = ok ? `updated ${new Date().toLocaleTimeString()}` : 'refresh failed';
    } catch (err) {
      updated.classList.add('error');
      updated.textContent = `cannot reach gpu-ledger (${err instanceof Error ? err.message : String(err)}); retrying`;
    } finally {
      busy = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  }

  /** @param {string} view */
  async function open(view) {
    const url = detailUrl(view);
    if (!url) return;
    show = view;
    detail.dataset.show = view;
    syncUrl();
    try {
      await load(url, detail);
    } catch (err) {
      showError(detail, `cannot reach gpu-ledger: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target.closest('a[data-show], a[data-offset]') : null;
    if (!(target instanceof HTMLAnchorElement) || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    ev.preventDefault();
    if (target.dataset.offset !== undefined) {
      offset = Number(target.dataset.offset) || 0;
      syncUrl();
      void refresh();
    } else if (target.dataset.show) void open(target.dataset.show);
  });

  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    offset = 0;
    syncUrl();
    void refresh();
  });
  filters.addEventListener('change', () => {
    offset = 0;
    syncUrl();
    void refresh();
  });

  explainForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    show = 'pasted';
    detail.dataset.show = show;
    syncUrl();
    try {
      await load('../explain?format=html', detail, { method: 'POST', headers: { 'content-type': 'application/yaml', accept: 'text/html' }, body: podYaml.value });
    } catch (err) {
      showError(detail, `cannot reach gpu-ledger: ${err instanceof Error ? err.message : String(err)}`);
    }
    detail.scrollIntoView({ block: 'nearest' });
  });

  // Live refresh by polling the server-rendered fragments; paused while the tab is hidden.
  setInterval(() => {
    if (live.checked && !document.hidden) void refresh();
  }, REFRESH_MS);
  live.addEventListener('change', () => {
    if (live.checked) void refresh();
    else updated.textContent = 'live refresh off';
  });
  updated.textContent = `loaded ${new Date().toLocaleTimeString()}`;
})();
