// One resumable upload (tus 1.0, tus-js-client) of a lesson's video, with
// what a teacher on a school link wants to see: percent, speed, time left.
// tus-js-client remembers unfinished uploads in localStorage by the file's
// fingerprint (name, size, type, date), so choosing the same file after a
// reload or a dropped network resumes where it stopped instead of starting
// again.

import { onBeforeUnmount, reactive } from 'vue';
import * as tus from 'tus-js-client';
import { language } from '../i18n.js';

const CHUNK_BYTES = 8 * 1024 * 1024;
// Speed over the last few seconds, not since the start: a link that slows
// down shows it.
const WINDOW_MS = 5000;

export function useUpload() {
  const state = reactive({
    status: 'idle', // idle | uploading | paused | done | error
    percent: 0,
    sent: 0,
    total: 0,
    bytesPerSecond: 0,
    secondsLeft: null,
    resumed: false,
    error: null,
    uploadId: null,
  });
  let upload = null;
  let samples = [];

  function onProgress(sent, total) {
    const now = Date.now();
    samples.push([now, sent]);
    samples = samples.filter(([at]) => now - at <= WINDOW_MS);
    const [firstAt, firstSent] = samples[0];
    const speed = now > firstAt ? ((sent - firstSent) * 1000) / (now - firstAt) : 0;
    Object.assign(state, {
      sent,
      total,
      percent: total ? Math.floor((sent * 100) / total) : 0,
      bytesPerSecond: speed,
      secondsLeft: speed > 0 ? Math.ceil((total - sent) / speed) : null,
    });
  }

  /** Uploads `file`; resolves with the upload's id once the server has probed it. */
  function start(file, csrfToken) {
    return new Promise((resolve, reject) => {
      samples = [];
      Object.assign(state, { status: 'uploading', percent: 0, sent: 0, total: file.size, error: null, resumed: false, uploadId: null });
      upload = new tus.Upload(file, {
        endpoint: '/api/uploads',
        chunkSize: CHUNK_BYTES,
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
        removeFingerprintOnSuccess: true,
        metadata: { filename: file.name, filetype: file.type || 'application/octet-stream' },
        headers: { 'X-CSRF-Token': csrfToken || '', 'Accept-Language': language() },
        onProgress,
        onError(error) {
          const response = error.originalResponse;
          let message = error.message;
          try {
            message = JSON.parse(response.getBody()).error.message || message;
          } catch {
            // Not the server's JSON (the network failed): tus-js-client's words.
          }
          Object.assign(state, { status: 'error', error: message });
          reject(error);
        },
        onSuccess() {
          const uploadId = upload.url.split('/').pop();
          Object.assign(state, { status: 'done', percent: 100, secondsLeft: 0, uploadId });
          resolve(uploadId);
        },
      });
      upload.findPreviousUploads().then((previous) => {
        if (previous.length) {
          upload.resumeFromPreviousUpload(previous[0]);
          state.resumed = true;
        }
        upload.start();
      });
    });
  }

  function pause() {
    if (upload && state.status === 'uploading') {
      upload.abort();
      state.status = 'paused';
    }
  }

  function resume() {
    if (upload && state.status === 'paused') {
      state.status = 'uploading';
      upload.start();
    }
  }

  onBeforeUnmount(() => {
    // Stop sending; the server keeps what arrived for the next visit.
    if (upload && state.status === 'uploading') upload.abort();
  });
  return { state, start, pause, resume };
}
