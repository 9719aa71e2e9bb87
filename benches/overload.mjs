// How far behind live each rendition's newest segment is, idle and then
// with the machine overloaded, in one run (issue: the classroom core).
//
// The camera (painted_clock.mjs, 1080p25 like a classroom camera) pushes
// to classcast over RTMP; the default ladder passes the camera's H.264
// through and encodes 720p and 360p. A client polls each rendition's live
// playlist every 100 ms, as a player does, and whenever a new segment is
// listed fetches it, decodes its last frame and reads the painted time:
// the segment's lag is when it was listed minus when its last picture was
// painted. Then a CPU hog (single-threaded x264 encodes of another stream
// at nice -5, HOGS of them, 6 by default) keeps both cores busy and the
// same is measured again. The camera and this client run at nice -10
// (benches/overload.sh), above the hog: they stand for the world outside
// the server; only classcast (nice 0) is starved, as a school server with
// one classroom too many would be.
//
// A ladder that falls behind shows as a lag that grows; one that sheds
// work keeps it bounded and shows as fewer frames per segment.
//
//   node benches/overload.mjs CLASSCAST_URL RTMP_BASE SECONDS

import { spawn } from 'node:child_process';

import { read, startCamera } from './painted_clock.mjs';

const [classcast, rtmpBase, secondsArg] = process.argv.slice(2);
const SECONDS = Number(secondsArg || 60);
const HOGS = Number(process.env.HOGS || 6);
const WIDTH = 1920, HEIGHT = 1080, FPS = 25;
const SMALL_W = 192, SMALL_H = 108; // decoded frames are scaled to this to be read
const sleep = (seconds) => new Promise((r) => setTimeout(r, seconds * 1000));

