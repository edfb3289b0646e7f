// Usage and cost: GET /api/v1/usage for the chosen period, tenant, key and model — totals,
// hourly or daily series for the charts, and a breakdown table. The CSV export is made here in
// the browser from the same rows the table shows.

import { get, qs } from '../api.js';
import { $, h, fill, fmt, every, showError, table, formValues } from '../dom.js';
import { columnChart, hbars, PALETTE } from '../chart.js';
import { toCsv, download } from '../csv.js';

const HOUR = 3600e3;
const DAY = 86400e3;

/** Exact dollars from pico-dollars, as a decimal string ("0.000012500000"). */
export function picoToUsd(pico) {
  const p = BigInt(pico);
  const neg = p < 0n;
  const abs = neg ? -p : p;
  const whole = abs / 1_000_000_000_000n;
  const frac = (abs % 1_000_000_000_000n).toString().padStart(12, '0');
  return `${neg ? '-' : ''}${whole}.${frac}`;
}

/** The period the form asks for, as [since_ms, until_ms]. */
function period(v) {
  if (v.period === 'custom') {
    const from = v.from ? new Date(v.from).getTime() : Date.now() - DAY;
    const to = v.to ? new Date(v.to).getTime() : Date.now();
    return [from, Math.max(from + 60e3, to)];
  }
  const now = Date.now();
  return [now - Number(v.period || DAY), now];
}

