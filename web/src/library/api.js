// The micro-lesson library's API (/api/library, /api/uploads): kept apart
// from api/client.js so the library pages load it only when opened.

import { query, request } from '../api/client.js';

const id = encodeURIComponent;

export const library = {
  subjects: () => request('GET', '/api/library/subjects'),
  grades: () => request('GET', '/api/library/grades'),
  lessons: (params) => request('GET', `/api/library/lessons${query(params)}`),
  lesson: (lid) => request('GET', `/api/library/lessons/${id(lid)}`),
  createLesson: (body) => request('POST', '/api/library/lessons', body),
  updateLesson: (lid, body) => request('PATCH', `/api/library/lessons/${id(lid)}`, body),
  attachMedia: (lid, uploadId) => request('PUT', `/api/library/lessons/${id(lid)}/media`, { upload_id: uploadId }),
  act: (lid, action, body = {}) => request('POST', `/api/library/lessons/${id(lid)}/${action}`, body),
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
