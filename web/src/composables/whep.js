// Low-latency live playback over WebRTC (WHEP) on the page's <video>: one
// receive-only RTCPeerConnection, H.264 + Opus from the server, about half
// a second behind the classroom. Its state has the shape QualitySelect and
// the watch page read from usePlayer (levels, manualLevel, currentLevel,
// status, muted), so the page swaps one for the other. Only this file
// touches RTCPeerConnection; the HTTP side is whepOffer/endWebRtcSession in the API
// client. It does not decide when to use WebRTC: the page does.

import { onBeforeUnmount, reactive } from 'vue';
import { whepOffer, endWebRtcSession } from '../api/client.js';
import { tokenOf } from './player.js';

// The server is ICE-lite with host candidates: once the answer is in, the
// browser's checks reach it within a few hundred ms, or a firewall is in
// the way. Past this, say so and offer HLS rather than spin.
const CONNECT_TIMEOUT_MS = 10_000;
// After a dropped connection (server restart, network change), once.
const RECONNECT_DELAY_MS = 2000;
// 409 (not live yet) and 503 (full) without a Retry-After.
const DEFAULT_RETRY_S = 3;
const AUDIO = 'audio';
const STORAGE_KEY = 'classcast.lowLatency';

export const whepSupported = typeof window !== 'undefined' && typeof window.RTCPeerConnection === 'function';

/** Whether the viewer last chose low latency (kept per browser). */
export function rememberedLowLatency() {
  try {
    return localStorage.getItem(STORAGE_KEY) === '1';
  } catch {
    return false; // storage blocked: start on HLS
  }
}

export function rememberLowLatency(on) {
  try {
    localStorage.setItem(STORAGE_KEY, on ? '1' : '0');
  } catch {
    /* not remembered; still used on this page */
  }
}

/** The renditions of a master playlist, as usePlayer lists hls.js levels (index = order in the playlist). */
export function parseMaster(text) {
  const levels = [];
  for (const line of String(text).split(/\r?\n/)) {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) continue;
    const attrs = {};
    for (const m of line.slice(18).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) attrs[m[1]] = m[2].replace(/^"|"$/g, '');
    const height = Number((attrs.RESOLUTION || '').split('x')[1]) || parseInt(attrs.NAME, 10) || 0;
    if (attrs.NAME) levels.push({ index: levels.length, height, bitrate: Number(attrs.BANDWIDTH) || 0, name: attrs.NAME });
  }
  return levels;
}

/**
 * @param {() => HTMLVideoElement} getVideo
 * @param {object} options
 * @param {string} options.classroomId
 * @param {() => Promise<{url: string, token?: string}>} options.fetchPlayback the live playback answer (its token goes on the POST, its URL gives the renditions)
 */
