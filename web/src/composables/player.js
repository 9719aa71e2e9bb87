// One HLS player on a <video>: hls.js where Media Source Extensions exist,
// the browser's own HLS (iOS Safari) otherwise. Playback URLs carry a
// short-lived token; the player asks for a fresh one at ~70% of its
// lifetime and puts it on every later request (playlists and segments), so
// playback never stops at an expiry.

import { onBeforeUnmount, reactive } from 'vue';

// Live: play 3 s behind the newest segment's end (1.5 segments), and drift
// back to that at up to 1.1x after a stall, rather than stay late for the
// rest of the lesson. WebRTC is the path for interactive latency.
// No metadata text tracks: we send no ID3 or emsg timed metadata, and
// hls.js makes such a track from a data: URL, which our CSP (media-src
// 'self' blob:) rightly refuses.
const NO_METADATA = { enableID3MetadataCues: false, enableEmsgMetadataCues: false, enableDateRangeMetadataCues: false };
const LIVE_CONFIG = { ...NO_METADATA, liveSyncDuration: 3, liveMaxLatencyDuration: 12, maxLiveSyncPlaybackRate: 1.1, lowLatencyMode: false };
// Recordings start at the beginning, also while still being recorded (the
// playlist has no ENDLIST yet and would otherwise start at its live edge).
const VOD_CONFIG = { ...NO_METADATA, lowLatencyMode: false, startPosition: 0 };
const REFRESH_AT = 0.7;
const MIN_REFRESH_MS = 2000;

/** The token of a playback answer: its `token` field, or the `token=` of its URL. */
export function tokenOf(playback) {
  if (playback.token) return playback.token;
  try {
    return new URL(playback.url, location.href).searchParams.get('token');
  } catch {
    return null;
  }
}

