// Charts as inline SVG: a time series (lines, optionally as steps), columns per time bucket,
// and horizontal bars for breakdowns. A chart library would be larger than the console.

import { h, s, fill } from './dom.js';

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** Drawn at the container's own width, so text keeps its size on a phone. */
const widthOf = (el) => Math.max(300, Math.round(el.clientWidth || 640));
const PAD = { left: 56, right: 16, top: 10, bottom: 22 };

/**
 * About `count` round tick values covering 0..max (1, 2, 2.5 or 5 times a power of ten);
 * `integer` keeps steps whole, for counts.
 */
export function niceTicks(max, count = 4, integer = false) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((st) => st >= raw);
  if (integer) step = Math.max(1, Math.ceil(step));
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Tick times for a span: whole minutes, hours or days, about `count` of them. */
export function timeTicks(from, to, count = 6) {
  const steps = [60e3, 300e3, 600e3, 1800e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 7 * 86400e3];
  const step = steps.find((st) => (to - from) / st <= count) ?? steps[steps.length - 1];
  const ticks = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

function timeLabel(t, span) {
  const d = new Date(t);
  if (span > 2 * 86400e3) return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}

function frame(W, height, yMax, from, to, yFormat, integer) {
  const x = (t) => PAD.left + ((t - from) / Math.max(1, to - from)) * (W - PAD.left - PAD.right);
  const y = (v) => height - PAD.bottom - (v / yMax) * (height - PAD.top - PAD.bottom);
  const parts = [];
  for (const v of niceTicks(yMax, 4, integer)) {
    if (v > yMax) continue;
    parts.push(s('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    parts.push(s('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, yFormat(v)));
  }
  for (const t of timeTicks(from, to, Math.max(2, Math.floor(W / 110)))) {
    // Labels at the edges are anchored inward so they are not cut off.
    const anchor = x(t) > W - PAD.right - 24 ? 'end' : x(t) < PAD.left + 24 ? 'start' : 'middle';
    parts.push(s('text', { x: x(t), y: height - 6, 'text-anchor': anchor }, timeLabel(t, to - from)));
  }
  parts.push(s('line', { class: 'axis', x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0) }));
  return { x, y, parts };
}

function legend(entries) {
  return h('div', { class: 'legend' }, entries.map(([name, color, extra]) => {
    const swatch = h('i');
    swatch.style.background = color;
    return h('span', {}, swatch, name, extra ? h('b', {}, ` ${extra}`) : null);
  }));
}

/**
 * Lines over time. `series`: [{name, points: [[t, v], …], color?}]; `yMax` at least this;
 * `step`: values hold until the next point (samples of a level, like GPUs allocated).
 */
export function lineChart(el, { series, from, to, height = 180, yMax = 0, yFormat = String, step = true, integer = false, title }) {
  const max = Math.max(yMax, ...series.flatMap((se) => se.points.map((p) => p[1])), 1);
  const top = niceTicks(max, 4, integer).at(-1);
  const W = widthOf(el);
  const { x, y, parts } = frame(W, height, top, from, to, yFormat, integer);
  series.forEach((se, i) => {
    const color = se.color ?? PALETTE[i % PALETTE.length];
    const pts = se.points.filter(([t]) => t >= from && t <= to);
    if (!pts.length) return;
    let d = `M${x(pts[0][0]).toFixed(1)},${y(pts[0][1]).toFixed(1)}`;
    for (let k = 1; k < pts.length; k += 1) {
      const [t, v] = pts[k];
      if (!step) d += `L${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      // A level that holds needs no point of its own until it changes or the line ends.
      else if (v !== pts[k - 1][1] || k === pts.length - 1) d += `H${x(t).toFixed(1)}V${y(v).toFixed(1)}`;
    }
    parts.push(s('path', { d, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round' }));
    const [lt, lv] = pts.at(-1);
    parts.push(s('circle', { cx: x(lt), cy: y(lv), r: 3, fill: color }, s('title', {}, `${se.name}: ${yFormat(lv)}`)));
  });
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-label': title ?? 'chart' }, parts);
  const entries = series.map((se, i) => [se.name, se.color ?? PALETTE[i % PALETTE.length], se.points.length ? yFormat(se.points.at(-1)[1]) : '']);
  fill(el, svg, legend(entries));
}

/** Columns per time bucket: `buckets` [{t, value}] of width `bucketMs`, between `from` and `to`. */
export function columnChart(el, { buckets, from, to, bucketMs, height = 180, yFormat = String, color = PALETTE[0], integer = false, title }) {
  const max = Math.max(...buckets.map((b) => b.value), 0) || 1;
  const top = niceTicks(max, 4, integer).at(-1);
  const W = widthOf(el);
  const { x, y, parts } = frame(W, height, top, from, to, yFormat, integer);
  const width = Math.max(1, x(from + bucketMs) - x(from) - 1);
  for (const b of buckets) {
    if (b.t + bucketMs < from || b.t > to) continue;
    const x0 = Math.max(PAD.left, x(b.t));
    const x1 = Math.min(W - PAD.right, x0 + width);
    const top0 = y(b.value);
    parts.push(s('rect', { x: x0, y: top0, width: Math.max(1, x1 - x0), height: y(0) - top0, fill: color, rx: 1 },
      s('title', {}, `${timeLabel(b.t, to - from)}: ${yFormat(b.value)}`)));
  }
  fill(el, s('svg', { viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-label': title ?? 'chart' }, parts));
}

/** Horizontal bars for a breakdown: [{label, value}], longest first. */
export function hbars(el, rows, { format = String, empty = 'No data in this period.' } = {}) {
  if (!rows.length) {
    fill(el, h('p', { class: 'empty' }, empty));
    return;
  }
  const max = Math.max(...rows.map((r) => r.value)) || 1;
  fill(el, h('div', { class: 'hbars' }, rows.map((r, i) => {
    const span = h('span');
    span.style.width = `${((r.value / max) * 100).toFixed(1)}%`;
    span.style.background = PALETTE[i % PALETTE.length];
    return h('div', { class: 'hbar' }, h('span', { class: 'mono' }, r.label), h('div', { class: 'bar' }, span), h('b', {}, format(r.value)));
  })));
}