export function useWhep(getVideo, { classroomId, fetchPlayback }) {
  const state = reactive({
    status: 'idle', // idle | loading | playing | not_live | error
    message: '', // the server's words, when status is error
    reason: null, // else why, for the page to word: blocked (no connection) | lost (dropped twice)
    kind: null, // when the server refused: the ApiError kind (forbidden, not_found, server, offline, …)
    levels: [], // [{index, height, bitrate, name}], highest first; sound only last
    manualLevel: -1, // -1: the server picks the best this browser can play
    currentLevel: -1, // the rendition the server serves (Classcast-Rendition)
    rendition: null, // its name
    latency: null, // not measured here; the page shows none for WebRTC
    muted: false,
    mutedByAutoplay: false,
  });
  let pc = null;
  let resource = null; // the session's Location, to DELETE
  let video = null;
  let generation = 0;
  let destroyed = false;
  let retryTimer = null;
  let connectTimer = null;
  let reconnected = false;

  const onPlaying = () => {
    if (pc) state.status = 'playing';
  };
  const onVolume = () => {
    state.muted = video.muted;
  };

  function play() {
    const attempt = video.play();
    if (!attempt || !attempt.catch) return;
    attempt.catch((error) => {
      // As in usePlayer: refused with sound, start muted and offer "tap for sound".
      if (error && error.name === 'NotAllowedError' && !video.muted && !destroyed) {
        video.muted = true;
        state.mutedByAutoplay = true;
        video.play().catch(() => {});
      }
    });
  }

  async function loadRenditions(url) {
    if (state.levels.length) return;
    try {
      const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
      if (!response.ok) return;
      const levels = parseMaster(await response.text()).sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
      if (levels.length) state.levels = [...levels, { index: levels.length, height: 0, bitrate: 0, name: AUDIO }];
    } catch {
      /* no menu this time; playback does not need it */
    }
  }

  function levelByName(name) {
    return state.levels.find((l) => l.name === name) || null;
  }

  function end(peer, location, keepalive = false) {
    if (peer) {
      peer.ontrack = null;
      peer.onconnectionstatechange = null;
      peer.close();
    }
    if (location) endWebRtcSession(location, { keepalive });
  }

  /** Closes the connection and ends the server's session; `keepalive` when the page is going away. */
  function hangUp({ keepalive = false } = {}) {
    clearTimeout(connectTimer);
    end(pc, resource, keepalive);
    pc = null;
    resource = null;
  }

  function fail({ message = '', reason = null, kind = null }) {
    hangUp();
    state.status = 'error';
    state.message = message;
    state.reason = reason;
    state.kind = kind;
  }

  function retryLater(seconds, gen) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => gen === generation && connect(gen), (seconds || DEFAULT_RETRY_S) * 1000);
  }

  function watchConnection(gen) {
    connectTimer = setTimeout(() => gen === generation && fail({ reason: 'blocked' }), CONNECT_TIMEOUT_MS);
    pc.onconnectionstatechange = () => {
      if (gen !== generation || !pc) return;
      const s = pc.connectionState;
      if (s === 'connected') {
        clearTimeout(connectTimer);
        reconnected = false;
      } else if (s === 'failed' || s === 'closed') {
        // The server went away or the network changed: one fresh session,
        // then hand the problem to the person.
        if (reconnected) {
          fail({ reason: 'lost' });
          return;
        }
        reconnected = true;
        hangUp();
        state.status = 'loading';
        retryLater(RECONNECT_DELAY_MS / 1000, gen);
      }
    };
  }

  /**
   * A new session, then the old one (if any) ends: changing quality keeps
   * the old picture until the new one is ready, and the server briefly
   * holds two sessions for this viewer.
   */
  async function connect(gen) {
    if (destroyed || gen !== generation) return;
    clearTimeout(connectTimer);
    const previous = { pc, resource };
    pc = null;
    resource = null;
    const endPrevious = () => {
      end(previous.pc, previous.resource);
      previous.pc = previous.resource = null;
    };
    // A retry or a quality change keeps saying what it said (the picture,
    // or why there is none) until the new session plays or fails.
    if (state.status === 'idle') state.status = 'loading';
    try {
      const outcome = await negotiate(gen);
      if (outcome.error && gen === generation) failed(outcome.error, gen);
    } finally {
      endPrevious();
    }
  }

  async function negotiate(gen) {
    let playback;
    try {
      playback = await fetchPlayback();
    } catch (error) {
      return { error };
    }
    if (gen !== generation) return {};
    await loadRenditions(playback.url);
    if (gen !== generation) return {};

    const peer = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    pc = peer;
    peer.addTransceiver('video', { direction: 'recvonly' });
    peer.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    peer.ontrack = (event) => stream.addTrack(event.track);
    let answer;
    try {
      // No waiting for ICE gathering: the server is ICE-lite and learns our
      // address from the checks we send to its candidates in the answer.
      await peer.setLocalDescription(await peer.createOffer());
      const wanted = state.levels.find((l) => l.index === state.manualLevel);
      answer = await whepOffer(classroomId, peer.localDescription.sdp, {
        rendition: wanted ? wanted.name : undefined,
        token: tokenOf(playback) || undefined,
      });
    } catch (error) {
      return { error };
    }
    if (gen !== generation || pc !== peer) {
      // Stopped or superseded while the server answered.
      end(peer, answer.location);
      return {};
    }
    resource = answer.location;
    try {
      await peer.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    } catch (error) {
      return { error };
    }
    if (gen !== generation) return {};
    state.rendition = answer.rendition;
    const served = levelByName(answer.rendition);
    state.currentLevel = served ? served.index : -1;
    watchConnection(gen);
    video.srcObject = stream;
    play();
    return {};
  }

  function failed(error, gen) {
    if (error.kind === 'conflict' || (error.status === 503 && error.retryAfter)) {
      // Not live yet, or no room on the server for now: keep asking while on.
      hangUp();
      state.status = error.kind === 'conflict' ? 'not_live' : 'error';
      state.message = error.kind === 'conflict' ? '' : error.message;
      state.kind = error.kind;
      retryLater(error.retryAfter, gen);
    } else {
      fail({ message: error.message, kind: error.kind || null });
    }
  }

  // Leaving the page ends the session at once rather than when the server's
  // ICE timeout notices; coming back from the back/forward cache resumes.
  function onPageHide() {
    if (resource) hangUp({ keepalive: true });
  }
  function onPageShow(event) {
    if (event.persisted && video && state.status !== 'idle') connect(++generation);
  }

  /**
   * Starts (or restarts) playing over WebRTC. Never rejects: what went
   * wrong is in `state`.
   */
  async function start() {
    stop();
    video = getVideo();
    video.addEventListener('playing', onPlaying);
    video.addEventListener('volumechange', onVolume);
    window.addEventListener('pagehide', onPageHide);
    window.addEventListener('pageshow', onPageShow);
    state.muted = video.muted;
    reconnected = false;
    await connect(++generation);
  }

  /** Another rendition: a new session for it (WHEP has no switch within one), then the old one ends. */
  function setLevel(index) {
    state.manualLevel = Number(index);
    if (state.status === 'idle') return;
    reconnected = false;
    connect(++generation);
  }

  function unmute() {
    if (!video) return;
    video.muted = false;
    state.muted = false;
    state.mutedByAutoplay = false;
    play();
  }

  /** Stops playing and ends the session; start() may be called again. */
  function stop() {
    generation += 1;
    clearTimeout(retryTimer);
    hangUp();
    window.removeEventListener('pagehide', onPageHide);
    window.removeEventListener('pageshow', onPageShow);
    if (video) {
      video.removeEventListener('playing', onPlaying);
      video.removeEventListener('volumechange', onVolume);
      // srcObject wins over src: HLS cannot attach until it is cleared.
      video.srcObject = null;
    }
    state.status = 'idle';
    state.message = '';
    state.reason = null;
    state.kind = null;
    state.rendition = null;
    state.currentLevel = -1;
  }

  function destroy() {
    destroyed = true;
    stop();
  }

  onBeforeUnmount(destroy);
  return { state, start, stop, setLevel, unmute, destroy };
}
