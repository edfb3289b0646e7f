// Models and deployments: the registry with memory estimates per chip (GET /api/v1/models), and
// deployments with their replicas, where they run, their load and scale controls (every 3 s).

import { get, post, del } from '../api.js';
import { $, h, fill, fmt, badge, every, showError, table, twoStep, formValues, num } from '../dom.js';

const REGISTRY_COLUMNS = [
  { label: 'Model', cell: (m) => h('div', {}, h('b', {}, m.name), m.display_name ? h('div', { class: 'muted' }, m.display_name) : null) },
  { label: 'Architecture', cell: (m) => `${m.architecture} · ${m.quantization}` },
  { label: 'Parameters', num: true, cell: (m) => fmt.count(m.parameters) },
  { label: 'File', num: true, cell: (m) => fmt.bytes(m.file_bytes) },
  { label: 'Context', num: true, cell: (m) => fmt.int(m.context_length) },
  { label: 'KV / token', num: true, cell: (m) => fmt.bytes(m.kv_bytes_per_token) },
  { label: 'Memory / replica', num: true, cell: (m) => h('span', { title: `at ${fmt.int(m.default_context)} tokens of context` }, fmt.mib(m.memory_mib)) },
  {
    label: 'Per chip',
    cell: (m) => (m.fits.length
      ? h('div', {}, m.fits.map((f) => h('div', {}, h('b', {}, f.chip), ` (${fmt.mib(f.chip_memory_mib)}): `,
        f.replicas_per_device ? `${fmt.int(f.replicas_per_device)} per device, context up to ${fmt.int(f.max_context)}` : 'does not fit')))
      : h('span', { class: 'muted' }, 'no accelerators in the fleet; runs on CPUs')),
  },
];

function readiness(d) {
  if (d.replicas === 0) return badge('scaled to zero', 'dim');
  const kind = d.ready_replicas === d.replicas ? 'ok' : d.ready_replicas ? 'warn' : 'bad';
  return badge(`${d.ready_replicas} / ${d.replicas} ready`, kind);
}

const usdPerM = (micro) => fmt.usd(micro / 1e6);

function info(d) {
  const sp = d.spec;
  const gpu = sp.gpu_milli ? `, ${fmt.gpus(sp.gpu_milli)} GPU${sp.gpu_models.length ? ` (${sp.gpu_models.join('|')})` : ''}` : '';
  const rows = [
    ['Model', `${sp.model} on ${sp.backend}`],
    ['Tenant', d.tenant],
    ['Each replica', `${fmt.cores(sp.cpu_milli)}, ${fmt.mib(sp.memory_mib)}${gpu}; ${fmt.int(sp.context)} tokens of context, ${sp.slots} slots${sp.max_replicas_per_node ? `; at most ${sp.max_replicas_per_node} on one node` : ''}`],
    ['Autoscaling', `${sp.min_replicas}..${sp.max_replicas} replicas, adds one above ${sp.target_in_flight} in flight per replica${sp.min_replicas === 0 ? `, to zero after ${fmt.duration(sp.idle_to_zero_s * 1000)} idle` : ''}`],
    ['Load', `${d.in_flight} in flight now · last request ${fmt.ago(d.last_request_at_ms)}`],
    ['Price', `${usdPerM(sp.price_input_micro_per_mtok)} / M prompt, ${usdPerM(sp.price_output_micro_per_mtok)} / M completion tokens`],
  ];
  if (sp.fallbacks.length) rows.push(['Fallbacks', sp.fallbacks.join(', ')]);
  return h('dl', { class: 'facts' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

const REPLICA_COLUMNS = [
  { label: 'Job', cell: (r) => h('a', { href: `/console/jobs/${r.job_id}` }, String(r.job_id)) },
  { label: 'Node', cell: (r) => r.node },
  { label: 'Endpoint', cell: (r) => h('code', {}, r.endpoint ?? 'starting…') },
  { label: 'Health', cell: (r) => (r.ready ? badge('ready') : badge('starting')) },
];

/** One deployment's card. Its scale form survives refreshes while someone is typing in it. */
function deploymentCard(d, refresh, onError) {
  const name = encodeURIComponent(d.name);
  const form = h('form', { class: 'inline scale', 'data-deployment': d.name },
    h('label', {}, 'Replicas', h('input', { name: 'replicas', type: 'number', min: 0, value: d.replicas })),
    h('label', {}, 'Min', h('input', { name: 'min_replicas', type: 'number', min: 0, value: d.spec.min_replicas })),
    h('label', {}, 'Max', h('input', { name: 'max_replicas', type: 'number', min: 1, value: d.spec.max_replicas })),
    h('button', { type: 'submit' }, 'Scale'));
  const scale = async (body) => {
    try {
      await post(`/api/v1/deployments/${name}/scale`, body);
      form.dataset.dirty = '';
      await refresh();
    } catch (e) {
      onError(e);
    }
  };
  form.addEventListener('input', () => { form.dataset.dirty = '1'; });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    scale({ replicas: num(v.replicas), min_replicas: num(v.min_replicas), max_replicas: num(v.max_replicas) });
  });
  const body = h('div', { class: 'body' });
  const card = h('article', { class: 'node', 'data-deployment': d.name },
    h('header', {}, h('h2', {}, d.name), h('span', { class: 'state' }),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary small', title: 'one replica fewer', onclick: () => scale({ replicas: Math.max(0, card.current.replicas - 1) }) }, '−'),
        h('button', { type: 'button', class: 'secondary small', title: 'one replica more', onclick: () => scale({ replicas: card.current.replicas + 1 }) }, '+'),
        twoStep('Delete', async () => {
          try {
            await del(`/api/v1/deployments/${name}`);
            await refresh();
          } catch (e) {
            onError(e);
          }
        }, { key: `delete-${d.name}` }))),
    body, form);
  card.update = (fresh) => {
    card.current = fresh;
    fill(card.querySelector('.state'), readiness(fresh));
    fill(body, info(fresh),
      h('h3', {}, 'Replicas'),
      table(REPLICA_COLUMNS, fresh.replica_list, { empty: fresh.replicas ? 'No replica placed yet.' : 'None: the next request starts one.' }),
      fresh.pending.length ? h('ul', { class: 'reason' }, fresh.pending.map((p) => h('li', {}, p))) : null);
    if (!form.dataset.dirty && !form.contains(document.activeElement)) {
      form.elements.replicas.value = fresh.replicas;
      form.elements.min_replicas.value = fresh.spec.min_replicas;
      form.elements.max_replicas.value = fresh.spec.max_replicas;
    }
  };
  card.update(d);
  return card;
}

