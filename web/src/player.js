// One HLS player on a <video>, with a quality menu. hls.js (window.Hls, from
// /vendor/hls.min.js) does the work wherever Media Source Extensions exist;
// browsers without them but with native HLS (iOS Safari) get the URL directly
// and an "Auto"-only menu.

import { h } from './dom.js';
import { formatMbps } from './format.js';
import { t } from './i18n.js';

// Live: play 3 s behind the newest segment's end (1.5 segments), and drift
// back to that at up to 1.1x after a stall, rather than stay late for the
// rest of the lesson. A 2 s segment then lands with 1-3 s of buffer left:
// glass-to-glass about 5 s (docs/benchmarks.md), with room for a slow
// partner-school link. WebRTC is the path for interactive latency.
const LIVE_CONFIG = { liveSyncDuration: 3, liveMaxLatencyDuration: 12, maxLiveSyncPlaybackRate: 1.1, lowLatencyMode: false };
// Recordings start at the beginning, also while still being recorded (the
// playlist has no ENDLIST yet and would otherwise start at its live edge).
const VOD_CONFIG = { lowLatencyMode: false, startPosition: 0 };

/**
 * @param {HTMLVideoElement} video
 * @param {string} url  master playlist
 * @param {object} options
 * @param {boolean} options.live
 * @param {HTMLSelectElement} [options.quality]  filled with Auto + one option per level
 * @param {(status: 'loading'|'playing'|'error'|'unsupported') => void} [options.onStatus]
 */
export function createPlayer(video, url, { live, quality, onStatus = () => {} }) {
  const Hls = window.Hls;
  let hls = null;
  let destroyed = false;
  let retryTimer = null;
  let lastMediaRecovery = 0;

  const onPlaying = () => onStatus('playing');
  video.addEventListener('playing', onPlaying);

  // Autoplay: a browser that refuses to start with sound gets a muted start
  // (the controls can unmute); any other refusal leaves the controls to the user.
  function play() {
    const attempt = video.play();
    if (!attempt || !attempt.catch) return;
    attempt.catch((error) => {
      if (error && error.name === 'NotAllowedError' && !video.muted && !destroyed) {
        video.muted = true;
        video.play().catch(() => {});
      }
    });
  }

  function autoLabel() {
    if (!hls || !hls.autoLevelEnabled) return t('watch.auto');
    const level = hls.levels[hls.currentLevel];
    return level ? t('watch.auto_current', { level: levelLabel(level, true) }) : t('watch.auto');
  }

  function fillQuality() {
    if (!quality) return;
    const options = [h('option', { value: '-1' }, autoLabel())];
    if (hls) {
      const order = hls.levels
        .map((level, index) => ({ level, index }))
        .sort((a, b) => (b.level.height || 0) - (a.level.height || 0) || b.level.bitrate - a.level.bitrate);
      for (const { level, index } of order) options.push(h('option', { value: String(index) }, levelLabel(level)));
    }
    quality.replaceChildren(...options);
    quality.value = hls && !hls.autoLevelEnabled ? String(hls.manualLevel) : '-1';
    quality.disabled = options.length < 2;
  }

  function onQualityChange() {
    if (!hls) return;
    // nextLevel switches at the next segment without flushing what is
    // buffered, so the picture never stops (currentLevel would flush and
    // rebuffer, a visible stall on a live stream); -1 returns to automatic.
    hls.nextLevel = Number(quality.value);
  }

  function start() {
    onStatus('loading');
    hls = new Hls(live ? LIVE_CONFIG : VOD_CONFIG);
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      fillQuality();
      play();
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, () => {
      if (quality && quality.options.length) quality.options[0].textContent = autoLabel();
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || destroyed) return;
      onStatus('error');
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        const now = Date.now();
        if (now - lastMediaRecovery < 3000) hls.swapAudioCodec();
        lastMediaRecovery = now;
        hls.recoverMediaError();
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        retryTimer = setTimeout(() => hls && hls.startLoad(), 2000);
      } else {
        restart();
      }
    });
    hls.attachMedia(video);
    hls.loadSource(url);
  }

  function restart() {
    if (hls) hls.destroy();
    hls = null;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => !destroyed && start(), 3000);
  }

  if (Hls && Hls.isSupported()) {
    if (quality) quality.addEventListener('change', onQualityChange);
    start();
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    onStatus('loading');
    video.src = url;
    fillQuality();
    play();
  } else {
    fillQuality();
    onStatus('unsupported');
  }

  return {
    /** Seeks to `offsetMs` into a recording that started at `startedAt` (ISO). */
    seekToRecordingOffset(offsetMs, startedAt) {
      video.currentTime = recordingOffsetToTime(video, hls, offsetMs, startedAt);
      play();
    },
    destroy() {
      destroyed = true;
      clearTimeout(retryTimer);
      video.removeEventListener('playing', onPlaying);
      if (quality) quality.removeEventListener('change', onQualityChange);
      if (hls) hls.destroy();
      hls = null;
      video.removeAttribute('src');
      video.load();
    },
  };
}

/** "720p · 2.7 Mbps", or just "720p" for the Auto label. */
function levelLabel(level, short = false) {
  const height = level.height || parseInt(level.name, 10) || 0;
  if (short) return height ? `${height}p` : level.name || '';
  return t('watch.level', { height, mbps: formatMbps(level.bitrate) });
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
