// Fleet: nodes with their accelerators and allocation now (GET /api/v1/nodes, every 3 s), and
// charts of the last hours from the server's samples (GET /api/v1/fleet/history).

import { get, post } from '../api.js';
import { $, h, fill, fmt, badge, meter, every, showError, segmented, twoStep } from '../dom.js';
import { lineChart } from '../chart.js';

const SPANS = [['1h', '1 h', 3600e3], ['3h', '3 h', 3 * 3600e3], ['6h', '6 h', 6 * 3600e3]];
const VENDORS = { nvidia: 'NVIDIA', amd: 'AMD', ascend: 'Ascend', apple: 'Apple', intel: 'Intel', other: 'Other' };

export function nodeState(n) {
  if (n.state === 'not_ready') return 'not ready';
  if (n.draining) return 'draining';
  if (n.cordoned) return 'cordoned';
  return 'ready';
}

function device(a, milli, usage) {
  const util = usage?.utilization_percent;
  const used = usage?.memory_used_mib;
  return h('div', { class: 'device', 'data-index': a.index },
    h('div', { class: 'model' }, `GPU ${a.index} · ${a.model}`),
    h('div', { class: 'muted' }, `${VENDORS[a.vendor] ?? a.vendor} · ${fmt.mib(a.memory_mib)} `,
      a.emulated ? badge('emulated', 'dim') : badge('real', 'ok')),
    meter('allocated', milli, 1000, `${fmt.gpus(milli)} of 1`),
    util != null ? meter('utilisation', util, 100, `${util}%`) : null,
    used != null ? meter('memory used', used, a.memory_mib, fmt.mib(used)) : null);
}

function actions(n, refresh, who) {
  if (!who.admin) return null;
  const act = (what) => async () => {
    await post(`/api/v1/nodes/${encodeURIComponent(n.name)}/${what}`);
    await refresh();
  };
  return h('div', { class: 'actions' },
    n.cordoned
      ? h('button', { type: 'button', class: 'secondary small', onclick: act('uncordon') }, 'Uncordon')
      : h('button', { type: 'button', class: 'secondary small', onclick: act('cordon') }, 'Cordon'),
    n.draining ? null : twoStep('Drain', act('drain'), { key: `drain-${n.name}` }));
}

function nodeCard(n, refresh, who) {
  const inv = n.inventory;
  const held = new Map(n.allocated.gpu_milli.map((d) => [d.index, d.milli]));
  const usage = new Map(n.usage.map((u) => [u.index, u]));
  const gpuTotal = inv.accelerators.length * 1000;
  const gpuHeld = [...held.values()].reduce((a, b) => a + b, 0);
  const state = nodeState(n);
  return h('article', { class: 'node', 'data-node': n.name },
    h('header', {},
      h('h2', {}, n.name), badge(state),
      h('span', { class: 'muted' }, `${n.address} · ${inv.cpu_cores} cores · ${fmt.mib(inv.memory_mib)} · heartbeat ${fmt.ago(n.last_heartbeat_ms)} · ${n.allocated.tasks} task${n.allocated.tasks === 1 ? '' : 's'}`),
      actions(n, refresh, who)),
    h('div', { class: 'meters' },
      meter('CPU allocated', n.allocated.cpu_milli, inv.cpu_cores * 1000, `${Math.round(n.allocated.cpu_milli / 10) / 100} of ${inv.cpu_cores} cores`),
      meter('Memory allocated', n.allocated.memory_mib, inv.memory_mib, `${fmt.mib(n.allocated.memory_mib)} of ${fmt.mib(inv.memory_mib)}`),
      gpuTotal ? meter('GPUs allocated', gpuHeld, gpuTotal, `${fmt.gpus(gpuHeld)} of ${inv.accelerators.length}`) : null),
    inv.accelerators.length
      ? h('div', { class: 'devices' }, inv.accelerators.map((a) => device(a, held.get(a.index) ?? 0, usage.get(a.index))))
      : h('p', { class: 'muted' }, 'No accelerators: CPU only.'));
}

function card(label, value, sub, id) {
  return h('div', { class: 'card', id }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), sub ? h('div', { class: 'sub' }, sub) : null);
}

