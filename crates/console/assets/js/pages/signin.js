// Sign-in: the token is checked with /api/v1/whoami before it is kept.

import { ApiError, api, session } from '../api.js';
import { $, showError } from '../dom.js';

const WHY = {
  expired: 'Your token no longer works (revoked, expired, or for another server). Sign in again.',
  signedout: 'Signed out.',
};

/** Only a path of the console: never send the token-holder to another site. */
function nextPath() {
  const next = new URLSearchParams(location.search).get('next') || '/console/';
  return next.startsWith('/console/') && !next.startsWith('/console/signin') ? next : '/console/';
}

export function mount() {
  const why = WHY[new URLSearchParams(location.search).get('why')];
  if (why) {
    $('#signin-why').textContent = why;
    $('#signin-why').hidden = false;
  }
  const form = $('#signin');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = $('#token').value.trim();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const who = await api('/api/v1/whoami', { token });
      if (!who.admin && !who.tenant) {
        throw new ApiError(403, 'That is the join token: it only registers agents. Use the admin token or a tenant key.');
      }
      session.save(token, who);
      location.assign(nextPath());
    } catch (e) {
      showError($('#signin-error'), e.status === 401 ? new Error(`Not signed in: ${e.message}`) : e);
    } finally {
      button.disabled = false;
    }
  });
}
