// Glass-to-glass latency of live HLS and of WebRTC, from the same encoder
// in the same run: classcast's HLS against ffmpeg's own HLS muxer served
// by nginx, and classcast's WHEP (the camera's H.264 passed through, and a
// transcoded rendition) against Janus's streaming plugin relaying the same
// H.264 to Chromium.
//
// The "camera" (painted_clock.mjs) paints the wall clock into raw frames at
// 25 fps and pipes them to one ffmpeg, which encodes once (constrained
// baseline, so WHEP can pass the camera's H.264 to Chromium) and tees the
// stream to classcast over RTMP, to ffmpeg's HLS muxer and, as RTP, to
// Janus (video only: Janus relays RTP as it comes). Chromium plays
// the HLS with hls.js and the watch page's live settings and the WebRTC
// with an RTCPeerConnection into a <video> (srcObject), reads the cells off
// every frame it presents, and the latency is the presentation time minus
// the painted time. Same machine, same clock.
//
// Latency under CPU overload is measured by benches/overload.sh.
//
//   node benches/latency.mjs CLASSCAST_URL RTMP_BASE NGINX_URL HLS_DIR JANUS_URL JANUS_RTP_PORT SECONDS
// (benches/latency.sh starts the servers and calls this.)

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { BITS, CHECK, COLS, ROWS, startCamera } from './painted_clock.mjs';

