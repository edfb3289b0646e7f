// Small DOM helpers. Everything the API returns reaches the page as text nodes or attribute
// values, never as HTML, so a job named `<script>` is just a job with an odd name.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** `h('td', {class: 'num'}, '42')` → an element. */
export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
/** The same for SVG elements. */
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

export const $ = (selector, root = document) => root.querySelector(selector);

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  build(el, {}, children);
  return el;
}

const KIB = 1024;
export const fmt = {
  int: (n) => (n ?? 0).toLocaleString('en-US'),
  bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    let v = n;
    while (v >= KIB && i < units.length - 1) {
      v /= KIB;
      i += 1;
    }
    return `${v >= 100 || i === 0 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
  },
  mib: (n) => fmt.bytes(n * KIB * KIB),
  /** Milli-GPUs as GPUs: 2500 → "2.5". */
  gpus: (milli) => String(Math.round(milli / 10) / 100),
  /** Milli-cores in words: 1000 → "1 core", 250 → "0.25 cores". */
  cores: (milli) => `${Math.round(milli / 10) / 100} core${milli === 1000 ? '' : 's'}`,
  count: (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : fmt.int(n)),
  usd(v) {
    if (!v) return '$0';
    if (Math.abs(v) < 0.01) return `$${v.toPrecision(3)}`;
    return `$${v.toFixed(2)}`;
  },
  /** Dollars for an axis: two significant digits, in micro-dollars below a tenth of a cent. */
  usdShort: (v) => (v && Math.abs(v) < 0.001 ? `${Number((v * 1e6).toPrecision(2))} µ$` : `$${Number(v.toPrecision(2))}`),
  ms: (v) => (v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`),
  duration(ms) {
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  },
  ago: (ms) => (ms ? `${fmt.duration(Math.max(0, Date.now() - ms))} ago` : 'never'),
  time: (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }),
  datetime: (ms) => new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }),
};

/** A state badge coloured by what it means. */
export function badge(text, kind) {
  const auto = {
    ready: 'ok', running: 'ok', succeeded: 'ok', live: 'ok',
    pending: 'warn', assigned: 'warn', cordoned: 'warn', draining: 'warn', starting: 'warn',
    failed: 'bad', lost: 'bad', 'not ready': 'bad', not_ready: 'bad', revoked: 'dim', expired: 'dim', cancelled: 'dim',
  };
  return h('span', { class: `badge ${kind ?? auto[text] ?? ''}` }, text.replace('_', ' '));
}

/** A labelled bar: `used` of `total`, turning amber past 80 % and red when full. */
export function meter(label, used, total, text) {
  const frac = total > 0 ? Math.min(1, used / total) : 0;
  const span = h('span');
  span.style.width = `${(frac * 100).toFixed(1)}%`;
  const level = frac >= 0.999 ? 'full' : frac >= 0.8 ? 'high' : '';
  return h('div', { class: 'meter' }, h('div', {}, label, ' ', h('b', {}, text)), h('div', { class: `bar ${level}` }, span));
}

/**
 * A table from column definitions: `{label, cell: row => node|string, num: bool}`.
 * `empty` is what to say when there are no rows.
 */
export function table(columns, rows, { empty = 'Nothing here yet.', foot, id } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  const head = h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.label)));
  const body = rows.map((r) => h('tr', { 'data-id': r.id ?? null }, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(r)))));
  const tfoot = foot ? h('tfoot', {}, h('tr', {}, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(foot))))) : null;
  return h('div', { class: 'table-wrap' }, h('table', { id }, h('thead', {}, head), h('tbody', {}, body), tfoot));
}

/** An error in words, with what a 403 or 404 means here. */
export function errorBox(e) {
  let text = e.message || String(e);
  if (e.status === 403) text = `Not allowed with this token: ${text}`;
  if (e.status === 404) text = `Not found (or not yours to see): ${text}`;
  return h('p', { class: 'error', role: 'alert' }, text);
}

/** Shows `e` in `el`, or clears `el` when `e` is null. */
export function showError(el, e) {
  if (e) fill(el, errorBox(e));
  else el.replaceChildren();
}

/**
 * Calls `fn` now and then every `ms` while the tab is visible, never two at once. Returns a
 * function that stops it. Errors go to `onError` (the page shows them) and polling continues.
 */
export function every(ms, fn, onError = console.error) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    if (document.visibilityState !== 'hidden') {
      try {
        await fn();
        onError(null);
      } catch (e) {
        if (e.name !== 'AbortError') onError(e);
      }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  const wake = () => {
    if (document.visibilityState === 'visible' && timer !== null) {
      clearTimeout(timer);
      tick();
    }
  };
  document.addEventListener('visibilitychange', wake);
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', wake);
  };
}

/** Buttons armed by a first click, by key, until when: pages re-render every few seconds, and
 * a re-rendered button must stay armed. */
const armedUntil = new Map();
const ARM_MS = 4000;

/**
 * A button that asks again before acting: the first click arms it ("Confirm revoke"), a second
 * within 4 s acts. Safer than nothing, and unlike `confirm()` it does not block the page.
 * `key` names what it acts on, so the armed state survives the page redrawing the button.
 */
export function twoStep(label, action, { key = label, cls = 'danger small', confirmLabel = `Confirm ${label.toLowerCase()}` } = {}) {
  const btn = h('button', { type: 'button', class: cls }, label);
  const armed = () => (armedUntil.get(key) ?? 0) > Date.now();
  const show = () => {
    btn.textContent = armed() ? confirmLabel : label;
  };
  if (armed()) {
    show();
    setTimeout(show, armedUntil.get(key) - Date.now() + 10);
  }
  btn.addEventListener('click', async () => {
    if (!armed()) {
      armedUntil.set(key, Date.now() + ARM_MS);
      show();
      setTimeout(show, ARM_MS + 10);
      return;
    }
    armedUntil.delete(key);
    btn.disabled = true;
    try {
      await action();
    } finally {
      btn.disabled = false;
      show();
    }
  });
  return btn;
}

/** A segmented control; `onChange(value)` on click. Returns the element. */
export function segmented(options, current, onChange) {
  const el = h('div', { class: 'seg', role: 'group' });
  const render = (value) => {
    fill(el, options.map(([v, label]) => h('button', {
      type: 'button', 'aria-pressed': String(v === value), 'data-value': v,
      onclick: () => {
        render(v);
        onChange(v);
      },
    }, label)));
  };
  render(current);
  return el;
}

/** Reads a form's named fields into an object of trimmed strings (empty ones left out). */
export function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) {
    const t = String(v).trim();
    if (t !== '') out[k] = t;
  }
  return out;
}

/** A number from a form value, or undefined when absent. */
export const num = (v) => (v === undefined || v === '' ? undefined : Number(v));
