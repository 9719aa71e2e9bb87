// Publishing this browser's camera and microphone over WebRTC (WHIP): the
// devices and their preview, a microphone level, and one send-only
// RTCPeerConnection to the server. Like whep.js, only this file touches
// getUserMedia and RTCPeerConnection; the HTTP side is whipOffer and
// endWebRtcSession in the API client, and `offer` is a parameter so an
// interactive session can post to its own endpoint.

import { onBeforeUnmount, reactive } from 'vue';
import { endWebRtcSession } from '../api/client.js';

// ICE-lite server, host candidates: connected within a few hundred ms or
// a firewall is in the way (see whep.js).
const CONNECT_TIMEOUT_MS = 10_000;
// What each picture size is sent at; the server transcodes the ladder from it.
export const SIZES = {
  1080: { width: 1920, height: 1080, kbps: 4000 },
  720: { width: 1280, height: 720, kbps: 2500 },
  360: { width: 640, height: 360, kbps: 800 },
};

export const whipSupported =
  typeof window !== 'undefined' && typeof window.RTCPeerConnection === 'function' && !!navigator.mediaDevices?.getUserMedia;

/**
 * H.264 first, constrained baseline with packetization-mode 1 before the
 * rest: the one profile every viewer (Firefox's OpenH264, aiortc) decodes,
 * so the server can pass it through instead of transcoding.
 */
export function preferH264(codecs) {
  const rank = (c) => {
    if (c.mimeType.toLowerCase() !== 'video/h264') return 3;
    const fmtp = c.sdpFmtpLine || '';
    const baseline = /profile-level-id=42e0/i.test(fmtp);
    const mode1 = /packetization-mode=1/.test(fmtp);
    return baseline && mode1 ? 0 : mode1 ? 1 : 2;
  };
  return codecs.filter((c) => rank(c) < 3).sort((a, b) => rank(a) - rank(b));
}

/**
 * @param {() => HTMLVideoElement} getPreview the muted <video> showing what is sent
 * @param {object} options
 * @param {(sdp: string) => Promise<{sdp: string, location: string}>} options.offer posts the offer
 */
