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

async function request(method, path, body) {
  const headers = { Accept: 'application/json', 'Accept-Language': language() };
  const init = { method, headers, cache: 'no-store' };
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
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const api = {
  classrooms: () => request('GET', '/api/classrooms'),
  classroom: (id) => request('GET', `/api/classrooms/${encodeURIComponent(id)}`),
  createClassroom: (name) => request('POST', '/api/classrooms', { name }),
  recordings: (classroomId) =>
    request('GET', `/api/recordings?classroom_id=${encodeURIComponent(classroomId)}`),
  recording: (id) => request('GET', `/api/recordings/${encodeURIComponent(id)}`),
};
