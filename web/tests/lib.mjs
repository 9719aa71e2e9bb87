// What the browser tests share: Debian's Chromium driven by playwright-core,
// pages opened signed in (a saved cookie), the server's coming CSP put on
// the page so a violation fails the test, screenshots into
// CLASSCAST_SCREENSHOT_DIR, and checks a person would make (frames
// decoded and advancing; nothing wider than the screen).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = (process.env.CLASSCAST_URL || '').replace(/\/+$/, '');
export const SCREENSHOTS = process.env.CLASSCAST_SCREENSHOT_DIR || '';
export const PHONE = { width: 390, height: 844 };
// What the hardening branch will send; checked here so the build already obeys it.
export const CSP = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      // The test server's WebRTC (WHEP) candidates are on 127.0.0.1, which
      // Chromium leaves out of peer connections unless told.
      '--allow-loopback-in-peer-connection',
      // The publish page's camera and microphone: Chromium's own moving
      // test picture and beep, with the permission prompt answered yes.
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
    ],
  });
}

/** Signs in over the API; returns {cookie: "classcast_session=…", csrf}. */
export async function signIn(username, password) {
  const response = await fetch(`${BASE}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(response.status, 200, `sign-in as ${username}`);
  return { cookie: response.headers.get('set-cookie').split(';')[0], csrf: (await response.json()).csrf_token };
}

/** The API as `who` ({cookie, csrf}) sees it: JSON back, status checked. */
export async function apiCall(who, method, path, body, expected = [200, 201, 204]) {
  const headers = { cookie: who.cookie, 'x-csrf-token': who.csrf, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  assert.ok([].concat(expected).includes(response.status), `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * A fresh context (own storage) signed in with `cookie` (or not), the CSP
 * on every document; uncaught page errors and CSP violations fail the test.
 */
export async function openPage(browser, t, path, { cookie = null, viewport = { width: 1280, height: 800 }, permissions = [] } = {}) {
  const cookies = [];
  if (cookie) {
    const [name, value] = cookie.split('=');
    cookies.push({ name, value, domain: new URL(BASE).hostname, path: '/', httpOnly: true, secure: false, sameSite: 'Lax', expires: -1 });
  }
  const context = await browser.newContext({ viewport, storageState: { cookies, origins: [] } });
  if (permissions.length) await context.grantPermissions(permissions, { origin: BASE });
  await context.route((url) => url.origin === BASE && url.pathname === '/', async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': CSP } });
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) errors.push(message.text());
  });
  t.after(async () => {
    // A route handler still fetching when the context closes would reject
    // after the test has ended: let such requests go quietly first.
    // (A test may have closed its pages, or the whole context, already.)
    const quiet = () => {};
    for (const open of context.pages()) await open.unrouteAll({ behavior: 'ignoreErrors' }).catch(quiet);
    await context.unrouteAll({ behavior: 'ignoreErrors' }).catch(quiet);
    await context.close();
    assert.deepEqual(errors, [], 'uncaught errors or CSP violations in the page');
  });
  if (path) await page.goto(`${BASE}${path}`);
  return page;
}

export async function screenshot(page, name) {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Nothing on the page is wider than the screen: no sideways scrolling on a phone. */
export async function assertNoSidewaysScroll(page, what) {
  const size = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  assert.ok(size.scroll <= size.inner, `${what}: page is ${size.scroll}px wide on a ${size.inner}px screen`);
}

export function playback(page) {
  return page.evaluate(() => {
    const video = document.getElementById('player');
    if (!video) return null;
    return {
      frames: video.getVideoPlaybackQuality().totalVideoFrames,
      time: video.currentTime,
      paused: video.paused,
      readyState: video.readyState,
      error: video.error && video.error.message,
      // What the page tells the person, when it tells them anything.
      overlay: (document.querySelector('.player-overlay') || {}).textContent || null,
    };
  });
}

/** Waits for frames decoded and currentTime past `since` + 1 s: playback advancing. */
async function waitForProgress(page, since, timeout) {
  await page.waitForFunction(
    ({ frames, time }) => {
      const video = document.getElementById('player');
      return video && video.getVideoPlaybackQuality().totalVideoFrames > frames && video.currentTime > time + 1;
    },
    since,
    { timeout, polling: 250 },
  );
}

/** Playback starts, then decoded frames and currentTime both advance (over at least a second of media). */
export async function assertPlaying(page, { startTimeout = 30_000 } = {}) {
  await page.waitForFunction(
    () => {
      const video = document.getElementById('player');
      return video && video.currentTime > 0 && video.getVideoPlaybackQuality().totalVideoFrames > 0;
    },
    null,
    { timeout: startTimeout, polling: 250 },
  ).catch(async (error) => {
    throw new Error(`playback did not start: ${JSON.stringify(await playback(page))} (${error.message})`);
  });
  const first = await playback(page);
  await waitForProgress(page, { frames: first.frames, time: first.time }, 15_000).catch(async (error) => {
    throw new Error(`playback stalled: ${JSON.stringify(first)} → ${JSON.stringify(await playback(page))} (${error.message})`);
  });
  const second = await playback(page);
  assert.ok(second.frames > first.frames, `decoded frames should advance: ${first.frames} → ${second.frames}`);
  assert.ok(second.time > first.time + 1, `currentTime should advance: ${first.time} → ${second.time}`);
  assert.equal(second.error, null);
  return second;
}

/** Picks `option` in the Element Plus select labelled `label` (scoped to `within`). */
export async function choose(page, within, label, option) {
  // The combobox input sits under Element Plus's placeholder; click its box.
  await within.getByLabel(label, { exact: true }).locator('xpath=ancestor::div[contains(@class, "el-select__wrapper")][1]').click();
  await page.locator('.el-select-dropdown:visible .el-select-dropdown__item', { hasText: option }).first().click();
}

/** Polls `check` (async) until it gives a value other than undefined/false. */
export async function until(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last !== undefined && last !== false) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what}: timed out (last ${JSON.stringify(last)})`);
}

/**
 * Keeps every RTCPeerConnection the page makes in window.__peers, for
 * getStats() from the test. Wrapping the constructor from the test (an
 * init script, which the page's CSP does not govern) rather than having
 * the app expose its connections keeps test hooks out of the shipped code
 * and finds any connection the page makes. Call before page.goto.
 */
export async function recordPeers(page) {
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.__peers = [];
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        window.__peers.push(this);
      }
    };
  });
}

/**
 * Keeps every camera/microphone stream the page opens in window.__media
 * (as recordPeers does for connections), so a test can see whether the
 * devices were let go; while window.__refuseMedia is set, getUserMedia
 * fails as an unplugged or busy camera does. Call before page.goto.
 */
export async function recordMedia(page) {
  await page.addInitScript(() => {
    const devices = navigator.mediaDevices;
    const native = devices.getUserMedia.bind(devices);
    window.__media = [];
    devices.getUserMedia = async (constraints) => {
      if (window.__refuseMedia) throw new DOMException('Could not start video source', 'NotReadableError');
      const stream = await native(constraints);
      window.__media.push(stream);
      return stream;
    };
  });
}

/** The camera and microphone tracks the page opened that are still running (see recordMedia). */
export function openTracks(page) {
  return page.evaluate(() => window.__media.flatMap((s) => s.getTracks()).filter((t) => t.readyState === 'live').map((t) => t.kind));
}
