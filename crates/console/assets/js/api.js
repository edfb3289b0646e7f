// The console's only way to the server: the same REST API (/api/v1) and gateway (/v1) the CLI
// uses, with the signed-in token. The token lives in sessionStorage: it goes when the tab closes.

const TOKEN = 'strata.token';
const WHO = 'strata.who';

export const session = {
  token: () => sessionStorage.getItem(TOKEN),
  /** `{admin: bool, tenant: string|null}` as /api/v1/whoami said at sign-in. */
  who() {
    try {
      return JSON.parse(sessionStorage.getItem(WHO) || 'null');
    } catch {
      return null;
    }
  },
  save(token, who) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(WHO, JSON.stringify(who));
  },
  clear() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(WHO);
  },
};

/** A refused request, with the server's own words (both envelopes carry `error.message`). */
export class ApiError extends Error {
  constructor(status, message, code, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** The sign-in page, coming back here afterwards. */
export function signinUrl(why) {
  const next = encodeURIComponent(location.pathname + location.search);
  return `/console/signin?next=${next}${why ? `&why=${why}` : ''}`;
}

/** A fetch with the token; resolves to the Response when it is 2xx, else throws ApiError. */
export async function request(path, { method = 'GET', body, signal, token = session.token() } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'The server did not answer. Is strata still running?');
  }
  if (res.ok) return res;
  const envelope = await res.json().catch(() => ({}));
  const e = envelope.error || {};
  // A token that stopped working (revoked, expired, another server) ends the session.
  if (res.status === 401 && token === session.token()) {
    session.clear();
    location.assign(signinUrl('expired'));
  }
  throw new ApiError(res.status, e.message || `${res.status} ${res.statusText}`, e.code, e.field || e.param);
}

/** JSON in, JSON out; `null` for 204. */
export async function api(path, options) {
  const res = await request(path, options);
  return res.status === 204 ? null : res.json();
}

export const get = (path, signal) => api(path, { signal });
export const post = (path, body = {}) => api(path, { method: 'POST', body });
export const put = (path, body) => api(path, { method: 'PUT', body });
export const del = (path) => api(path, { method: 'DELETE' });

/** `?a=1&b=x` from an object, leaving out empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}
