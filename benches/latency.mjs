// Glass-to-glass latency of live HLS, classcast against ffmpeg's own HLS
// muxer served by nginx, from the same encoder in the same run.
//
// The "camera" is this script: it paints the wall clock (Unix ms, as 44
// black/white cells plus a check pattern) into raw frames at 25 fps and
// pipes them to one ffmpeg, which encodes once (x264, 2 s GOP, as a
// classroom encoder would) and tees the stream to classcast over RTMP and to
// ffmpeg's HLS muxer. Chromium plays both with hls.js and the watch page's
// live settings, reads the cells off every frame it presents, and the
// latency is the presentation time minus the painted time. Same machine,
// same clock.
//
//   node benches/latency.mjs CLASSCAST_URL RTMP_BASE NGINX_URL HLS_DIR SECONDS
// (benches/latency.sh starts the servers and calls this.)

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [classcast, rtmpBase, nginx, hlsDir, secondsArg] = process.argv.slice(2);
const SECONDS = Number(secondsArg || 60);
const WARMUP_SECONDS = 10;
const SETTLE_SECONDS = 8;
const ROUND_SECONDS = 15;
const WIDTH = 1280, HEIGHT = 720, FPS = 25;
const COLS = 8, ROWS = 6, BITS = 44; // 48 cells: 44 bits of time, 4 check cells
const CELL_W = WIDTH / COLS, CELL_H = HEIGHT / ROWS;
const CHECK = [1, 0, 1, 0];

function paint(frame, ms) {
  let value = BigInt(ms);
  for (let cell = 0; cell < COLS * ROWS; cell++) {
    const bit = cell < BITS ? Number((value >> BigInt(cell)) & 1n) : CHECK[cell - BITS];
    const level = bit ? 235 : 16;
    const x0 = (cell % COLS) * CELL_W, y0 = Math.floor(cell / COLS) * CELL_H;
    for (let y = y0; y < y0 + CELL_H; y++) frame.fill(level, y * WIDTH + x0, y * WIDTH + x0 + CELL_W);
  }
}

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

const encoder = spawn('ffmpeg', [
  '-hide_banner', '-loglevel', 'error', '-nostdin',
  '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${WIDTH}x${HEIGHT}`, '-r', String(FPS), '-i', 'pipe:0',
  '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', String(2 * FPS),
  '-keyint_min', String(2 * FPS), '-sc_threshold', '0', '-b:v', '2M', '-pix_fmt', 'yuv420p',
  // tee gives its muxers no global header unless asked; FLV needs it.
  '-c:a', 'aac', '-b:a', '96k',
  '-flags', '+global_header', '-map', '0:v', '-map', '1:a', '-f', 'tee',
  `[f=flv]${rtmpBase}/${source.stream_key}|` +
  `[f=hls:hls_time=2:hls_list_size=6:hls_segment_type=fmp4:hls_flags=delete_segments+independent_segments]${hlsDir}/index.m3u8`,
], { stdio: ['pipe', 'inherit', 'inherit'] });

// Frames leave on the wall clock, like a camera's; a late frame is sent late
// (and carries its own, later time), never in a burst.
const frame = Buffer.alloc(WIDTH * HEIGHT, 16);
const start = Date.now();
let sent = 0;
let camera = true;
(async function run() {
  while (camera) {
    const due = start + (sent * 1000) / FPS;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    paint(frame, Date.now());
    if (!encoder.stdin.write(frame)) await new Promise((r) => encoder.stdin.once('drain', r));
    sent++;
  }
  encoder.stdin.end();
})();

const LIVE_CONFIG = readFileSync(new URL('../web/src/player.js', import.meta.url), 'utf8')
  .match(/const LIVE_CONFIG = (\{[^}]*\});/)[1];

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--autoplay-policy=no-user-gesture-required'],
});
const page = await browser.newPage();
await page.goto(`${classcast}/healthz`); // any page of classcast's origin
await page.addScriptTag({ path: new URL('../web/dist/vendor/hls.min.js', import.meta.url).pathname });
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
        hls.on(window.Hls.Events.LEVEL_SWITCHED, (_, d) => { window.levels[name] = hls.levels[d.level].height; });
        // The stream may not exist yet: retry until it does.
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
        if (ok && window.measuring) window.samples[name].push(presented - Number(value));
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
await sleep(WARMUP_SECONDS); // the encoder connects and the first segments appear
const rounds = Math.max(1, Math.round(SECONDS / ROUND_SECONDS));
for (let round = 0; round < rounds; round++) {
  await page.evaluate(() => window.startPlayers());
  await sleep(SETTLE_SECONDS); // load, buffer, start playing
  await page.evaluate(() => { window.measuring = true; });
  await sleep(ROUND_SECONDS);
  await page.evaluate(() => { window.measuring = false; window.stopPlayers(); });
}
const { samples, levels } = await page.evaluate(() => ({ samples: window.samples, levels: window.levels }));
camera = false;
await browser.close();
encoder.kill('SIGINT');

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const result = {};
console.log(`${WIDTH}x${HEIGHT}@${FPS}, x264 veryfast zerolatency, 2 s GOP; hls.js ${LIVE_CONFIG}; ` +
  `${rounds} rounds of fresh players, each measured for ${ROUND_SECONDS} s after ${SETTLE_SECONDS} s to start`);
for (const [name, values] of Object.entries(samples)) {
  const sorted = values.sort((a, b) => a - b);
  if (sorted.length < FPS * rounds * ROUND_SECONDS * 0.4) {
    console.error(`${name}: only ${sorted.length} frames read; is it playing?`);
    process.exit(1);
  }
  result[name] = quantile(sorted, 0.5);
  console.log(`${name.padEnd(17)} p50 ${(quantile(sorted, 0.5) / 1000).toFixed(2)} s  ` +
    `p95 ${(quantile(sorted, 0.95) / 1000).toFixed(2)} s  (${sorted.length} frames read, ` +
    `playing ${levels[name] || '?'}p)`);
}
for (const name of ['classcast source', 'classcast 360p']) {
  console.log(`ratio (${name} / ffmpeg+nginx, p50): ${(result[name] / result['ffmpeg+nginx']).toFixed(2)}`);
}
process.exit(0);
