// The micro-lesson library's API (/api/library, /api/uploads): kept apart
// from api/client.js so the library pages load it only when opened.

import { query, request } from '../api/client.js';

const id = encodeURIComponent;

export const library = {
  subjects: () => request('GET', '/api/library/subjects'),
  grades: () => request('GET', '/api/library/grades'),
  editions: () => request('GET', '/api/library/editions'),
  /** One subject and grade's knowledge points as a tree, each with its `lesson_count`. */
  knowledgePoints: (subjectId, gradeId) => request('GET', `/api/library/knowledge-points${query({ subject_id: subjectId, grade_id: gradeId })}`),
  createPoint: (body) => request('POST', '/api/library/knowledge-points', body),
  updatePoint: (pid, body) => request('PATCH', `/api/library/knowledge-points/${id(pid)}`, body),
  deletePoint: (pid) => request('DELETE', `/api/library/knowledge-points/${id(pid)}`),
  /** CSV text, one path from the root per row; bad rows come back as fields `csv:<line>`. */
  importPoints: (subjectId, gradeId, csv) =>
    request('POST', `/api/library/knowledge-point-imports${query({ subject_id: subjectId, grade_id: gradeId })}`, csv, { contentType: 'text/csv' }),
  /** A draft lesson cut from a recording: {start_seconds, end_seconds} on its playback timeline, and a title. */
  clipRecording: (rid, body) => request('POST', `/api/recordings/${id(rid)}/clips`, body),
  lessons: (params) => request('GET', `/api/library/lessons${query(params)}`),
  lesson: (lid) => request('GET', `/api/library/lessons/${id(lid)}`),
  createLesson: (body) => request('POST', '/api/library/lessons', body),
  updateLesson: (lid, body) => request('PATCH', `/api/library/lessons/${id(lid)}`, body),
  deleteLesson: (lid) => request('DELETE', `/api/library/lessons/${id(lid)}`),
  attachMedia: (lid, uploadId) => request('PUT', `/api/library/lessons/${id(lid)}/media`, { upload_id: uploadId }),
  act: (lid, action, body = {}) => request('POST', `/api/library/lessons/${id(lid)}/${action}`, body),
  /** The body is the file itself; the server types it by its bytes. */
  addAttachment: (lid, kind, file) =>
    request('POST', `/api/library/lessons/${id(lid)}/attachments${query({ kind, name: file.name })}`, file, { contentType: 'application/octet-stream' }),
  removeAttachment: (lid, aid) => request('DELETE', `/api/library/lessons/${id(lid)}/attachments/${id(aid)}`),
  attachmentUrl: (lid, aid) => `/api/library/lessons/${id(lid)}/attachments/${id(aid)}`,
  feature: (lid, featured) => request('PUT', `/api/library/lessons/${id(lid)}/featured`, { featured }),
  queue: () => request('GET', '/api/library/queue'),
  heartbeat: (lid, seconds) => request('POST', `/api/library/lessons/${id(lid)}/views`, { seconds }),
  stats: (params) => request('GET', `/api/library/stats${query(params)}`),
  statsCsvUrl: (params) => `/api/library/stats${query({ ...params, format: 'csv' })}`,
};

/** A lesson's state as one word for the badge: draft, in_review, rejected, published, unpublished. */
export function stateOf(lesson) {
  return lesson.state === 'submitted' ? `review_${lesson.review_level}` : lesson.state;
}
/**
 * May `user` (the session's Principal) edit `subjectId`'s knowledge points?
 * As auth::policy::can_edit_knowledge_points: library staff, and the
 * subject's 教研组 reviewers. The server decides anyway.
 */
export function canEditKnowledgePoints(user, subjectId) {
  if (!user || !subjectId) return false;
  return (user.roles || []).some((grant) => {
    const g = Array.isArray(grant) ? { role: grant[0], review_level: grant[1], subject_id: grant[2] } : grant;
    if (g.role === 'system_admin' || g.role === 'resource_staff') return true;
    return g.role === 'reviewer' && g.review_level === 'teaching_group' && g.subject_id === subjectId;
  });
}

/** Each bad line of a refused CSV import, from the error's fields: [{line, message}] in file order. */
export function importErrors(error) {
  return Object.entries((error && error.fields) || {})
    .map(([key, message]) => ({ line: Number((/^csv:(\d+)$/.exec(key) || [])[1]), message }))
    .filter((e) => e.line > 0)
    .sort((a, b) => a.line - b.line);
}