export async function mount(main, { who }) {
  const form = $('#usage-filters');
  const onError = (e) => showError($('#usage-error'), e);
  const keyNames = new Map();
  let lastRows = [];
  let lastTotal = null;
  let lastGroup = 'model';

  const label = (group, value) => {
    if (group === 'hour' || group === 'day') return fmt.datetime(Number(value));
    // Key 0 is the admin token, which is no tenant's key.
    if (group === 'key') return Number(value) === 0 ? 'admin token' : keyNames.get(Number(value)) ?? `key ${value}`;
    return value || '(none)';
  };

  const loadKeys = async (tenant) => {
    const select = $('#usage-key');
    const chosen = select.value;
    fill(select, h('option', { value: '' }, 'all keys'));
    const tenants = tenant ? [tenant] : who.admin ? (await get('/api/v1/tenants')).tenants.map((t) => t.name) : [who.tenant];
    for (const t of tenants) {
      const { keys } = await get(`/api/v1/tenants/${encodeURIComponent(t)}/keys`);
      for (const k of keys) {
        const name = `${k.id} · ${k.name || 'unnamed'} (${k.hint})${who.admin && !tenant ? ` · ${t}` : ''}`;
        keyNames.set(k.id, name);
        if (tenant || !who.admin) select.append(h('option', { value: k.id }, name));
      }
    }
    select.value = chosen;
  };

  const refresh = async () => {
    const v = formValues(form);
    const [since, until] = period(v);
    const group = v.group_by || 'model';
    const bucket = until - since > 3 * DAY ? 'day' : 'hour';
    const filter = { tenant: v.tenant, key: v.key, model: v.model, since_ms: since, until_ms: until };
    const [report, series] = await Promise.all([
      get(`/api/v1/usage${qs({ ...filter, group_by: group })}`),
      get(`/api/v1/usage${qs({ ...filter, group_by: bucket })}`),
    ]);
    const t = report.total;
    const card = (name, value, sub, id) => h('div', { class: 'card', id }, h('div', { class: 'label' }, name), h('div', { class: 'value' }, value), sub ? h('div', { class: 'sub' }, sub) : null);
    fill($('#totals'),
      card('Requests', fmt.int(t.requests), `${fmt.int(t.errors)} errors`, 'total-requests'),
      card('Prompt tokens', fmt.int(t.prompt_tokens), null, 'total-prompt'),
      card('Completion tokens', fmt.int(t.completion_tokens), null, 'total-completion'),
      card('Cost', fmt.usd(t.cost_usd), `exactly $${picoToUsd(t.cost_pico_usd)}`, 'total-cost'),
      card('Mean latency', fmt.ms(t.mean_latency_ms), null));
    const buckets = series.rows.map((r) => ({ t: Number(r.group), value: r.cost_usd, requests: r.requests }));
    const bucketMs = bucket === 'day' ? DAY : HOUR;
    $('#series-unit').textContent = `per ${bucket}`;
    columnChart($('#chart-cost'), { buckets, from: since, to: until, bucketMs, yFormat: fmt.usdShort, title: 'Cost over time' });
    columnChart($('#chart-requests'), { buckets: buckets.map((b) => ({ t: b.t, value: b.requests })), from: since, to: until, bucketMs, color: PALETTE[2], integer: true, title: 'Requests over time' });
    $('#breakdown-title').textContent = `Cost by ${group}`;
    hbars($('#breakdown'), report.rows.map((r) => ({ label: label(group, r.group), value: r.cost_usd })).sort((a, b) => b.value - a.value), { format: fmt.usd });
    lastRows = report.rows;
    lastTotal = { ...t, group: 'total' };
    lastGroup = group;
    fill($('#usage-table'), table([
      { label: group, cell: (r) => (r === lastTotal ? 'Total' : label(group, r.group)) },
      { label: 'Requests', num: true, cell: (r) => fmt.int(r.requests) },
      { label: 'Errors', num: true, cell: (r) => fmt.int(r.errors) },
      { label: 'Prompt tokens', num: true, cell: (r) => fmt.int(r.prompt_tokens) },
      { label: 'Completion tokens', num: true, cell: (r) => fmt.int(r.completion_tokens) },
      { label: 'Cost (USD)', num: true, cell: (r) => h('span', { title: `$${picoToUsd(r.cost_pico_usd)}` }, fmt.usd(r.cost_usd)) },
      { label: 'Mean latency', num: true, cell: (r) => fmt.ms(r.mean_latency_ms) },
    ], report.rows, { empty: 'No requests in this period.', foot: report.rows.length ? lastTotal : null, id: 'usage-rows' }));
    $('#usage-updated').textContent = `${fmt.datetime(since)} – ${fmt.datetime(until)}`;
  };

  $('#export').addEventListener('click', () => {
    const csv = toCsv([
      [lastGroup, (r) => (r === lastTotal ? 'total' : r.group)],
      ['label', (r) => (r === lastTotal ? '' : label(lastGroup, r.group))],
      ['requests', (r) => r.requests],
      ['errors', (r) => r.errors],
      ['prompt_tokens', (r) => r.prompt_tokens],
      ['completion_tokens', (r) => r.completion_tokens],
      ['cost_usd', (r) => picoToUsd(r.cost_pico_usd)],
      ['mean_latency_ms', (r) => r.mean_latency_ms.toFixed(1)],
    ], lastTotal ? [...lastRows, lastTotal] : lastRows);
    download(`strata-usage-by-${lastGroup}-${new Date().toISOString().slice(0, 16).replace(':', '')}.csv`, csv);
  });

  form.addEventListener('submit', (ev) => ev.preventDefault());
  form.addEventListener('change', async (ev) => {
    for (const el of form.querySelectorAll('.custom')) el.hidden = $('#period').value !== 'custom';
    if (ev.target.id === 'usage-tenant') await loadKeys(ev.target.value).catch(onError);
    refresh().catch(onError);
  });

  // Choices for the selects: tenants (admin), keys, and the models that were used or deployed.
  if (who.admin) {
    for (const t of (await get('/api/v1/tenants').catch(() => ({ tenants: [] }))).tenants) $('#usage-tenant').append(h('option', { value: t.name }, t.name));
  }
  await loadKeys('').catch(onError);
  const models = new Set();
  const used = await get(`/api/v1/usage${qs({ group_by: 'model', since_ms: Date.now() - 90 * DAY })}`).catch(() => ({ rows: [] }));
  used.rows.forEach((r) => models.add(r.group));
  const deployed = await get('/api/v1/deployments').catch(() => ({ deployments: [] }));
  deployed.deployments.forEach((d) => models.add(d.name));
  for (const m of [...models].filter(Boolean).sort()) $('#usage-model').append(h('option', { value: m }, m));

  every(5000, refresh, onError);
}