function summary(nodes, latest) {
  const ready = nodes.filter((n) => nodeState(n) === 'ready').length;
  const byModel = new Map();
  let cores = 0;
  let coresHeld = 0;
  for (const n of nodes) {
    cores += n.inventory.cpu_cores;
    coresHeld += n.allocated.cpu_milli;
    const held = new Map(n.allocated.gpu_milli.map((d) => [d.index, d.milli]));
    for (const a of n.inventory.accelerators) {
      const m = byModel.get(a.model) ?? { total: 0, held: 0 };
      m.total += 1;
      m.held += held.get(a.index) ?? 0;
      byModel.set(a.model, m);
    }
  }
  const gpus = [...byModel.values()].reduce((acc, m) => ({ total: acc.total + m.total, held: acc.held + m.held }), { total: 0, held: 0 });
  const models = [...byModel.entries()].map(([model, m]) => `${model}: ${fmt.gpus(m.held)}/${m.total}`).join(' · ');
  fill($('#summary'),
    card('Nodes ready', `${ready} / ${nodes.length}`, nodes.length - ready ? `${nodes.length - ready} cordoned, draining or not ready` : 'all schedulable', 'card-nodes'),
    card('GPUs allocated', `${fmt.gpus(gpus.held)} / ${gpus.total}`, models || 'no accelerators', 'card-gpus'),
    card('CPU allocated', `${Math.round(coresHeld / 10) / 100} / ${cores}`, 'cores'),
    card('Queue', latest ? `${latest.pending} pending` : '…', latest ? `${latest.running} running · sampled ${fmt.ago(latest.at_ms)}` : 'waiting for the first sample', 'card-queue'));
}

export async function mount(main, { who }) {
  let nodes = [];
  let samples = [];
  let span = SPANS[0][2];
  let pollMs = 10000;

  const charts = () => {
    const to = Date.now();
    const from = to - span;
    const models = new Map();
    for (const smp of samples) {
      for (const g of smp.gpus) {
        const m = models.get(g.model) ?? { total: 0, points: [] };
        m.total = Math.max(m.total, g.total);
        m.points.push([smp.at_ms, g.allocated_milli / 1000]);
        models.set(g.model, m);
      }
    }
    const series = [...models.entries()].map(([model, m]) => ({ name: `${model} (of ${m.total})`, points: m.points }));
    const yMax = Math.max(0, ...[...models.values()].map((m) => m.total));
    if (series.length) lineChart($('#chart-gpus'), { series, from, to, yMax, yFormat: (v) => fmt.gpus(v * 1000), title: 'GPUs allocated by chip model' });
    else fill($('#chart-gpus'), h('p', { class: 'empty' }, samples.length ? 'No accelerators in the fleet.' : 'Waiting for the first sample…'));
    const queue = [
      { name: 'pending', points: samples.map((x) => [x.at_ms, x.pending]), color: '#d29922' },
      { name: 'running', points: samples.map((x) => [x.at_ms, x.running]), color: '#2ca02c' },
    ];
    lineChart($('#chart-queue'), { series: queue, from, to, yMax: 1, integer: true, title: 'Queue length' });
  };

  fill($('#span'), segmented(SPANS.map(([v, label]) => [v, label]), SPANS[0][0], (v) => {
    span = SPANS.find((x) => x[0] === v)[2];
    charts();
  }));

  const refreshNodes = async () => {
    ({ nodes } = await get('/api/v1/nodes'));
    summary(nodes, samples.at(-1));
    fill($('#nodes'), nodes.length ? nodes.map((n) => nodeCard(n, refreshNodes, who)) : h('p', { class: 'empty' }, 'No nodes yet: start `strata agent` on a machine.'));
    $('#nodes-updated').textContent = `updated ${fmt.time(Date.now())}`;
  };

  const refreshHistory = async () => {
    const since = samples.at(-1)?.at_ms;
    const hist = await get(`/api/v1/fleet/history${since ? `?since_ms=${since}` : ''}`);
    pollMs = Math.min(10000, Math.max(1000, hist.interval_ms));
    samples = samples.concat(hist.samples).filter((x) => x.at_ms >= Date.now() - SPANS.at(-1)[2]);
    charts();
    summary(nodes, samples.at(-1));
  };

  const onError = (e) => showError($('#fleet-error'), e);
  every(3000, refreshNodes, onError);
  // The history's interval is only known after the first answer; poll at that pace after.
  await refreshHistory().catch(onError);
  every(pollMs, refreshHistory, onError);
}