/** `url` with its `token=` replaced by `token` (media URLs of this server only). */
export function withToken(url, token) {
  if (!token) return url;
  const parsed = new URL(url, location.href);
  if (parsed.origin !== location.origin || !/^\/(live|vod)\//.test(parsed.pathname)) return url;
  parsed.searchParams.set('token', token);
  return parsed.href;
}

/**
 * @param {() => HTMLVideoElement} getVideo
 * @param {object} options
 * @param {boolean} options.live
 * @param {() => Promise<{url: string, token?: string, expires_at: string}>} options.fetchPlayback
 */
export function usePlayer(getVideo, { live, fetchPlayback }) {
  const state = reactive({
    status: 'idle', // idle | loading | playing | error | unsupported
    levels: [], // [{index, height, bitrate, name}], highest first
    manualLevel: -1,
    currentLevel: -1,
    latency: null, // seconds behind the live edge
    mutedByAutoplay: false,
    muted: false,
    refreshes: 0,
  });
  let hls = null;
  let Hls = null;
  let token = null;
  let destroyed = false;
  let generation = 0;
  let retryTimer = null;
  let refreshTimer = null;
  let latencyTimer = null;
  let lastMediaRecovery = 0;
  let video = null;

  const onPlaying = () => {
    state.status = 'playing';
  };
  const onVolume = () => {
    state.muted = video.muted;
  };

  function play() {
    const attempt = video.play();
    if (!attempt || !attempt.catch) return;
    attempt.catch((error) => {
      // A browser that refuses to start with sound gets a muted start and
      // a "tap for sound" button.
      if (error && error.name === 'NotAllowedError' && !video.muted && !destroyed) {
        video.muted = true;
        state.mutedByAutoplay = true;
        video.play().catch(() => {});
      }
    });
  }

  function scheduleRefresh(expiresAt) {
    clearTimeout(refreshTimer);
    const expires = Date.parse(expiresAt);
    if (Number.isNaN(expires)) return;
    const lifetime = expires - Date.now();
    const delay = Math.max(MIN_REFRESH_MS, lifetime * REFRESH_AT);
    refreshTimer = setTimeout(refresh, delay);
  }

  async function refresh() {
    if (destroyed) return;
    try {
      const playback = await fetchPlayback();
      if (destroyed) return;
      token = tokenOf(playback);
      state.refreshes += 1;
      scheduleRefresh(playback.expires_at);
    } catch {
      // Try again soon; the current token may still have a little time.
      refreshTimer = setTimeout(refresh, MIN_REFRESH_MS);
    }
  }

  function readLevels() {
    state.levels = hls.levels
      .map((level, index) => ({ index, height: level.height || parseInt(level.name, 10) || 0, bitrate: level.bitrate, name: level.name }))
      .sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
    state.manualLevel = hls.autoLevelEnabled ? -1 : hls.manualLevel;
  }

  function startHls(url) {
    state.status = 'loading';
    const config = {
      ...(live ? LIVE_CONFIG : VOD_CONFIG),
      // Every request carries the newest token, also those for URLs the
      // playlists gave out under an older one.
      xhrSetup(xhr, requestUrl) {
        xhr.open('GET', withToken(requestUrl, token), true);
      },
    };
    hls = new Hls(config);
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      readLevels();
      play();
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      state.currentLevel = data.level;
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || destroyed) return;
      state.status = 'error';
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        const now = Date.now();
        if (now - lastMediaRecovery < 3000) hls.swapAudioCodec();
        lastMediaRecovery = now;
        hls.recoverMediaError();
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR && data.details !== Hls.ErrorDetails.MANIFEST_LOAD_ERROR && data.details !== Hls.ErrorDetails.MANIFEST_LOAD_TIMEOUT) {
        retryTimer = setTimeout(() => hls && hls.startLoad(), 2000);
      } else {
        // Includes a master playlist that is not there yet (404: the lesson
        // has just gone live and its first segments are still being cut),
        // which startLoad() would never ask for again: start over.
        const current = url;
        hls.destroy();
        hls = null;
        retryTimer = setTimeout(() => !destroyed && startHls(current), 3000);
      }
    });
    hls.attachMedia(video);
    hls.loadSource(url);
    if (live) {
      latencyTimer = setInterval(() => {
        state.latency = hls && Number.isFinite(hls.latency) ? hls.latency : null;
      }, 1000);
    }
  }

  /** Loads the playback URL and starts playing (again, if it was playing). */
  async function start() {
    stop();
    const gen = ++generation;
    video = getVideo();
    video.addEventListener('playing', onPlaying);
    video.addEventListener('volumechange', onVolume);
    state.muted = video.muted;
    state.status = 'loading';
    const playback = await fetchPlayback();
    if (destroyed || gen !== generation) return;
    token = tokenOf(playback);
    scheduleRefresh(playback.expires_at);
    const mod = await import('hls.js/dist/hls.light.mjs');
    if (destroyed || gen !== generation) return;
    Hls = mod.default;
    if (Hls.isSupported()) {
      startHls(playback.url);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      // Native HLS (iOS) cannot rewrite later requests; its URL keeps the
      // token it started with.
      video.src = playback.url;
      play();
    } else {
      state.status = 'unsupported';
    }
  }

  /** -1 for automatic. nextLevel switches at the next segment without flushing the buffer (no stall). */
  function setLevel(index) {
    if (!hls) return;
    hls.nextLevel = Number(index);
    state.manualLevel = Number(index);
  }

  /** Back to the live edge, where a live viewer expects to be. */
  function goLive() {
    if (!hls || !Number.isFinite(hls.liveSyncPosition)) return;
    video.currentTime = hls.liveSyncPosition;
    play();
  }

  function unmute() {
    if (!video) return;
    video.muted = false;
    state.muted = false;
    state.mutedByAutoplay = false;
    play();
  }

  /** Seeks to `offsetMs` into a recording that started at `startedAt` (ISO). */
  function seekToRecordingOffset(offsetMs, startedAt) {
    if (!video) return;
    video.currentTime = recordingOffsetToTime(video, hls, offsetMs, startedAt);
    play();
  }

  /** Stops playing; start() may be called again. */
  function stop() {
    generation += 1;
    clearTimeout(retryTimer);
    clearTimeout(refreshTimer);
    clearInterval(latencyTimer);
    if (hls) hls.destroy();
    hls = null;
    if (video) {
      video.removeEventListener('playing', onPlaying);
      video.removeEventListener('volumechange', onVolume);
      video.removeAttribute('src');
      video.load();
    }
    state.status = 'idle';
    state.levels = [];
    state.latency = null;
  }

  function destroy() {
    destroyed = true;
    stop();
  }

  onBeforeUnmount(destroy);
  return { state, start, stop, setLevel, goLive, unmute, seekToRecordingOffset, destroy, level: (i) => hls && hls.levels[i] };
}

// Gap offsets count from the start of the recording. The player's timeline
// starts at the first segment still in the playlist, which for a rolling
// recording may be later than the start: then map through the segments'
// wall-clock times (EXT-X-PROGRAM-DATE-TIME).
function recordingOffsetToTime(video, hls, offsetMs, startedAt) {
  let time = offsetMs / 1000;
  const level = hls && hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : hls.loadLevel];
  const first = level && level.details && level.details.fragments[0];
  if (first) {
    const startedAtMs = Date.parse(startedAt);
    if (first.sn !== 0 && first.programDateTime && !Number.isNaN(startedAtMs)) {
      time = first.start + (startedAtMs + offsetMs - first.programDateTime) / 1000;
    } else {
      time += first.start;
    }
  }
  const seekable = video.seekable;
  if (seekable && seekable.length) {
    const start = seekable.start(0);
    const end = seekable.end(seekable.length - 1);
    time = Math.min(Math.max(time, start), Math.max(start, end - 0.5));
  }
  return Math.max(0, time);
}