export function useWhip(getPreview, { offer }) {
  const state = reactive({
    status: 'idle', // idle | previewing | connecting | live | error
    reason: null, // why not, for the page to word: denied | no_device | blocked | lost | server
    // A camera or microphone switch that failed while the old devices kept
    // going (previewing or live): denied | no_device. It does not change
    // `status`: what is sent goes on.
    deviceError: null,
    message: '', // the server's words, when reason is server
    cameras: [], // [{deviceId, label}]
    microphones: [],
    camera: '', // chosen deviceId ('' = the browser's default)
    microphone: '',
    size: 720,
    echoCancellation: true,
    noiseSuppression: true,
    autoGainControl: true,
    level: 0, // microphone, 0..1, about 20 times a second
    kbps: 0, // video sent, while live
    since: null, // Date the publish connected
    microphoneOn: true,
  });
  let stream = null;
  let pc = null;
  let resource = null;
  let audio = null; // {context, analyser, timer}
  let statsTimer = null;
  let connectTimer = null;
  let lastBytes = null;
  let destroyed = false;
  // Bumped by every preview() and by release(): a getUserMedia that answers
  // after a newer one, or after release(), is closed at once.
  let opening = 0;

  function constraints() {
    const size = SIZES[state.size] || SIZES[720];
    return {
      video: {
        deviceId: state.camera ? { exact: state.camera } : undefined,
        width: { ideal: size.width },
        height: { ideal: size.height },
        frameRate: { ideal: 25, max: 30 },
      },
      audio: {
        deviceId: state.microphone ? { exact: state.microphone } : undefined,
        echoCancellation: state.echoCancellation,
        noiseSuppression: state.noiseSuppression,
        autoGainControl: state.autoGainControl,
      },
    };
  }

  async function listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const named = (kind) =>
      devices.filter((d) => d.kind === kind).map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${kind} ${i + 1}` }));
    state.cameras = named('videoinput');
    state.microphones = named('audioinput');
  }

  function meter(media) {
    stopMeter();
    const track = media.getAudioTracks()[0];
    if (!track || typeof AudioContext !== 'function') return;
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    // A timer rather than requestAnimationFrame: it keeps measuring in a
    // background tab, where the person may have switched to their slides.
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      // RMS on a dB scale, -60 dB..0 dB → 0..1, so speech moves the bar.
      const db = 10 * Math.log10(sum / samples.length || 1e-12);
      state.level = Math.max(0, Math.min(1, (db + 60) / 60));
    }, 50);
    audio = { context, analyser, timer };
  }

  function stopMeter() {
    if (!audio) return;
    clearInterval(audio.timer);
    audio.context.close().catch(() => {});
    audio = null;
    state.level = 0;
  }

  /** Opens (or re-opens, after a choice changed) the camera and microphone. */
  async function preview() {
    const attempt = ++opening;
    let media;
    try {
      media = await navigator.mediaDevices.getUserMedia(constraints());
    } catch (error) {
      if (attempt !== opening || destroyed) return;
      const reason = error && error.name === 'NotAllowedError' ? 'denied' : 'no_device';
      if (stream) {
        // The devices in use keep going (and keep being sent, if live).
        state.deviceError = reason;
      } else {
        state.status = 'error';
        state.reason = reason;
      }
      return;
    }
    if (attempt !== opening || destroyed) {
      media.getTracks().forEach((t) => t.stop());
      return;
    }
    state.deviceError = null;
    const old = stream;
    stream = media;
    media.getAudioTracks().forEach((t) => (t.enabled = state.microphoneOn));
    const video = getPreview();
    if (video) {
      video.srcObject = media;
      video.play().catch(() => {});
    }
    meter(media);
    await listDevices();
    // Live already: swap the tracks without a new session.
    if (pc) {
      for (const sender of pc.getSenders()) {
        const track = media.getTracks().find((t) => sender.track && t.kind === sender.track.kind);
        if (track) await sender.replaceTrack(track);
      }
      await limitBitrate();
    }
    if (old) old.getTracks().forEach((t) => t.stop());
    // Released or superseded meanwhile: release() or the newer call says the status.
    if (attempt !== opening) return;
    if (state.status === 'idle' || state.status === 'error') {
      state.status = 'previewing';
      state.reason = null;
    }
  }

  async function limitBitrate() {
    const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === 'video');
    if (!sender) return;
    const parameters = sender.getParameters();
    if (!parameters.encodings || !parameters.encodings.length) parameters.encodings = [{}];
    parameters.encodings[0].maxBitrate = (SIZES[state.size] || SIZES[720]).kbps * 1000;
    // Keep the picture size: the server's ladder is planned from it, and a
    // size change mid-lesson makes it start over (a reconnect). Chromium
    // otherwise starts small and steps up as its bandwidth estimate grows;
    // this way a congested link costs frame rate and sharpness instead.
    parameters.degradationPreference = 'maintain-resolution';
    try {
      await sender.setParameters(parameters);
    } catch {
      /* the browser's default rate then */
    }
  }

  function fail(reason, message = '') {
    hangUp();
    state.status = 'error';
    state.reason = reason;
    state.message = message;
  }

  /** Goes live: a send-only session with the server. */
  async function start() {
    if (!stream) await preview();
    if (!stream || pc) return;
    state.status = 'connecting';
    state.reason = null;
    const peer = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    pc = peer;
    for (const track of stream.getTracks()) {
      const transceiver = peer.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      if (track.kind === 'video' && transceiver.setCodecPreferences && RTCRtpSender.getCapabilities) {
        const h264 = preferH264(RTCRtpSender.getCapabilities('video').codecs);
        if (h264.length) transceiver.setCodecPreferences(h264);
      }
    }
    let answer;
    try {
      await peer.setLocalDescription(await peer.createOffer());
      answer = await offer(peer.localDescription.sdp);
    } catch (error) {
      if (pc === peer) fail(error.kind === 'offline' ? 'blocked' : 'server', error.message);
      return;
    }
    if (pc !== peer) {
      endWebRtcSession(answer.location);
      return;
    }
    resource = answer.location;
    try {
      await peer.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    } catch (error) {
      fail('server', error.message);
      return;
    }
    await limitBitrate();
    if (pc !== peer) return;
    connectTimer = setTimeout(() => pc === peer && fail('blocked'), CONNECT_TIMEOUT_MS);
    // Watched from here on, and looked at once now: the connection may have
    // come up while we were still in the awaits above (a busy machine).
    peer.onconnectionstatechange = () => stateChanged(peer);
    stateChanged(peer);
  }

  function stateChanged(peer) {
    if (pc !== peer) return;
    if (peer.connectionState === 'connected') {
      if (state.status === 'live') return;
      clearTimeout(connectTimer);
      state.status = 'live';
      state.since = new Date();
      watchStats(peer);
    } else if (peer.connectionState === 'failed' || peer.connectionState === 'closed') {
      fail('lost');
    }
  }

  function watchStats(peer) {
    clearInterval(statsTimer);
    lastBytes = null;
    statsTimer = setInterval(async () => {
      if (pc !== peer) return;
      const report = await peer.getStats().catch(() => null);
      if (!report) return;
      report.forEach((s) => {
        if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
        if (lastBytes) state.kbps = Math.round(((s.bytesSent - lastBytes.bytes) * 8) / (s.timestamp - lastBytes.at));
        lastBytes = { bytes: s.bytesSent, at: s.timestamp };
      });
    }, 1000);
  }

  /** Closes the connection and ends the server's session; the devices stay open. */
  function hangUp({ keepalive = false } = {}) {
    clearTimeout(connectTimer);
    clearInterval(statsTimer);
    if (pc) {
      pc.onconnectionstatechange = null;
      pc.close();
    }
    if (resource) endWebRtcSession(resource, { keepalive });
    pc = null;
    resource = null;
    state.kbps = 0;
    state.since = null;
  }

  /** Ends the publish; the preview stays. */
  function stop() {
    hangUp();
    state.status = stream ? 'previewing' : 'idle';
    state.reason = null;
  }

  /**
   * Ends the publish (if any) and closes the camera and microphone: their
   * tracks stop (the browser's "in use" light goes off) and the level
   * meter's AudioContext closes. preview() may open them again.
   */
  function release({ keepalive = false } = {}) {
    opening += 1;
    hangUp({ keepalive });
    stopMeter();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    const video = getPreview();
    if (video) video.srcObject = null;
    state.status = 'idle';
    state.reason = null;
    state.message = '';
    state.deviceError = null;
  }

  // Closing the tab ends the lesson's feed at once rather than after the
  // server notices the silence.
  const onPageHide = () => hangUp({ keepalive: true });
  window.addEventListener('pagehide', onPageHide);

  onBeforeUnmount(() => {
    destroyed = true;
    window.removeEventListener('pagehide', onPageHide);
    release({ keepalive: true });
  });

  /** Sends the microphone or silence (the teacher muted this classroom). */
  function setMicrophone(on) {
    state.microphoneOn = on;
    if (stream) stream.getAudioTracks().forEach((t) => (t.enabled = on));
  }

  return { state, preview, start, stop, release, setMicrophone };
}