async function api(method, path, body) {
  const response = await fetch(classcast + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/// Decodes fMP4 bytes; returns the painted times of all frames.
function paintedTimes(bytes) {
  return new Promise((resolve, reject) => {
    const ffmpeg = spawn('ffmpeg', ['-v', 'error', '-i', 'pipe:0',
      '-vf', `scale=${SMALL_W}:${SMALL_H}:flags=neighbor,format=gray`, '-f', 'rawvideo', 'pipe:1']);
    const chunks = [];
    ffmpeg.stdout.on('data', (c) => chunks.push(c));
    ffmpeg.on('error', reject);
    ffmpeg.on('close', () => {
      const raw = Buffer.concat(chunks);
      const size = SMALL_W * SMALL_H;
      const times = [];
      for (let i = 0; i + size <= raw.length; i += size) {
        const t = read(raw.subarray(i, i + size), SMALL_W, SMALL_H);
        if (t !== null) times.push(t);
      }
      resolve(times);
    });
    ffmpeg.stdin.on('error', () => {});
    ffmpeg.stdin.end(bytes);
  });
}

/// Polls one rendition until `stop`; records each new segment's lag and frames.
async function watch(room, rendition, state) {
  const base = `${classcast}/live/${room}/${rendition}`;
  const inits = new Map();
  let newest = -1;
  while (!state.stop) {
    const started = Date.now();
    try {
      const response = await fetch(`${base}/index.m3u8`);
      if (response.ok) {
        const text = await response.text();
        const sequence = Number((text.match(/#EXT-X-MEDIA-SEQUENCE:(\d+)/) || [])[1] || 0);
        let init = null;
        let index = sequence;
        let last = null;
        for (const line of text.split('\n')) {
          const map = line.match(/#EXT-X-MAP:URI="([^"]+)"/);
          if (map) init = map[1];
          else if (line && !line.startsWith('#')) last = { uri: line, init, sequence: index++ };
        }
        if (last && last.sequence > newest) {
          const seen = Date.now();
          const fresh = newest >= 0; // the first one listed may be old
          newest = last.sequence;
          if (fresh && state.measuring) {
            if (!inits.has(last.init)) {
              inits.set(last.init, Buffer.from(await (await fetch(`${base}/${last.init}`)).arrayBuffer()));
            }
            const segment = Buffer.from(await (await fetch(`${base}/${last.uri}`)).arrayBuffer());
            const times = await paintedTimes(Buffer.concat([inits.get(last.init), segment]));
            if (times.length > 0) {
              state.samples.push({ lag: seen - times[times.length - 1], frames: times.length });
            }
          }
        }
      }
    } catch {
      // The stream may not exist yet.
    }
    await sleep(Math.max(0, 100 - (Date.now() - started)) / 1000);
  }
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function measure(room, phase, renditions) {
  const states = Object.fromEntries(renditions.map((r) => [r, { stop: false, measuring: false, samples: [] }]));
  const watchers = renditions.map((r) => watch(room, r, states[r]));
  await sleep(4); // every watcher has seen the newest segment once
  for (const s of Object.values(states)) s.measuring = true;
  await sleep(SECONDS);
  for (const s of Object.values(states)) s.stop = true;
  await Promise.all(watchers);
  const result = {};
  console.log(`${phase}: ${SECONDS} s, every new segment of each rendition`);
  for (const [name, { samples }] of Object.entries(states)) {
    if (samples.length < SECONDS / 4) throw new Error(`${phase}: ${name}: only ${samples.length} segments`);
    const lags = samples.map((s) => s.lag).sort((a, b) => a - b);
    const firstHalf = samples.slice(0, samples.length >> 1).map((s) => s.lag);
    const secondHalf = samples.slice(samples.length >> 1).map((s) => s.lag);
    const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
    const fps = samples.reduce((a, s) => a + s.frames, 0) / (samples.length * 2);
    result[name] = { p50: quantile(lags, 0.5), p95: quantile(lags, 0.95), max: lags[lags.length - 1] };
    console.log(`  ${name.padEnd(6)} lag p50 ${(result[name].p50 / 1000).toFixed(2)} s  p95 ${(result[name].p95 / 1000).toFixed(2)} s  ` +
      `max ${(result[name].max / 1000).toFixed(2)} s  drift ${((mean(secondHalf) - mean(firstHalf)) / 1000).toFixed(2)} s ` +
      `(${samples.length} segments, ${fps.toFixed(1)} fps)`);
  }
  return result;
}

const room = await api('POST', '/api/classrooms', { name: '过载测试 overload' });
const source = await api('POST', `/api/classrooms/${room.id}/sources`, { kind: 'rtmp' });
const camera = startCamera({ width: WIDTH, height: HEIGHT, fps: FPS, outputs: [`[f=flv]${rtmpBase}/${source.stream_key}`] });
let renditions = [];
for (let i = 0; i < 60 && renditions.length < 3; i++) {
  await sleep(1);
  const status = await api('GET', `/api/classrooms/${room.id}`);
  renditions = status.live.renditions.map((r) => r.name);
}
console.log(`${WIDTH}x${HEIGHT}@${FPS} camera over RTMP; renditions ${renditions.join(', ')}; hog: ${HOGS} single-threaded x264 at nice -5`);
const idle = await measure(room.id, 'idle', renditions);
const hog = Array.from({ length: HOGS }, () => spawn('nice', ['-n', '5',
  'ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30',
  '-c:v', 'libx264', '-preset', 'medium', '-threads', '1', '-f', 'null', '-'], { stdio: 'ignore' }));
await sleep(10); // the hog bites
const loaded = await measure(room.id, 'overloaded', renditions);
const status = await api('GET', `/api/classrooms/${room.id}`);
const shed = (await (await fetch(`${classcast}/metrics`)).text())
  .split('\n').filter((l) => l.startsWith('classcast_frames_shed_total'));
for (const h of hog) h.kill('SIGKILL');
camera.stop();
console.log(`classroom status while overloaded: shedding=${status.live.shedding}; ${shed.join('; ') || 'no frames shed'}`);
for (const name of renditions) {
  const delta = (loaded[name].p50 - idle[name].p50) / 1000;
  console.log(`  ${name.padEnd(6)} overloaded - idle, p50: ${delta >= 0 ? '+' : ''}${delta.toFixed(2)} s`);
}
process.exit(0);
