// The gateway's agent API: bearer token, JSON in and out, the API's error message surfaced as-is.
import { noteAppended } from '../shared/fresh.js';

const STORAGE_KEY = 'parley.agent.session';
const listeners = new Set();
let session = load();
let refreshTimer = null;

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
    return saved && new Date(saved.expires_at) > new Date() ? saved : null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else localStorage.removeItem(STORAGE_KEY);
  scheduleRefresh();
}

export const getSession = () => session;
export const token = () => session?.access_token;

/** Called with no argument when the session ends (sign-out or an expired token). */
export function onSignedOut(fn) {
  listeners.add(fn);
}

export async function login(email, password) {
  const result = await request('POST', '/api/agent/auth/login', { json: { email, password }, anonymous: true });
  save({ access_token: result.access_token, expires_at: result.expires_at, agent: result.agent });
  return result.agent;
}

export function logout() {
  save(null);
  listeners.forEach((fn) => fn());
}

/** Sign out on the server too: this session's token stops working at once, everywhere. */
export async function signOut() {
  if (session) await request('POST', '/api/agent/auth/logout').catch(() => null);
  logout();
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!session) return;
  // Refresh five minutes before expiry (at least 10 s from now) so a long shift never signs out.
  const due = new Date(session.expires_at).getTime() - Date.now() - 5 * 60 * 1000;
  refreshTimer = setTimeout(async () => {
    try {
      const fresh = await request('POST', '/api/agent/auth/refresh');
      save({ ...session, access_token: fresh.access_token, expires_at: fresh.expires_at });
    } catch (error) {
      if (error.status === 401) logout();
      else refreshTimer = setTimeout(scheduleRefresh, 30_000);
    }
  }, Math.max(due, 10_000));
}
scheduleRefresh();

export async function request(method, path, { json, form, query, anonymous } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== '') url.searchParams.append(key, one);
    }
  }
  const headers = {};
  if (!anonymous && session) headers.Authorization = `Bearer ${session.access_token}`;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach Parley. Check your connection; we retry automatically.');
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (method !== 'GET') noteAppended(data); // what we wrote: later reads wait for the views to have it
  if (!response.ok) {
    const error = data?.error || {};
    if (response.status === 401 && !anonymous) logout();
    const failed = new ApiError(response.status, error.code || 'http_error', error.message || `Request failed (${response.status})`, error.details);
    failed.retryAfter = Number(response.headers.get('Retry-After')) || null;
    throw failed;
  }
  return data;
}

export const api = {
  get: (path, query) => request('GET', path, { query }),
  post: (path, json) => request('POST', path, { json: json ?? {} }),
  put: (path, json) => request('PUT', path, { json }),
  patch: (path, json) => request('PATCH', path, { json }),
  del: (path) => request('DELETE', path),
  upload: (path, file) => {
    const form = new FormData();
    form.append('file', file);
    return request('POST', path, { form });
  },
};

export function attachmentUrl(attachmentId) {
  return `/api/attachments/${encodeURIComponent(attachmentId)}?access_token=${encodeURIComponent(token() || '')}`;
}