function deployForm(registry, refresh) {
  const select = $('#deploy-model');
  fill(select, registry.map((m) => h('option', { value: m.name }, m.name)));
  const form = $('#deploy');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    try {
      const d = await post('/api/v1/deployments', {
        model: v.model,
        name: v.name,
        replicas: num(v.replicas),
        min_replicas: num(v.min_replicas),
        max_replicas: num(v.max_replicas),
        price_input_per_mtok: num(v.price_input_per_mtok),
        price_output_per_mtok: num(v.price_output_per_mtok),
      });
      fill($('#deploy-result'), h('p', { class: 'note' }, `Deployment ${d.name} created; its replicas appear above.`));
      await refresh();
    } catch (e) {
      showError($('#deploy-result'), e);
    }
  });
}

export async function mount() {
  const onError = (e) => showError($('#models-error'), e);
  const cards = new Map();

  const refresh = async () => {
    const { deployments } = await get('/api/v1/deployments');
    const seen = new Set();
    for (const d of deployments) {
      seen.add(d.name);
      if (cards.has(d.name)) cards.get(d.name).update(d);
      else cards.set(d.name, deploymentCard(d, refresh, onError));
    }
    for (const name of [...cards.keys()]) if (!seen.has(name)) cards.delete(name);
    const el = $('#deployments');
    if (!deployments.length) fill(el, h('p', { class: 'empty' }, 'No deployments. Deploy a registered model below, or `strata deploy smollm2`.'));
    else {
      // Cards are moved only when the list changed, so a form being typed in keeps its focus.
      const order = deployments.map((d) => cards.get(d.name));
      const wrap = el.querySelector(':scope > .nodes');
      if (!wrap || wrap.children.length !== order.length || order.some((c, i) => wrap.children[i] !== c)) {
        fill(el, h('div', { class: 'nodes' }, order));
      }
    }
    $('#deployments-updated').textContent = `updated ${fmt.time(Date.now())}`;
  };

  try {
    const { models } = await get('/api/v1/models');
    fill($('#registry'), table(REGISTRY_COLUMNS, models, { empty: 'No models in the server\'s cache: `strata model pull smollm2` on the control plane.', id: 'registry-table' }));
    deployForm(models, refresh);
  } catch (e) {
    onError(e);
  }
  every(3000, refresh, onError);
}
