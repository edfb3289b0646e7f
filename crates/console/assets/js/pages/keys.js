// API keys: create (the secret is shown once, here, and never again), list, revoke
// (/api/v1/tenants/{tenant}/keys). The admin picks the tenant; a tenant key manages its own.

import { get, post, del, session } from '../api.js';
import { $, h, fill, fmt, badge, every, showError, table, twoStep, formValues, num } from '../dom.js';

function keyState(k) {
  if (k.revoked_at_ms) return 'revoked';
  if (k.expires_at_ms && k.expires_at_ms <= Date.now()) return 'expired';
  return 'live';
}

function limits(l) {
  const parts = [];
  if (l.rpm != null) parts.push(`${fmt.int(l.rpm)} req/min`);
  if (l.tpm != null) parts.push(`${fmt.int(l.tpm)} tok/min`);
  if (l.budget_usd != null) parts.push(`budget ${fmt.usd(l.budget_usd)}`);
  return parts.join(', ') || 'none';
}

/** The secret, once: with a copy button and the warning that it cannot be shown again. */
function showSecret(created) {
  const code = h('code', { id: 'new-secret' }, created.key);
  const copy = h('button', { type: 'button', class: 'secondary small', onclick: async () => {
    await navigator.clipboard?.writeText(created.key).catch(() => {});
    copy.textContent = 'Copied';
  } }, 'Copy');
  fill($('#created'), h('div', { class: 'secret', role: 'status' },
    h('b', {}, `Key ${created.key_id} for tenant ${created.tenant.name}. Copy it now: it is not shown again.`),
    code,
    h('div', { class: 'toolbar' }, copy, h('button', { type: 'button', class: 'secondary small', onclick: () => fill($('#created')) }, 'Done'))));
}

export async function mount(main, { who }) {
  const onError = (e) => showError($('#keys-error'), e);
  const select = $('#keys-tenant');
  const tenant = () => (who.admin ? select.value : who.tenant);
  // A tenant's own session key, told by its last four characters (the list's hint).
  const mine = `…${(session.token() || '').slice(-4)}`;

  const loadTenants = async (choose) => {
    if (!who.admin) return;
    const { tenants } = await get('/api/v1/tenants');
    fill(select, tenants.map((t) => h('option', { value: t.name }, t.name)));
    select.value = choose ?? select.value ?? 'default';
  };

  let drawn = '';
  const refresh = async () => {
    const name = tenant();
    if (!name) return;
    const { keys } = await get(`/api/v1/tenants/${encodeURIComponent(name)}/keys`);
    const all = $('#show-revoked').checked;
    const shown = keys.filter((k) => all || keyState(k) === 'live').sort((a, b) => b.id - a.id);
    // Redraw only on a change, so nothing moves under the pointer.
    const signature = JSON.stringify([name, all, shown]);
    if (signature === drawn) return;
    drawn = signature;
    $('#keys-title').textContent = `Keys of ${name}`;
    fill($('#keys'), table([
      { label: 'ID', num: true, cell: (k) => String(k.id) },
      { label: 'Name', cell: (k) => h('span', {}, k.name || h('span', { class: 'muted' }, 'unnamed'), !who.admin && k.hint === mine ? h('span', { class: 'muted' }, ' (this session)') : null) },
      { label: 'Project', cell: (k) => k.project ?? 'default' },
      { label: 'Secret', cell: (k) => h('code', {}, `sk-strata-${k.hint}`) },
      { label: 'Models', cell: (k) => (k.models ? k.models.join(', ') : 'all') },
      { label: 'Limits', cell: (k) => limits(k.limits) },
      { label: 'Created', cell: (k) => h('span', { title: fmt.datetime(k.created_at_ms) }, fmt.ago(k.created_at_ms)) },
      { label: 'Expires', cell: (k) => (k.expires_at_ms ? fmt.datetime(k.expires_at_ms) : 'never') },
      { label: 'State', cell: (k) => badge(keyState(k)) },
      {
        label: '',
        cell: (k) => (keyState(k) === 'live'
          ? twoStep('Revoke', async () => {
            try {
              await del(`/api/v1/tenants/${encodeURIComponent(name)}/keys/${k.id}`);
              await refresh();
            } catch (e) {
              onError(e);
            }
          }, { key: `revoke-${name}-${k.id}` })
          : ''),
      },
    ], shown, { empty: all ? 'This tenant has no keys.' : 'No live keys.', id: 'keys-table' }));
  };

  $('#create-key').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(ev.target);
    const models = v.models ? v.models.split(',').map((m) => m.trim()).filter(Boolean) : undefined;
    try {
      const created = await post(`/api/v1/tenants/${encodeURIComponent(tenant())}/keys`, {
        name: v.name,
        project: v.project,
        models,
        rpm: num(v.rpm),
        tpm: num(v.tpm),
        budget_usd: num(v.budget_usd),
        expires_in_s: v.expires_days ? Math.round(Number(v.expires_days) * 86400) : undefined,
      });
      ev.target.reset();
      showSecret(created);
      await refresh();
    } catch (e) {
      onError(e);
    }
  });

  if (who.admin) {
    $('#create-tenant').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const v = formValues(ev.target);
      try {
        const created = await post('/api/v1/tenants', {
          name: v.name,
          quota: v.gpus ? { gpu_milli: Math.round(Number(v.gpus) * 1000) } : {},
          limits: { rpm: num(v.rpm), budget_usd: num(v.budget_usd) },
        });
        ev.target.reset();
        await loadTenants(created.tenant.name);
        showSecret(created);
        await refresh();
      } catch (e) {
        onError(e);
      }
    });
    select.addEventListener('change', () => refresh().catch(onError));
    await loadTenants('default').catch(onError);
  }
  $('#show-revoked').addEventListener('change', () => refresh().catch(onError));
  every(5000, refresh, onError);
}
