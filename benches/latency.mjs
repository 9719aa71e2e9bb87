// Glass-to-glass latency of live HLS, classcast against ffmpeg's own HLS
// muxer served by nginx, from the same encoder in the same run.
//
// The "camera" (painted_clock.mjs) paints the wall clock into raw frames at
// 25 fps and pipes them to one ffmpeg, which encodes once and tees the
// stream to classcast over RTMP and to ffmpeg's HLS muxer. Chromium plays both with hls.js and the watch page's
// live settings, reads the cells off every frame it presents, and the
// latency is the presentation time minus the painted time. Same machine,
// same clock.
//
// Latency under CPU overload is measured by benches/overload.sh.
//
//   node benches/latency.mjs CLASSCAST_URL RTMP_BASE NGINX_URL HLS_DIR SECONDS
// (benches/latency.sh starts the servers and calls this.)

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { BITS, CHECK, COLS, ROWS, startCamera } from './painted_clock.mjs';

const require = createRequire(new URL('../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [classcast, rtmpBase, nginx, hlsDir, secondsArg] = process.argv.slice(2);
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
  outputs: [
    `[f=flv]${rtmpBase}/${source.stream_key}`,
    `[f=hls:hls_time=2:hls_list_size=6:hls_segment_type=fmp4:hls_flags=delete_segments+independent_segments]${hlsDir}/index.m3u8`,
  ],
});

const LIVE_CONFIG = readFileSync(new URL('../web/src/composables/player.js', import.meta.url), 'utf8')
  .match(/const LIVE_CONFIG = (\{[^}]*\});/)[1];

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--autoplay-policy=no-user-gesture-required'],
});
// The harness injects hls.js into a page of classcast's origin; that page
// (not a UI page) has a policy that allows no script, rightly. The bench
// is not the product: let its own scripts run.
const page = await browser.newPage({ bypassCSP: true });
await page.goto(`${classcast}/healthz`); // any page of classcast's origin
// The same hls.js the UI bundles.
await page.addScriptTag({ path: new URL('../web/node_modules/hls.js/dist/hls.min.js', import.meta.url).pathname });
// classcast's top rendition is the camera's H.264 passed through; the
// lowest is transcoded. Each is pinned so the numbers say which is which.
const players = {
  'classcast source': { url: `${classcast}/live/${room.id}/index.m3u8`, level: 'top' },
  'classcast 360p': { url: `${classcast}/live/${room.id}/index.m3u8`, level: 'bottom' },
  'ffmpeg+nginx': { url: `${nginx}/index.m3u8`, level: 'top' },
};
// Where hls.js starts in a live playlist depends on when it loads relative
// to the newest segment, so players are started afresh every round and the
// samples of all rounds pooled.
await page.evaluate(({ players, config, geometry }) => {
  window.samples = {};
  window.levels = {};
  window.measuring = false;
  const canvas = document.createElement('canvas');
  canvas.width = geometry.width; canvas.height = geometry.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let running = [];
  window.startPlayers = () => {
    for (const [name, { url, level }] of Object.entries(players)) {
      window.samples[name] ||= [];
      const video = document.createElement('video');
      video.muted = true; video.autoplay = true; video.playsInline = true;
      document.body.append(video);
      const player = { video, hls: null, stopped: false };
      running.push(player);
      const start = () => {
        if (player.stopped) return;
        const hls = new window.Hls(Function(`return (${config})`)());
        player.hls = hls;
        hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
          const heights = hls.levels.map((l) => l.height || 0);
          const pick = level === 'top' ? Math.max(...heights) : Math.min(...heights);
          hls.currentLevel = heights.indexOf(pick);
        });
        hls.on(window.Hls.Events.ERROR, (_, d) => { if (d.fatal) { hls.destroy(); setTimeout(start, 1000); } });
        hls.loadSource(url);
        hls.attachMedia(video);
      };
      start();
      const onFrame = (now, meta) => {
        if (player.stopped) return;
        const presented = performance.timeOrigin + (meta.expectedDisplayTime || now);
        ctx.drawImage(video, 0, 0, geometry.width, geometry.height);
        const cw = geometry.width / geometry.cols, ch = geometry.height / geometry.rows;
        let value = 0n, ok = true;
        for (let cell = 0; cell < geometry.cols * geometry.rows; cell++) {
          const x = (cell % geometry.cols) * cw + cw / 2, y = Math.floor(cell / geometry.cols) * ch + ch / 2;
          const bit = ctx.getImageData(x, y, 1, 1).data[0] > 128 ? 1 : 0;
          if (cell < geometry.bits) value |= BigInt(bit) << BigInt(cell);
          else ok &&= bit === geometry.check[cell - geometry.bits];
        }
        if (ok && window.measuring) {
          window.samples[name].push(presented - Number(value));
          // What is on screen, not what the playlist claims.
          window.levels[name] = video.videoHeight;
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  };
  window.stopPlayers = () => {
    for (const player of running) {
      player.stopped = true;
      if (player.hls) player.hls.destroy();
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
const EXPECTED_HEIGHT = { 'classcast source': 720, 'classcast 360p': 360, 'ffmpeg+nginx': 720 };

// One phase: rounds of fresh players, each measured after settling.
async function measure(phase) {
  await page.evaluate(() => { window.samples = {}; window.levels = {}; });
  const rounds = Math.max(1, Math.round(SECONDS / ROUND_SECONDS));
  for (let round = 0; round < rounds; round++) {
    await page.evaluate(() => window.startPlayers());
    await sleep(SETTLE_SECONDS); // load, buffer, start playing
    await page.evaluate(() => { window.measuring = true; });
    await sleep(ROUND_SECONDS);
    await page.evaluate(() => { window.measuring = false; window.stopPlayers(); });
  }
  const { samples, levels } = await page.evaluate(() => ({ samples: window.samples, levels: window.levels }));
  const result = {};
  for (const [name, values] of Object.entries(samples)) {
    const sorted = values.sort((a, b) => a - b);
    if (sorted.length < FPS * rounds * ROUND_SECONDS * 0.2) {
      throw new Error(`${phase}: ${name}: only ${sorted.length} frames read; is it playing?`);
    }
    // The numbers must say which rendition they are about.
    if (levels[name] !== EXPECTED_HEIGHT[name]) {
      throw new Error(`${phase}: ${name} played ${levels[name]}p, not ${EXPECTED_HEIGHT[name]}p`);
    }
    result[name] = { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), frames: sorted.length };
  }
  console.log(`${phase}: ${rounds} rounds of fresh players, each measured for ${ROUND_SECONDS} s after ${SETTLE_SECONDS} s to start`);
  for (const [name, r] of Object.entries(result)) {
    const fps = r.frames / (rounds * ROUND_SECONDS);
    console.log(`  ${name.padEnd(17)} p50 ${(r.p50 / 1000).toFixed(2)} s  p95 ${(r.p95 / 1000).toFixed(2)} s  ` +
      `(${r.frames} frames read, ${fps.toFixed(1)} fps, playing ${levels[name]}p)`);
  }
  for (const name of ['classcast source', 'classcast 360p']) {
    console.log(`  ratio (${name} / ffmpeg+nginx, p50): ${(result[name].p50 / result['ffmpeg+nginx'].p50).toFixed(2)}`);
  }
  return result;
}

console.log(`${WIDTH}x${HEIGHT}@${FPS}, x264 veryfast zerolatency, 2 s GOP; hls.js ${LIVE_CONFIG}`);
await sleep(WARMUP_SECONDS); // the encoder connects and the first segments appear
await measure('idle machine');
camera.stop();
await browser.close();
process.exit(0);
