// Boot: every page loads this module. It checks the session, shows who is signed in, hides
// admin-only controls from tenants, and hands the page's skeleton to the page's own module.

import { session, signinUrl, get } from './api.js';
import { $, fill, errorBox } from './dom.js';

const PAGES = ['signin', 'fleet', 'jobs', 'job', 'models', 'playground', 'usage', 'keys'];

async function boot() {
  const page = document.body.dataset.page;
  const main = $('#main');
  if (page === 'signin') {
    (await import('./pages/signin.js')).mount(main);
    return;
  }
  const token = session.token();
  const who = session.who();
  if (!token || !who) {
    location.replace(signinUrl());
    return;
  }
  $('#who').textContent = who.admin ? 'admin' : `tenant ${who.tenant}`;
  $('#signout').addEventListener('click', () => {
    session.clear();
    location.assign('/console/signin?why=signedout');
  });
  document.body.classList.add(who.admin ? 'is-admin' : 'is-tenant');
  // The API refuses tenants these anyway; not showing them saves a confusing 403.
  if (!who.admin) document.querySelectorAll('[data-admin]').forEach((el) => el.remove());
  if (!PAGES.includes(page)) return;
  try {
    const module = await import(`./pages/${page}.js`);
    await module.mount(main, { who, param: document.body.dataset.param });
  } catch (e) {
    main.prepend(errorBox(e));
  }
  // Re-check the token in the background: a revoked key ends the session at once (api.js).
  get('/api/v1/whoami').catch(() => {});
}

boot().catch((e) => fill($('#main'), errorBox(e)));
