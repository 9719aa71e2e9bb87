// The one HTTP client for the server's JSON API. Errors arrive as
// {"error": {"code", "message", "fields"}} with messages already in the
// language we ask for through Accept-Language; every failure becomes an
// ApiError whose `kind` says what the person should be told:
//   unauthorized → sign in, forbidden → no permission, not_found → not found,
//   offline → the server could not be reached, invalid → the marked fields.

import { language, t } from '../i18n.js';

export class ApiError extends Error {
  constructor(status, body, { offline = false } = {}) {
    const error = body && body.error ? body.error : {};
    super(error.message || (offline ? t('common.offline') : `HTTP ${status}`));
    this.status = status;
    this.code = error.code || null;
    this.fields = error.fields || {};
    this.kind = offline ? 'offline' : kindOf(status);
  }
}

function kindOf(status) {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 400 || status === 422) return 'invalid';
  if (status === 409) return 'conflict';
  // A proxy in front of a server that is down answers 502–504.
  if (status >= 502 && status <= 504) return 'offline';
  return 'server';
}

// The session's CSRF token, sent back on every write (the cookie alone is
// not enough for the server to accept a change).
let csrfToken = '';
const signedOutListeners = new Set();

/** Called when any request (other than the session's own) answers 401. */
export function onSignedOut(listener) {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export function setCsrfToken(token) {
  csrfToken = token || '';
}

/** The session's CSRF token, for requests made by other clients (tus uploads). */
export function currentCsrfToken() {
  return csrfToken;
}

/**
 * One API request; `body` goes as JSON, or as it is when `contentType`
 * names another type (a CSV file as text/csv).
 */
export async function request(method, path, body, { contentType = 'application/json' } = {}) {
  const headers = { Accept: 'application/json', 'Accept-Language': language() };
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = contentType;
    init.body = contentType === 'application/json' ? JSON.stringify(body) : body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, null, { offline: true });
  }
  let data = null;
  const text = await response.text().catch(() => '');
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.status === 401 && path !== '/api/session') {
    for (const listener of signedOutListeners) listener();
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/**
 * WHEP (WebRTC playback, RFC 9725) for a live classroom: posts the SDP
 * offer, gives back {sdp, location, rendition}. The session cookie goes
 * along by itself; `token` is the playback token for viewers without one.
 * Failures are ApiErrors like the JSON API's, with `retryAfter` (seconds)
 * when the server says when to ask again (409 not live, 503 full).
 */
export async function whepOffer(classroomId, sdp, { rendition, token } = {}) {
  const path = `/whep/${encodeURIComponent(classroomId)}${query({ rendition, token })}`;
  return postSdp(path, sdp, csrfToken ? { 'X-CSRF-Token': csrfToken } : {});
}

/**
 * WHIP (WebRTC publishing, RFC 9725): posts the SDP offer with the source's
 * stream key as the Bearer token (as OBS does), gives back {sdp, location}.
 * Failures are ApiErrors as for whepOffer.
 */
export async function whipOffer(streamKey, sdp) {
  return postSdp('/whip', sdp, { Authorization: `Bearer ${streamKey}` });
}

/** An SDP offer POSTed the WHEP/WHIP way; the answer, its Location and rendition. */
async function postSdp(path, sdp, extraHeaders) {
  const headers = { 'Content-Type': 'application/sdp', Accept: 'application/sdp', 'Accept-Language': language(), ...extraHeaders };
  let response;
  try {
    response = await fetch(path, { method: 'POST', headers, body: sdp, cache: 'no-store', credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, null, { offline: true });
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    let data = null;
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
    const error = new ApiError(response.status, data);
    const retryAfter = Number(response.headers.get('Retry-After'));
    error.retryAfter = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null;
    throw error;
  }
  const location = response.headers.get('Location');
  return {
    sdp: text,
    // Relative to the POST, as WHEP and WHIP allow.
    location: location ? new URL(location, new URL(path, window.location.href)).href : null,
    rendition: response.headers.get('Classcast-Rendition'),
  };
}

/**
 * Ends a WHEP or WHIP session (its Location). `keepalive` lets it outlive the page,
 * for pagehide. Never throws: an ended page cannot do anything about it,
 * and the server times out sessions whose browser went quiet anyway.
 */
export async function endWebRtcSession(location, { keepalive = false } = {}) {
  const headers = { 'Accept-Language': language() };
  if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  try {
    await fetch(location, { method: 'DELETE', headers, keepalive, credentials: 'same-origin' });
  } catch {
    /* see above */
  }
}

/** `{a: 1, b: null}` → "?a=1", leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === '') continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

const id = encodeURIComponent;

export const api = {
  session: () => request('GET', '/api/session'),
  signIn: (username, password) => request('POST', '/api/session', { username, password }),
  signOut: () => request('DELETE', '/api/session'),
  setup: (code, username, password) => request('POST', '/api/setup', { code, username, password }),
  sso: () => request('GET', '/api/sso'),

  classrooms: () => request('GET', '/api/classrooms'),
  classroom: (cid) => request('GET', `/api/classrooms/${id(cid)}`),
  createClassroom: (body) => request('POST', '/api/classrooms', body),
  updateClassroom: (cid, body) => request('PATCH', `/api/classrooms/${id(cid)}`, body),
  deleteClassroom: (cid) => request('DELETE', `/api/classrooms/${id(cid)}`),
  audiences: (cid) => request('GET', `/api/classrooms/${id(cid)}/audiences`),
  setAudiences: (cid, schools) => request('PUT', `/api/classrooms/${id(cid)}/audiences`, schools),
  sources: (cid) => request('GET', `/api/classrooms/${id(cid)}/sources`),
  createSource: (cid, body) => request('POST', `/api/classrooms/${id(cid)}/sources`, body),
  updateSource: (cid, sid, body) => request('PATCH', `/api/classrooms/${id(cid)}/sources/${id(sid)}`, body),
  deleteSource: (cid, sid) => request('DELETE', `/api/classrooms/${id(cid)}/sources/${id(sid)}`),
  rotateKey: (cid, sid) => request('POST', `/api/classrooms/${id(cid)}/sources/${id(sid)}/rotate-key`),
  livePlayback: (cid) => request('GET', `/api/classrooms/${id(cid)}/playback`),

  recordings: (params) => request('GET', `/api/recordings${query(params)}`),
  recording: (rid) => request('GET', `/api/recordings/${id(rid)}`),
  updateRecording: (rid, body) => request('PATCH', `/api/recordings/${id(rid)}`, body),
  shareRecording: (rid, body) => request('POST', `/api/recordings/${id(rid)}/shares`, body),
  recordingPlayback: (rid) => request('GET', `/api/recordings/${id(rid)}/playback`),

  users: (params) => request('GET', `/api/users${query(params)}`),
  createUser: (user) => request('POST', '/api/users', user),
  updateUser: (uid, change) => request('PATCH', `/api/users/${id(uid)}`, change),

  schools: () => request('GET', '/api/schools'),
  createSchool: (school) => request('POST', '/api/schools', school),
  updateSchool: (sid, change) => request('PATCH', `/api/schools/${id(sid)}`, change),
  deleteSchool: (sid) => request('DELETE', `/api/schools/${id(sid)}`),

  audit: (params) => request('GET', `/api/audit${query(params)}`),

  interactiveSessions: () => request('GET', '/api/interactive'),
  interactiveSession: (sid) => request('GET', `/api/interactive/${id(sid)}`),
  createInteractive: (body) => request('POST', '/api/interactive', body),
  updateInteractive: (sid, body) => request('PATCH', `/api/interactive/${id(sid)}`, body),
  startInteractive: (sid) => request('POST', `/api/interactive/${id(sid)}/start`),
  endInteractive: (sid) => request('POST', `/api/interactive/${id(sid)}/end`),
  deleteInteractive: (sid) => request('DELETE', `/api/interactive/${id(sid)}`),
  muteInteractive: (sid, cid, muted) => request('PATCH', `/api/interactive/${id(sid)}/classrooms/${id(cid)}`, { muted }),
};

/** A participating classroom's camera into an interactive session (WHIP, signed in). */
export async function interactiveOffer(sessionId, classroomId, sdp) {
  const path = `/api/interactive/${id(sessionId)}/classrooms/${id(classroomId)}/whip`;
  return postSdp(path, sdp, csrfToken ? { 'X-CSRF-Token': csrfToken } : {});
}
