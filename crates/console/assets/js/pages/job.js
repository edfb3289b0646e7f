// One job: what it asks for, where it runs, its events, and its output followed live
// (GET /api/v1/jobs/{id}/logs?follow=true streams until the job ends).

import { get, post, request } from '../api.js';
import { $, h, fill, fmt, badge, every, showError, table } from '../dom.js';
import { resources, placement } from './jobs.js';

/** Most log text kept on the page; older output is dropped from the top. */
const MAX_LOG_CHARS = 2_000_000;

function facts(job) {
  const spec = job.spec;
  const rows = [
    ['Tenant', job.tenant_name],
    ['Command', h('code', {}, spec.command.map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' '))],
    ['Asks for', resources(spec)],
    ['Priority', String(spec.priority)],
    ['Attempts', `${job.attempt} (retries allowed: ${spec.max_retries})`],
    ['Submitted', `${fmt.datetime(job.created_at_ms)} (${fmt.ago(job.created_at_ms)})`],
    ['Updated', `${fmt.datetime(job.updated_at_ms)} (${fmt.ago(job.updated_at_ms)})`],
  ];
  if (job.state === 'pending') rows.push(['Why it waits', h('span', { class: 'reason', id: 'reason' }, job.reason || 'waiting for the scheduler')]);
  const where = placement(job);
  if (where) rows.push(['Placement', where]);
  return rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]);
}

const TASK_COLUMNS = [
  { label: 'Rank', num: true, cell: (t) => String(t.replica) },
  { label: 'Node', cell: (t) => t.node_name },
  { label: 'GPUs', cell: (t) => t.gpus.map((g) => (g.milli === 1000 ? g.index : `${g.index} (${fmt.gpus(g.milli)})`)).join(', ') || '—' },
  { label: 'State', cell: (t) => badge(t.state) },
  { label: 'Exit', num: true, cell: (t) => (t.exit_code ?? '') },
  { label: 'Message', cell: (t) => t.message ?? '' },
];

/** Streams the logs into `pre` until the job ends; reconnects (from the start) if cut. */
async function followLogs(id, pre, status, isDone) {
  for (;;) {
    pre.textContent = '';
    status.textContent = 'following…';
    try {
      const res = await request(`/api/v1/jobs/${id}/logs?follow=true`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pre.append(value);
        if (pre.textContent.length > MAX_LOG_CHARS) pre.textContent = pre.textContent.slice(-MAX_LOG_CHARS / 2);
        if ($('#autoscroll').checked) pre.scrollTop = pre.scrollHeight;
      }
      if (isDone()) {
        status.textContent = pre.textContent ? 'complete' : 'complete — the job printed nothing';
        return;
      }
    } catch (e) {
      status.textContent = `cut off (${e.message}); reconnecting…`;
    }
    // The stream closes when the job ends; if it closed early, wait a moment and read again.
    await new Promise((r) => setTimeout(r, 2000));
    if (isDone()) {
      status.textContent = 'complete';
      return;
    }
  }
}

export async function mount(main, { param }) {
  const id = Number(param);
  let job = null;
  const onError = (e) => showError($('#job-error'), e);

  const refresh = async () => {
    const [j, events] = await Promise.all([get(`/api/v1/jobs/${id}`), get(`/api/v1/jobs/${id}/events`)]);
    job = j;
    document.title = `Job ${id} · ${job.name} · Strata`;
    fill($('#job-title'), `Job ${id} · ${job.name}`);
    fill($('#job-state'), badge(job.state));
    $('#cancel').hidden = ['succeeded', 'failed', 'cancelled'].includes(job.state);
    fill($('#facts'), facts(job));
    fill($('#tasks'), table(TASK_COLUMNS, job.tasks, { empty: job.state === 'pending' ? 'Not placed yet.' : 'No tasks.' }));
    fill($('#events'), events.map((e) => h('li', {}, h('span', { class: 'muted', title: fmt.datetime(e.at_ms) }, fmt.time(e.at_ms)), badge(e.kind), h('span', { class: 'msgtext' }, e.message))));
  };
  const done = () => job && ['succeeded', 'failed', 'cancelled'].includes(job.state);

  $('#cancel').addEventListener('click', async () => {
    try {
      await post(`/api/v1/jobs/${id}/cancel`);
      await refresh();
    } catch (e) {
      onError(e);
    }
  });

  try {
    await refresh();
  } catch (e) {
    onError(e);
    return;
  }
  const stop = every(2000, async () => {
    await refresh();
    if (done()) stop();
  }, onError);
  followLogs(id, $('#logs'), $('#logs-state'), done);
}
