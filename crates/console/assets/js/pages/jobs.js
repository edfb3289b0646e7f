// Queues and jobs: pending and running jobs per tenant with their placement, and for every
// pending job the scheduler's reason in words (GET /api/v1/jobs, every 2 s).

import { get, post, qs } from '../api.js';
import { $, h, fill, fmt, badge, every, showError, table, formValues, num } from '../dom.js';

/** "2 × 1 GPU, 4 cores, 8 GiB": what one job asks for. */
export function resources(spec) {
  const r = spec.resources;
  const parts = [];
  if (r.gpu_milli) parts.push(`${fmt.gpus(r.gpu_milli)} GPU${r.gpu_milli === 1000 ? '' : 's'}${r.gpu_models.length ? ` (${r.gpu_models.join('|')})` : ''}`);
  parts.push(fmt.cores(r.cpu_milli), fmt.mib(r.memory_mib));
  return `${spec.replicas > 1 ? `${spec.replicas} × ` : ''}${parts.join(', ')}`;
}

/** Where a job runs: "rank 0 on vm GPU 0,1" per task of the current attempt. */
export function placement(job) {
  if (!job.tasks.length) return null;
  return job.tasks.map((t) => {
    const gpus = t.gpus.map((g) => (g.milli === 1000 ? `${g.index}` : `${g.index} (${fmt.gpus(g.milli)})`)).join(',');
    return `${job.tasks.length > 1 ? `rank ${t.replica} on ` : ''}${t.node_name}${gpus ? ` GPU ${gpus}` : ''}`;
  }).join('; ');
}

const COLUMNS = [
  { label: 'ID', cell: (j) => h('a', { href: `/console/jobs/${j.id}` }, String(j.id)) },
  { label: 'Name', cell: (j) => h('a', { href: `/console/jobs/${j.id}` }, j.name) },
  { label: 'Tenant', cell: (j) => j.tenant_name },
  { label: 'State', cell: (j) => badge(j.state) },
  { label: 'Asks for', cell: (j) => resources(j.spec) },
  {
    label: 'Placement, or why it waits',
    cell: (j) => (j.state === 'pending'
      ? h('span', { class: 'reason' }, j.reason || 'waiting for the scheduler')
      : placement(j) ?? h('span', { class: 'muted' }, '—')),
  },
  { label: 'Updated', cell: (j) => h('span', { title: fmt.datetime(j.updated_at_ms) }, fmt.ago(j.updated_at_ms)) },
];

function gpusHeld(job) {
  return job.tasks.filter((t) => t.state === 'running' || t.state === 'assigned')
    .reduce((acc, t) => acc + t.gpus.reduce((a, g) => a + g.milli, 0), 0);
}

function queues(active, tenants) {
  const by = new Map(tenants.map((t) => [t.name, { name: t.name, quota: t.quota, pending: 0, running: 0, gpu: 0 }]));
  for (const j of active) {
    const q = by.get(j.tenant_name) ?? { name: j.tenant_name, pending: 0, running: 0, gpu: 0 };
    if (j.state === 'pending') q.pending += 1;
    if (j.state === 'running') q.running += 1;
    q.gpu += gpusHeld(j);
    by.set(j.tenant_name, q);
  }
  const rows = [...by.values()].sort((a, b) => (b.pending + b.running) - (a.pending + a.running) || a.name.localeCompare(b.name));
  const quota = (q) => {
    if (!q.quota) return h('span', { class: 'muted' }, '—');
    const g = q.quota.gpu_milli;
    return g == null ? 'no GPU limit' : `${fmt.gpus(g)} GPUs`;
  };
  const columns = [
    { label: 'Tenant', cell: (q) => q.name },
    { label: 'Pending', num: true, cell: (q) => fmt.int(q.pending) },
    { label: 'Running', num: true, cell: (q) => fmt.int(q.running) },
    { label: 'GPUs held', num: true, cell: (q) => fmt.gpus(q.gpu) },
  ];
  // Quotas come from /api/v1/tenants, which only the admin may read.
  if (rows.some((q) => q.quota)) columns.push({ label: 'GPU quota', cell: quota });
  return table(columns, rows, { empty: 'No tenant has pending or running jobs.', id: 'queue-table' });
}

function submitForm(who, refresh) {
  const form = $('#submit');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    const body = {
      command: ['sh', '-c', v.command],
      name: v.name,
      gpu_milli: Math.round((num(v.gpus) ?? 0) * 1000),
      replicas: num(v.replicas),
      cpu_milli: Math.round((num(v.cpus) ?? 1) * 1000),
      memory_mib: num(v.memory_mib),
      tenant: who.admin ? v.tenant : undefined,
    };
    try {
      const job = await post('/api/v1/jobs', body);
      fill($('#submit-result'), h('p', { class: 'note' }, 'Submitted ', h('a', { href: `/console/jobs/${job.id}` }, `job ${job.id}`), '.'));
      await refresh();
    } catch (e) {
      showError($('#submit-result'), e);
    }
  });
}

export async function mount(main, { who }) {
  const filters = $('#filters');
  let tenants = [];
  if (who.admin) {
    tenants = (await get('/api/v1/tenants')).tenants;
    for (const t of tenants) {
      $('#filter-tenant').append(h('option', { value: t.name }, t.name));
      if (t.name !== 'default') $('#submit-tenant').append(h('option', { value: t.name }, t.name));
    }
  } else {
    tenants = [{ name: who.tenant }];
  }

  const refresh = async () => {
    const f = formValues(filters);
    const base = { tenant: f.tenant, name: f.name };
    // Queues always show pending and running, whatever the table's filter.
    const [pending, running] = await Promise.all([
      get(`/api/v1/jobs${qs({ ...base, state: 'pending', limit: 1000 })}`),
      get(`/api/v1/jobs${qs({ ...base, state: 'running', limit: 1000 })}`),
    ]);
    const active = [...pending.jobs, ...running.jobs];
    const shown = f.tenant ? tenants.filter((t) => t.name === f.tenant) : tenants;
    fill($('#queues'), queues(active, shown));
    const state = f.state ?? '';
    let jobs;
    if (state === 'active') jobs = [...running.jobs, ...pending.jobs];
    else jobs = (await get(`/api/v1/jobs${qs({ ...base, state, limit: 100 })}`)).jobs;
    fill($('#jobs'), table(COLUMNS, jobs, { empty: 'No jobs match.', id: 'jobs-table' }));
  };

  filters.addEventListener('input', () => refresh().catch((e) => showError($('#jobs-error'), e)));
  filters.addEventListener('submit', (ev) => ev.preventDefault());
  submitForm(who, refresh);
  every(2000, refresh, (e) => showError($('#jobs-error'), e));
}
