// The "camera" of the latency benches: it paints the wall clock (Unix ms,
// as 44 black/white cells plus a check pattern) into raw frames at the
// camera's rate and pipes them to one ffmpeg, which encodes once (x264,
// 2 s GOP, as a classroom encoder would) and sends the stream to the given
// outputs (ffmpeg tee syntax). Whoever reads a frame back gets the time it
// was painted: same machine, same clock.

import { spawn } from 'node:child_process';

export const COLS = 8, ROWS = 6, BITS = 44; // 48 cells: 44 bits of time, 4 check cells
export const CHECK = [1, 0, 1, 0];

export function paint(frame, width, height, ms) {
  const cellW = width / COLS, cellH = height / ROWS;
  let value = BigInt(ms);
  for (let cell = 0; cell < COLS * ROWS; cell++) {
    const bit = cell < BITS ? Number((value >> BigInt(cell)) & 1n) : CHECK[cell - BITS];
    const level = bit ? 235 : 16;
    const x0 = (cell % COLS) * cellW, y0 = Math.floor(cell / COLS) * cellH;
    for (let y = y0; y < y0 + cellH; y++) frame.fill(level, y * width + x0, y * width + x0 + cellW);
  }
}

/// The painted time of a gray frame of `width`×`height`, or null when the
/// check cells do not read right (a frame in transition, a broken decode).
export function read(gray, width, height) {
  const cellW = width / COLS, cellH = height / ROWS;
  let value = 0n;
  for (let cell = 0; cell < COLS * ROWS; cell++) {
    const x = Math.floor((cell % COLS) * cellW + cellW / 2);
    const y = Math.floor(Math.floor(cell / COLS) * cellH + cellH / 2);
    const bit = gray[y * width + x] > 128 ? 1 : 0;
    if (cell < BITS) value |= BigInt(bit) << BigInt(cell);
    else if (bit !== CHECK[cell - BITS]) return null;
  }
  return Number(value);
}

/// Starts the camera; `stop()` ends it. Frames leave on the wall clock, like
/// a camera's; a late frame is sent late (and carries its own, later time),
/// never in a burst. `profile` is x264's (`baseline` for a camera whose
/// H.264 every WebRTC browser decodes); x264's default (High) when absent.
export function startCamera({ width, height, fps, outputs, profile = null }) {
  const encoder = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', String(2 * fps),
    '-keyint_min', String(2 * fps), '-sc_threshold', '0', '-b:v', width > 1280 ? '4M' : '2M',
    ...(profile ? ['-profile:v', profile] : []),
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k',
    // tee gives its muxers no global header unless asked; FLV needs it.
    // use_fifo: each output gets its own thread and queue, so neither
    // side's back-pressure delays the other.
    '-flags', '+global_header', '-map', '0:v', '-map', '1:a', '-f', 'tee', '-use_fifo', '1',
    outputs.join('|'),
  ], { stdio: ['pipe', 'inherit', 'inherit'] });
  const frame = Buffer.alloc(width * height, 16);
  const start = Date.now();
  let sent = 0;
  let running = true;
  (async function run() {
    while (running) {
      const due = start + (sent * 1000) / fps;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      paint(frame, width, height, Date.now());
      if (!encoder.stdin.write(frame)) await new Promise((r) => encoder.stdin.once('drain', r));
      sent++;
    }
    encoder.stdin.end();
  })();
  return {
    stop() {
      running = false;
      encoder.kill('SIGINT');
    },
  };
}
