// Browser test of the UI against a running server: Debian's Chromium, driven
// by playwright-core, checks that the live wall, the live player and the
// recordings actually work (frames decoded, playback advancing).
//
//   CLASSCAST_URL=http://127.0.0.1:8080 node --test tests/
//
// CLASSCAST_URL (required): a server with the demo classroom and web/dist built.
// CLASSCAST_ADMIN, CLASSCAST_ADMIN_PASSWORD (required): an account to sign in
//   with; every page opens signed in, as a school's staff would use it.
// CHROMIUM_PATH (optional): the browser, default /usr/bin/chromium.
// CLASSCAST_SCREENSHOT_DIR (optional): where to save ui-wall.png and ui-watch.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.env.CLASSCAST_URL || '').replace(/\/+$/, '');
if (!BASE) {
  throw new Error(
    'CLASSCAST_URL is not set: these tests need a running classcast server ' +
      '(e.g. CLASSCAST_URL=http://127.0.0.1:8080 node --test tests/)',
  );
}
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOTS = process.env.CLASSCAST_SCREENSHOT_DIR || '';
const DEMO_NAME = '演示教室 / Demo classroom';

let browser;
let demoId;
let cookie; // "classcast_session=…", for the browser contexts and our own fetches

async function signIn() {
  const response = await fetch(`${BASE}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      username: process.env.CLASSCAST_ADMIN,
      password: process.env.CLASSCAST_ADMIN_PASSWORD,
    }),
  });
  assert.equal(response.status, 200, 'sign-in with CLASSCAST_ADMIN / CLASSCAST_ADMIN_PASSWORD');
  return response.headers.get('set-cookie').split(';')[0];
}

function api(path) {
  return fetch(`${BASE}${path}`, { headers: { cookie } });
}

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  cookie = await signIn();
  demoId = await findDemoClassroom();
});

after(async () => {
  if (browser) await browser.close();
});

async function findDemoClassroom() {
  const deadline = Date.now() + 20_000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await api('/api/classrooms');
      if (response.ok) {
        const demo = (await response.json()).find((c) => c.name === DEMO_NAME);
        if (demo) return demo.id;
        last = 'demo classroom not listed';
      } else {
        last = `HTTP ${response.status}`;
      }
    } catch (error) {
      last = error.message;
    }
    await sleep(500);
  }
  throw new Error(`${BASE}/api/classrooms: ${last}`);
}

/** The demo classroom's newest recording, once it is at least `minMs` long. */
async function waitForRecording(minMs) {
  const deadline = Date.now() + 30_000;
  let newest = null;
  while (Date.now() < deadline) {
    const response = await api(`/api/recordings?classroom_id=${demoId}`);
    const list = await response.json();
    newest = list.sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at))[0] || null;
    if (newest && newest.duration_ms >= minMs) return newest;
    await sleep(1000);
  }
  throw new Error(`no recording of ${minMs} ms or more: ${JSON.stringify(newest)}`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A fresh context (own localStorage) and page; uncaught page errors fail the test. */
async function openPage(t, path, { width = 1280, height = 800 } = {}) {
  const [name, value] = cookie.split('=');
  const context = await browser.newContext({
    viewport: { width, height },
    storageState: {
      cookies: [{ name, value, domain: new URL(BASE).hostname, path: '/', httpOnly: true, secure: false, sameSite: 'Lax', expires: -1 }],
      origins: [],
    },
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  t.after(async () => {
    await context.close();
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  });
  await page.goto(`${BASE}${path}`);
  return page;
}

function playback(page) {
  return page.evaluate(() => {
    const video = document.getElementById('player');
    if (!video) return null;
    return {
      frames: video.getVideoPlaybackQuality().totalVideoFrames,
      time: video.currentTime,
      paused: video.paused,
      readyState: video.readyState,
      error: video.error && video.error.message,
    };
  });
}

/** Waits for playback to start, then checks that decoded frames and currentTime both advance over ~3 s. */
async function assertPlaying(page, { startTimeout = 30_000 } = {}) {
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
  await sleep(3000);
  const second = await playback(page);
  assert.ok(second.frames > first.frames, `decoded frames should advance: ${first.frames} → ${second.frames}`);
  assert.ok(second.time > first.time + 1, `currentTime should advance: ${first.time} → ${second.time}`);
  assert.equal(second.error, null);
  return second;
}

describe('classcast web UI', () => {
  test('Chromium plays H.264 + AAC through Media Source Extensions', async (t) => {
    const page = await openPage(t, '/');
    const support = await page.evaluate(() => ({
      baseline: MediaSource.isTypeSupported('video/mp4; codecs="avc1.42C01F,mp4a.40.2"'),
      main: MediaSource.isTypeSupported('video/mp4; codecs="avc1.4D401E,mp4a.40.2"'),
    }));
    assert.deepEqual(support, { baseline: true, main: true }, 'this Chromium lacks H.264/AAC in MSE');
  });

  test('live wall lists the demo classroom as live, in Chinese, then English', { timeout: 60_000 }, async (t) => {
    const page = await openPage(t, '/');
    const card = page.locator(`.classroom-card[data-classroom-id="${demoId}"]`);
    await card.locator('.state-badge[data-state="live"]').waitFor({ timeout: 20_000 });

    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    assert.equal((await card.locator('.card-title').textContent()).trim(), DEMO_NAME);
    assert.equal((await card.locator('.state-badge').textContent()).trim(), '直播中');
    assert.equal((await page.locator('[data-nav="live"]').textContent()).trim(), '直播墙');
    assert.equal((await card.locator('.watch-link').textContent()).trim(), '观看直播');
    assert.equal(await card.locator('.watch-link').getAttribute('href'), `#/watch/${demoId}`);
    assert.equal(await card.locator('.recordings-link').getAttribute('href'), `#/recordings/${demoId}`);
    // The thumbnail arrives (a real JPEG, decoded by the browser).
    await page.waitForFunction(
      (id) => {
        const img = document.querySelector(`.classroom-card[data-classroom-id="${id}"] .thumb-img`);
        return img && !img.hidden && img.complete && img.naturalWidth > 0;
      },
      demoId,
      { timeout: 15_000 },
    );
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, 'ui-wall.png') });

    await page.selectOption('#lang', 'en');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.locator('.state-badge', { hasText: 'Live' }).first().waitFor({ timeout: 5000 });
    assert.equal((await card.locator('.state-badge').textContent()).trim(), 'Live');
    assert.equal((await page.locator('[data-nav="live"]').textContent()).trim(), 'Live wall');
    assert.equal((await card.locator('.watch-link').textContent()).trim(), 'Watch');
    assert.equal((await page.locator('h1').textContent()).trim(), 'Live wall');

    // The choice is remembered across a reload.
    await page.reload();
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await card.locator('.state-badge', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
  });

  test('?lang=en selects English without the switch', async (t) => {
    const page = await openPage(t, '/?lang=en#/');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.locator('h1', { hasText: 'Live wall' }).waitFor({ timeout: 5000 });
    assert.equal(await page.inputValue('#lang'), 'en');
  });

  test('watch page decodes advancing video and offers the renditions', { timeout: 90_000 }, async (t) => {
    const page = await openPage(t, `/#/watch/${demoId}`);
    const video = page.locator('video#player');
    await video.waitFor();
    for (const attribute of ['muted', 'autoplay', 'playsinline', 'controls']) {
      assert.notEqual(await video.getAttribute(attribute), null, `video lacks ${attribute}`);
    }
    await assertPlaying(page);

    const options = await page.locator('#quality option').allTextContents();
    assert.match(options[0], /^自动/);
    const levels = options.slice(1);
    assert.ok(levels.length >= 2, `expected ≥ 2 renditions besides Auto, got ${JSON.stringify(options)}`);
    for (const label of levels) assert.match(label, /^\d+p · \d+(\.\d+)? Mbps$/);
    assert.equal((await page.locator('.state-badge').textContent()).trim(), '直播中');
    assert.equal((await page.locator('h1').textContent()).trim(), DEMO_NAME);
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, 'ui-watch.png') });

    // Choosing a rendition by hand keeps the picture going: frames go on
    // being decoded, within a segment or two, and keep advancing.
    const lowest = page.locator('#quality option').last();
    const height = Number((await lowest.textContent()).match(/^(\d+)p/)[1]);
    const before = (await playback(page)).frames;
    await page.selectOption('#quality', await lowest.getAttribute('value'));
    // The picture really is the chosen rendition, and it keeps going.
    await page.waitForFunction(
      ([n, h]) => {
        const video = document.getElementById('player');
        return video.videoHeight === h && video.getVideoPlaybackQuality().totalVideoFrames > n + 25;
      },
      [before, height],
      // A busy machine (the whole suite) may take a few segments to switch.
      { timeout: 45_000, polling: 250 },
    ).catch(async (error) => {
      const now = await page.evaluate(() => {
        const v = document.getElementById('player');
        return { height: v.videoHeight, frames: v.getVideoPlaybackQuality().totalVideoFrames, quality: document.getElementById('quality').value };
      });
      throw new Error(`switch to ${height}p: ${JSON.stringify(now)} from ${before} frames (${error.message})`);
    });
    await assertPlaying(page, { startTimeout: 15_000 });
  });

  test('recordings page lists a recording that plays', { timeout: 90_000 }, async (t) => {
    const page = await openPage(t, `/#/recordings/${demoId}`);
    const rows = page.locator('.recordings-table tbody tr');
    await rows.first().waitFor({ timeout: 20_000 });
    assert.ok((await rows.count()) >= 1);
    const first = rows.first();
    const title = (await first.locator('.recording-link').textContent()).trim();
    assert.ok(title.startsWith(DEMO_NAME), `recording title ${title}`);
    assert.match((await first.locator('td').nth(2).textContent()).trim(), /^(\d+:)?\d{2}:\d{2}$/);
    assert.ok(['录制中', '已完成', '已中断'].includes((await first.locator('.status-badge').textContent()).trim()));

    // Clicking the row (not just the link) opens the recording.
    await first.locator('td').nth(1).click();
    await page.waitForFunction(() => location.hash.startsWith('#/recording/'));
    await page.locator('video#player').waitFor();
    // The title is filled in once the recording's details arrive.
    await page.locator('h1', { hasText: title }).waitFor({ timeout: 10_000 });
    await page.locator('#gaps').waitFor({ state: 'attached' });
    await assertPlaying(page);
    assert.ok((await page.locator('#quality option').count()) >= 3, 'recording quality menu');
  });
  test('recording page lists signal-lost stretches and seeks to them', { timeout: 90_000 }, async (t) => {
    // The demo never loses its signal, so the gaps come from an intercepted API answer.
    const recording = await waitForRecording(6000);
    const page = await openPage(t, '/');
    await page.route(
      (url) => url.pathname === `/api/recordings/${recording.id}`,
      async (route) => {
        const response = await route.fetch();
        const body = await response.json();
        body.gaps = [
          { offset_ms: 1000, duration_ms: 1500, reason: 'signal_lost' },
          { offset_ms: 4000, duration_ms: null, reason: 'other_reason' },
        ];
        await route.fulfill({ response, json: body });
      },
    );
    await page.goto(`${BASE}/#/recording/${recording.id}`);
    const items = page.locator('#gaps li');
    await items.first().waitFor({ timeout: 10_000 });
    assert.equal(await items.count(), 2);
    assert.equal((await page.locator('.gaps h2').textContent()).trim(), '信号中断片段');
    assert.equal((await items.nth(0).locator('.gap-time').textContent()).trim(), '00:01');
    assert.equal((await items.nth(0).locator('.gap-text').textContent()).trim(), '持续 00:01');
    assert.equal((await items.nth(1).locator('.gap-time').textContent()).trim(), '00:04');
    assert.equal((await items.nth(1).locator('.gap-text').textContent()).trim(), '仍在持续');
    assert.equal((await items.nth(1).locator('.tag').textContent()).trim(), 'other_reason');

    await assertPlaying(page);
    await items.nth(0).locator('button').click();
    await page.waitForFunction(
      () => {
        const video = document.getElementById('player');
        return !video.seeking && video.currentTime >= 0.9 && video.currentTime < 2.2;
      },
      null,
      { timeout: 10_000 },
    );
    await assertPlaying(page, { startTimeout: 10_000 });
  });

  test('names from the API are shown as text, never as markup', async (t) => {
    const evil = '<img src=x onerror="window.__xss=1"><b>Room 1</b>';
    const page = await openPage(t, '/');
    await page.route(
      (url) => url.pathname === '/api/classrooms',
      async (route) => {
        const response = await route.fetch();
        const list = await response.json();
        list.push({ ...list[0], id: 'not-a-real-id', name: evil, live: { state: 'idle' }, hls_url: null, thumbnail_url: null });
        await route.fulfill({ response, json: list });
      },
    );
    await page.reload();
    const card = page.locator('.classroom-card[data-classroom-id="not-a-real-id"]');
    await card.waitFor({ timeout: 10_000 });
    assert.equal(await card.locator('.card-title').textContent(), evil);
    assert.equal(await card.locator('.card-title img, .card-title b').count(), 0);
    assert.equal((await card.locator('.state-badge').textContent()).trim(), '空闲');
    assert.equal(await page.evaluate(() => window.__xss), undefined);
  });

  test('watch page says so when a classroom is not live, or does not exist', async (t) => {
    const page = await openPage(t, '/');
    await page.route(
      (url) => url.pathname === `/api/classrooms/${demoId}`,
      async (route) => {
        const response = await route.fetch();
        const body = await response.json();
        await route.fulfill({ response, json: { ...body, live: { state: 'idle' }, hls_url: null, thumbnail_url: null } });
      },
    );
    await page.goto(`${BASE}/#/watch/${demoId}`);
    await page.locator('.player-overlay', { hasText: '该教室当前没有直播' }).waitFor({ timeout: 10_000 });
    assert.equal((await page.locator('.state-badge').textContent()).trim(), '空闲');

    await page.goto(`${BASE}/#/watch/00000000-0000-4000-8000-00000000ffff`);
    await page.locator('.message-page', { hasText: '未找到' }).waitFor({ timeout: 10_000 });
  });
});
