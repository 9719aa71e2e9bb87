// Thin client for the server's JSON API. Errors arrive as
// {"error": {"code", "message", "fields"}} with messages already in the
// language we ask for through Accept-Language.

import { language } from './i18n.js';

export class ApiError extends Error {
  constructor(status, body) {
    const error = body && body.error ? body.error : {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.fields = error.fields || {};
  }
}

// The session's CSRF token, sent back on every write (the cookie alone is
// not enough for the server to accept a change).
let csrfToken = '';

async function request(method, path, body) {
  const headers = { Accept: 'application/json', 'Accept-Language': language() };
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.status === 401 && path !== '/api/session') {
    // Signed out (session expired or revoked): the app shows the sign-in page.
    window.dispatchEvent(new CustomEvent('classcast:signed-out'));
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** The signed-in user, or null. With sign-in turned off the server answers as an open bench. */
async function session() {
  try {
    const data = await request('GET', '/api/session');
    csrfToken = data.csrf_token || '';
    return data.user;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

async function signIn(username, password) {
  const data = await request('POST', '/api/session', { username, password });
  csrfToken = data.csrf_token || '';
  return data.user;
}

async function signOut() {
  await request('DELETE', '/api/session');
  csrfToken = '';
}

export const api = {
  session,
  signIn,
  signOut,
  setup: (code, username, password) => request('POST', '/api/setup', { code, username, password }),
  classrooms: () => request('GET', '/api/classrooms'),
  classroom: (id) => request('GET', `/api/classrooms/${encodeURIComponent(id)}`),
  createClassroom: (name) => request('POST', '/api/classrooms', { name }),
  recordings: (classroomId) =>
    request('GET', `/api/recordings?classroom_id=${encodeURIComponent(classroomId)}`),
  recording: (id) => request('GET', `/api/recordings/${encodeURIComponent(id)}`),
  sso: () => request('GET', '/api/sso'),
  users: () => request('GET', '/api/users'),
  createUser: (user) => request('POST', '/api/users', user),
  updateUser: (id, change) => request('PATCH', `/api/users/${encodeURIComponent(id)}`, change),
  schools: () => request('GET', '/api/schools'),
  createSchool: (school) => request('POST', '/api/schools', school),
  audit: () => request('GET', '/api/audit'),
  livePlayback: (id) => request('GET', `/api/classrooms/${encodeURIComponent(id)}/playback`),
  recordingPlayback: (id) => request('GET', `/api/recordings/${encodeURIComponent(id)}/playback`),
};