const require = createRequire(new URL('../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [classcast, rtmpBase, nginx, hlsDir, janus, janusRtpPort, secondsArg] = process.argv.slice(2);
const SECONDS = Number(secondsArg || 60);

const WARMUP_SECONDS = 10;
const SETTLE_SECONDS = 8;
const ROUND_SECONDS = 15;
const WIDTH = 1280, HEIGHT = 720, FPS = 25;

async function api(path, body) {
  const response = await fetch(classcast + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

const room = await api('/api/classrooms', { name: '延迟测试 latency' });
const source = await api(`/api/classrooms/${room.id}/sources`, { kind: 'rtmp' });

const camera = startCamera({
  width: WIDTH, height: HEIGHT, fps: FPS,
  // Constrained baseline (and, with zerolatency, no B-frames) is what
  // Chromium's WebRTC decodes, so WHEP's `source` passes it through; every
  // row below gets the same picture from the same encoder.
  profile: 'baseline',
  outputs: [
    `[f=flv]${rtmpBase}/${source.stream_key}`,
    `[f=hls:hls_time=2:hls_list_size=6:hls_segment_type=fmp4:hls_flags=delete_segments+independent_segments]${hlsDir}/index.m3u8`,
    // RTP carries no global header: dump_extra puts SPS/PPS before each
    // keyframe, as a camera sending RTP would.
    `[select=v:f=rtp:bsfs/v=dump_extra]rtp://127.0.0.1:${janusRtpPort}?pkt_size=1200`,
  ],
});

const LIVE_CONFIG = readFileSync(new URL('../web/src/composables/player.js', import.meta.url), 'utf8')
  .match(/const LIVE_CONFIG = (\{[^}]*\});/)[1];

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--autoplay-policy=no-user-gesture-required',
    // classcast's WebRTC candidate is on 127.0.0.1, which Chromium leaves
    // out of peer connections unless told (as web/tests/lib.mjs does).
    '--allow-loopback-in-peer-connection',
  ],
});
// The harness injects hls.js into a page of classcast's origin; that page
// (not a UI page) has a policy that allows no script, rightly. The bench
// is not the product: let its own scripts run.
const page = await browser.newPage({ bypassCSP: true });
await page.goto(`${classcast}/healthz`); // any page of classcast's origin
// The same hls.js the UI bundles.
await page.addScriptTag({ path: new URL('../web/node_modules/hls.js/dist/hls.min.js', import.meta.url).pathname });
// classcast's top HLS rendition and WHEP's `source` are the camera's H.264
// passed through; 360p is transcoded. Each is pinned so the numbers say
// which is which.
const players = {
  'HLS classcast source': { hls: `${classcast}/live/${room.id}/index.m3u8`, level: 'top' },
  'HLS classcast 360p': { hls: `${classcast}/live/${room.id}/index.m3u8`, level: 'bottom' },
  'HLS ffmpeg+nginx': { hls: `${nginx}/index.m3u8`, level: 'top' },
  'WHEP classcast source': { whep: `${classcast}/whep/${room.id}?rendition=source`, rendition: 'source' },
  'WHEP classcast 360p': { whep: `${classcast}/whep/${room.id}?rendition=360p`, rendition: '360p' },
  'WebRTC Janus': { janus },
};
const EXPECTED_HEIGHT = {
  'HLS classcast source': 720, 'HLS classcast 360p': 360, 'HLS ffmpeg+nginx': 720,
  'WHEP classcast source': 720, 'WHEP classcast 360p': 360, 'WebRTC Janus': 720,
};
for (const [name, spec] of Object.entries(players)) spec.height = EXPECTED_HEIGHT[name];
// Where hls.js starts in a live playlist depends on when it loads relative
// to the newest segment, so players are started afresh every round and the
// samples of all rounds pooled. WHEP players are started afresh too, which
// also times each one's first frame.
await page.evaluate(({ players, config, geometry }) => {
  window.samples = {};
  window.levels = {};
  window.firstFrames = {};
  window.receiver = {};
  window.problems = [];
  window.measuring = false;
  const canvas = document.createElement('canvas');
  canvas.width = geometry.width; canvas.height = geometry.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let running = [];

  // Painted time of the frame on screen, or null when the check cells fail.
  const readClock = (video) => {
    ctx.drawImage(video, 0, 0, geometry.width, geometry.height);
    const cw = geometry.width / geometry.cols, ch = geometry.height / geometry.rows;
    let value = 0n, ok = true;
    for (let cell = 0; cell < geometry.cols * geometry.rows; cell++) {
      const x = (cell % geometry.cols) * cw + cw / 2, y = Math.floor(cell / geometry.cols) * ch + ch / 2;
      const bit = ctx.getImageData(x, y, 1, 1).data[0] > 128 ? 1 : 0;
      if (cell < geometry.bits) value |= BigInt(bit) << BigInt(cell);
      else ok &&= bit === geometry.check[cell - geometry.bits];
    }
    return ok ? Number(value) : null;
  };

  const startHls = (player, url, level) => {
    if (player.stopped) return;
    const hls = new window.Hls(Function(`return (${config})`)());
    player.hls = hls;
    hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
      const heights = hls.levels.map((l) => l.height || 0);
      const pick = level === 'top' ? Math.max(...heights) : Math.min(...heights);
      hls.startLevel = heights.indexOf(pick);
      hls.currentLevel = heights.indexOf(pick);
    });
    hls.on(window.Hls.Events.ERROR, (_, d) => {
      if (d.fatal) { hls.destroy(); setTimeout(() => startHls(player, url, level), 1000); }
    });
    hls.loadSource(url);
    hls.attachMedia(player.video);
  };

  // WHEP as a player does it: recvonly video and audio, the offer with all
  // its candidates (the server takes trickle, but loopback gathers at once),
  // the answer, and the stream into the <video>.
  const startWhep = async (player, name, url, rendition) => {
    const pc = new RTCPeerConnection();
    player.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.ontrack = (event) => {
      if (event.track.kind === 'video') player.video.srcObject = new MediaStream([event.track]);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, 2000);
    });
    player.posted = performance.now();
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
    if (response.status !== 201) {
      window.problems.push(`${name}: POST answered ${response.status} ${await response.text()}`);
      return;
    }
    player.location = response.headers.get('location');
    const served = response.headers.get('classcast-rendition');
    // The numbers must say which rendition they are about: a camera the
    // browser cannot decode would be served from a transcode instead.
    if (served !== rendition) window.problems.push(`${name}: asked for ${rendition}, served ${served}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
  };

  // Janus's own API (its streaming plugin has no WHEP): a session, the
  // plugin, `watch` mountpoint 1, Janus's offer, our answer, `start`.
  const startJanus = async (player, name, base) => {
    let transaction = 0;
    const call = async (path, body) => {
      const response = await fetch(base + path, { method: 'POST', body: JSON.stringify({ transaction: String(++transaction), ...body }) });
      const reply = await response.json();
      if (reply.janus === 'error') throw new Error(JSON.stringify(reply.error));
      return reply;
    };
    const session = (await call('', { janus: 'create' })).data.id;
    player.janusSession = `${base}/${session}`;
    const handle = (await call(`/${session}`, { janus: 'attach', plugin: 'janus.plugin.streaming' })).data.id;
    player.posted = performance.now();
    await call(`/${session}/${handle}`, { janus: 'message', body: { request: 'watch', id: 1 } });
    let offer = null;
    while (!offer && !player.stopped) {
      const event = await (await fetch(`${base}/${session}?maxev=1&rid=${Date.now()}`)).json();
      if (event.jsep) offer = event.jsep;
    }
    if (!offer) return;
    const pc = new RTCPeerConnection();
    player.pc = pc;
    pc.ontrack = (event) => { player.video.srcObject = new MediaStream([event.track]); };
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, 2000);
    });
    await call(`/${session}/${handle}`, { janus: 'message', body: { request: 'start' }, jsep: { type: 'answer', sdp: pc.localDescription.sdp } });
  };

  window.startPlayers = () => {
    for (const [name, spec] of Object.entries(players)) {
      window.samples[name] ||= [];
      const video = document.createElement('video');
      video.muted = true; video.autoplay = true; video.playsInline = true;
      document.body.append(video);
      const player = { name, video, hls: null, pc: null, stopped: false, posted: null, first: false, expected: spec.height };
      running.push(player);
      if (spec.hls) startHls(player, spec.hls, spec.level);
      else if (spec.whep) startWhep(player, name, spec.whep, spec.rendition).catch((e) => window.problems.push(`${name}: ${e}`));
      else startJanus(player, name, spec.janus).catch((e) => window.problems.push(`${name}: ${e}`));
      const onFrame = (now, meta) => {
        if (player.stopped) return;
        const presented = performance.timeOrigin + (meta.expectedDisplayTime || now);
        if (player.posted !== null && !player.first) {
          // Time to first frame in Chromium, from the POST to its presentation.
          player.first = true;
          (window.firstFrames[name] ||= []).push((meta.expectedDisplayTime || now) - player.posted);
        }
        const painted = readClock(video);
        if (painted !== null && window.measuring) {
          // What is on screen, not what the playlist or answer claims:
          // only frames of the rendition named count, the others are told.
          const levels = (window.levels[name] ||= {});
          levels[video.videoHeight] = (levels[video.videoHeight] || 0) + 1;
          if (video.videoHeight === player.expected) window.samples[name].push(presented - painted);
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  };

  // Where a WebRTC frame's time goes on the receiving side, from Chromium's
  // own counters, summed over the round.
  window.receiverStats = async () => {
    for (const player of running) {
      if (!player.pc) continue;
      (await player.pc.getStats()).forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
        const r = (window.receiver[player.name] ||= { jitter: 0, emitted: 0, decode: 0, decoded: 0 });
        r.jitter += s.jitterBufferDelay || 0; r.emitted += s.jitterBufferEmittedCount || 0;
        r.decode += s.totalDecodeTime || 0; r.decoded += s.framesDecoded || 0;
      });
    }
  };

  window.stopPlayers = () => {
    for (const player of running) {
      player.stopped = true;
      if (player.hls) player.hls.destroy();
      if (player.pc) player.pc.close();
      if (player.location) fetch(player.location, { method: 'DELETE' });
      if (player.janusSession) fetch(player.janusSession, { method: 'POST', body: JSON.stringify({ janus: 'destroy', transaction: 'end' }) });
      player.video.remove();
    }
    running = [];
  };
}, {
  players,
  config: LIVE_CONFIG,
  geometry: { width: WIDTH, height: HEIGHT, cols: COLS, rows: ROWS, bits: BITS, check: CHECK },
});

const sleep = (seconds) => new Promise((r) => setTimeout(r, seconds * 1000));
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const ms = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);

// One phase: rounds of fresh players, each measured after settling.
async function measure(phase) {
  await page.evaluate(() => { window.samples = {}; window.levels = {}; window.firstFrames = {}; window.receiver = {}; });
  const rounds = Math.max(1, Math.round(SECONDS / ROUND_SECONDS));
  for (let round = 0; round < rounds; round++) {
    await page.evaluate(() => window.startPlayers());
    await sleep(SETTLE_SECONDS); // load, buffer, start playing
    await page.evaluate(() => { window.measuring = true; });
    await sleep(ROUND_SECONDS);
    await page.evaluate(async () => { window.measuring = false; await window.receiverStats(); window.stopPlayers(); });
    // A second between rounds, so fresh WHEP viewers do not start at one
    // phase of the camera's GOP every time.
    await sleep(Math.random() * 2);
  }
  const { samples, levels, firstFrames, receiver, problems } = await page.evaluate(() => ({
    samples: window.samples, levels: window.levels, firstFrames: window.firstFrames,
    receiver: window.receiver, problems: window.problems,
  }));
  if (problems.length) throw new Error(`${phase}: ${problems.join('; ')}`);
  const result = {};
  for (const [name, values] of Object.entries(samples)) {
    const sorted = values.sort((a, b) => a - b);
    if (sorted.length < FPS * rounds * ROUND_SECONDS * 0.2) {
      throw new Error(`${phase}: ${name}: only ${sorted.length} frames read; is it playing?`);
    }
    const others = Object.entries(levels[name]).filter(([h]) => Number(h) !== EXPECTED_HEIGHT[name]);
    if (others.length) console.log(`  (${name}: also showed ${others.map(([h, n]) => `${n} frames at ${h}p`).join(', ')}, not counted)`);
    result[name] = { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), frames: sorted.length };
  }
  console.log(`${phase}: ${rounds} rounds of fresh players, each measured for ${ROUND_SECONDS} s after ${SETTLE_SECONDS} s to start`);
  for (const [name, r] of Object.entries(result)) {
    const fps = r.frames / (rounds * ROUND_SECONDS);
    console.log(`  ${name.padEnd(22)} p50 ${ms(r.p50).padStart(7)}  p95 ${ms(r.p95).padStart(7)}  ` +
      `(${r.frames} frames read at ${EXPECTED_HEIGHT[name]}p, ${fps.toFixed(1)} fps)`);
  }
  for (const name of ['HLS classcast source', 'HLS classcast 360p']) {
    console.log(`  ratio (${name} / HLS ffmpeg+nginx, p50): ${(result[name].p50 / result['HLS ffmpeg+nginx'].p50).toFixed(2)}`);
  }
  console.log(`  ratio (WHEP classcast source / WebRTC Janus, p50): ${(result['WHEP classcast source'].p50 / result['WebRTC Janus'].p50).toFixed(2)}`);
  for (const name of ['WHEP classcast source', 'WHEP classcast 360p', 'WebRTC Janus']) {
    const r = receiver[name];
    const first = (firstFrames[name] || []).map(Math.round);
    const target = name.startsWith('WHEP') ? `target p50 ≤ 200 ms ${result[name].p50 <= 200 ? 'met' : 'MISSED'}; ` : '';
    console.log(`  ${name}: ${target}` +
      `in Chromium: jitter buffer ${ms(1000 * r.jitter / r.emitted)}, decode ${ms(1000 * r.decode / r.decoded)} per frame; ` +
      `first frame after ${name.startsWith('WHEP') ? 'the POST' : '`watch`'} ${first.join(', ')} ms`);
  }
  return result;
}

console.log(`${WIDTH}x${HEIGHT}@${FPS}, x264 veryfast zerolatency baseline, 2 s GOP; hls.js ${LIVE_CONFIG}`);
try {
  await sleep(WARMUP_SECONDS); // the encoder connects and the first segments appear
  await measure('idle machine');
} finally {
  camera.stop(); // also on failure: the camera's ffmpeg would go on alone
  await browser.close();
}
process.exit(0);
