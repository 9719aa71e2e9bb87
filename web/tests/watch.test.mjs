// The live wall, the live player and the recordings in Chromium against a
// running server: frames decoded and advancing, the words on screen, and
// the playback token renewed under a playing video.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/watch.test.mjs
//
// CLASSCAST_PLAYBACK_TTL (seconds, optional): the server's playback token
//   lifetime; when short (scripts/browser-tests.sh sets 20) the token test
//   plays past two expiries.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, PHONE, apiCall, assertNoSidewaysScroll, assertPlaying, launch, openPage, playback, screenshot, signIn } from './lib.mjs';

if (!BASE) throw new Error('CLASSCAST_URL is not set: these tests need a running classcast server');
const DEMO_NAME = '演示教室 / Demo classroom';
const TTL = Number(process.env.CLASSCAST_PLAYBACK_TTL || 0);

let browser;
let admin; // {cookie, csrf}
let demoId;
let finished; // a recording that has ended

function api(path) {
  return fetch(`${BASE}${path}`, { headers: { cookie: admin.cookie } });
}

/** Polls the API (not the page) until `check` gives a value; for set-up only. */
async function eventually(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last && last.value !== undefined) return last.value;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${what}: ${JSON.stringify(last && last.seen)}`);
}

before(async () => {
  browser = await launch();
  admin = await signIn(process.env.CLASSCAST_ADMIN, process.env.CLASSCAST_ADMIN_PASSWORD);
  demoId = await eventually('demo classroom listed', async () => {
    const list = await (await api('/api/classrooms')).json();
    const demo = list.find((c) => c.name === DEMO_NAME);
    return { value: demo ? demo.id : undefined, seen: list.map((c) => c.name) };
  });
  // A lesson that ends: a test pattern that goes live, records a few
  // seconds, and is switched off (the grace period is short here).
  const room = await apiCall(admin, 'POST', '/api/classrooms', { name: `已结束的课 ${Date.now() % 100000}`, ladder_heights: [360] });
  const source = await apiCall(admin, 'POST', `/api/classrooms/${room.id}/sources`, { kind: 'test' });
  await eventually('the ending lesson records 4 s', async () => {
    const list = await (await api(`/api/recordings?classroom_id=${room.id}`)).json();
    return { value: list[0] && list[0].duration_ms >= 4000 ? list[0] : undefined, seen: list };
  });
  await apiCall(admin, 'PATCH', `/api/classrooms/${room.id}/sources/${source.id}`, { enabled: false });
  finished = await eventually('the recording finishes', async () => {
    const list = await (await api(`/api/recordings?classroom_id=${room.id}`)).json();
    return { value: list.length === 1 && list[0].status === 'complete' ? list[0] : undefined, seen: list };
  }, 60_000);
});

after(async () => {
  if (browser) await browser.close();
});

/** The demo classroom's newest recording, once it is at least `minMs` long. */
function waitForRecording(minMs) {
  return eventually(`a demo recording of ${minMs} ms`, async () => {
    const list = await (await api(`/api/recordings?classroom_id=${demoId}`)).json();
    const newest = list.sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at))[0];
    return { value: newest && newest.duration_ms >= minMs ? newest : undefined, seen: newest };
  });
}

describe('classcast web UI', () => {
  test('Chromium plays H.264 + AAC through Media Source Extensions', async (t) => {
    const page = await openPage(browser, t, '/', { cookie: admin.cookie });
    const support = await page.evaluate(() => ({
      baseline: MediaSource.isTypeSupported('video/mp4; codecs="avc1.42C01F,mp4a.40.2"'),
      main: MediaSource.isTypeSupported('video/mp4; codecs="avc1.4D401E,mp4a.40.2"'),
    }));
    assert.deepEqual(support, { baseline: true, main: true }, 'this Chromium lacks H.264/AAC in MSE');
  });

  test('live wall lists the demo classroom as live, in Chinese, then English', { timeout: 60_000 }, async (t) => {
    const page = await openPage(browser, t, '/', { cookie: admin.cookie });
    const card = page.locator(`.classroom-card[data-classroom-id="${demoId}"]`);
    await card.locator('.state-badge[data-state="live"]').waitFor({ timeout: 20_000 });

    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    assert.equal((await card.locator('.card-title').textContent()).trim(), DEMO_NAME);
    assert.equal((await card.locator('.state-badge').textContent()).trim(), '直播中');
    assert.equal((await page.locator('[data-nav="live"]').textContent()).trim(), '直播墙');
    assert.equal((await card.locator('.watch-link').textContent()).trim(), '观看直播');
    // A screen reader hears which classroom each button is for.
    assert.equal(await card.locator('.watch-link').getAttribute('aria-label'), `观看直播：${DEMO_NAME}`);
    assert.equal(await card.locator('.watch-link').getAttribute('href'), `#/watch/${demoId}`);
    assert.equal(await card.locator('.recordings-link').getAttribute('href'), `#/recordings/${demoId}`);
    // Exactly one header item is highlighted.
    assert.equal(await page.locator('.topnav a.active').count(), 1);
    // The thumbnail arrives (a real JPEG, decoded by the browser).
    await page.waitForFunction(
      (id) => {
        const img = document.querySelector(`.classroom-card[data-classroom-id="${id}"] .thumb-img`);
        return img && img.complete && img.naturalWidth > 0;
      },
      demoId,
      { timeout: 15_000 },
    );
    await screenshot(page, 'wall-zh-desktop');

    await page.selectOption('#lang', 'en');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.locator('.state-badge', { hasText: 'Live' }).first().waitFor({ timeout: 5000 });
    assert.equal((await card.locator('.state-badge').textContent()).trim(), 'Live');
    assert.equal((await page.locator('[data-nav="live"]').textContent()).trim(), 'Live wall');
    assert.equal((await card.locator('.watch-link').textContent()).trim(), 'Watch');
    assert.equal((await page.locator('h1').textContent()).trim(), 'Live wall');
    await screenshot(page, 'wall-en-desktop');

    // The choice is remembered across a reload.
    await page.reload();
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await card.locator('.state-badge', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
  });

  test('?lang=en selects English without the switch', async (t) => {
    const page = await openPage(browser, t, '/?lang=en#/', { cookie: admin.cookie });
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.locator('h1', { hasText: 'Live wall' }).waitFor({ timeout: 5000 });
    assert.equal(await page.inputValue('#lang'), 'en');
  });

  test('watch page decodes advancing video and offers the renditions', { timeout: 120_000 }, async (t) => {
    const page = await openPage(browser, t, `/#/watch/${demoId}`, { cookie: admin.cookie });
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
    for (const label of levels) assert.match(label.trim(), /^\d+p · \d+(\.\d+)? Mbps$/);
    assert.equal((await page.locator('.state-badge').textContent()).trim(), '直播中');
    assert.equal((await page.locator('h1').textContent()).trim(), DEMO_NAME);
    // Live: a LIVE badge, 回到直播, how far behind live, how many watch,
    // and a way to turn the sound on (it started muted).
    await page.locator('.live-badge', { hasText: 'LIVE' }).waitFor();
    await page.getByRole('button', { name: '回到直播' }).waitFor();
    await page.locator('.latency', { hasText: /^延迟 \d+\.\d 秒$/ }).waitFor({ timeout: 10_000 });
    await page.locator('.player-stats', { hasText: /\d+ 人观看/ }).waitFor();
    await page.getByRole('button', { name: '点击开启声音' }).click();
    assert.equal(await page.evaluate(() => document.getElementById('player').muted), false);
    await page.getByRole('button', { name: '点击开启声音' }).waitFor({ state: 'detached' });
    await screenshot(page, 'watch-zh-desktop');

    // Choosing a rendition by hand keeps the picture going: frames go on
    // being decoded, within a segment or two, and keep advancing.
    const lowest = page.locator('#quality option').last();
    const height = Number((await lowest.textContent()).trim().match(/^(\d+)p/)[1]);
    const before = (await playback(page)).frames;
    await page.selectOption('#quality', await lowest.getAttribute('value'));
    await page.waitForFunction(
      ([n, h]) => {
        const v = document.getElementById('player');
        return v.videoHeight === h && v.getVideoPlaybackQuality().totalVideoFrames > n + 25;
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

  test('live playback outlasts two playback-token expiries', { timeout: 180_000, skip: !(TTL > 0 && TTL <= 60) && 'needs a short CLASSCAST_PLAYBACK_TTL' }, async (t) => {
    const page = await openPage(browser, t, `/#/watch/${demoId}`, { cookie: admin.cookie });
    const tokens = new Set();
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname.startsWith('/live/') && url.searchParams.get('token')) tokens.add(url.searchParams.get('token'));
    });
    const answers = [];
    page.on('response', async (response) => {
      if (new URL(response.url()).pathname === `/api/classrooms/${demoId}/playback`) answers.push(await response.json());
    });
    await assertPlaying(page);
    const start = await playback(page);
    const first = answers[0];
    assert.ok(first && first.expires_at, 'the player asked for a playback URL');
    // Past the second expiry of the first token's lifetime, still playing.
    const secondExpiry = Date.parse(first.expires_at) + TTL * 1000;
    await page.waitForFunction(
      ({ until, time }) => Date.now() > until && document.getElementById('player').currentTime > time + 1,
      { until: secondExpiry + 2000, time: 0 },
      { timeout: (TTL * 2 + 30) * 1000, polling: 500 },
    );
    await assertPlaying(page, { startTimeout: 5000 });
    const end = await playback(page);
    assert.ok(end.time - start.time > TTL * 1.5, `played ${end.time - start.time} s across the expiries`);
    assert.ok(answers.length >= 3, `the token was renewed before each expiry: ${answers.length} answers`);
    assert.ok(tokens.size >= 3, `media requests carried the renewed tokens: ${tokens.size} distinct`);
  });

  test('recordings page lists a finished recording that plays', { timeout: 90_000 }, async (t) => {
    const page = await openPage(browser, t, `/#/recordings/${finished.classroom_id}`, { cookie: admin.cookie });
    const rows = page.locator('.recordings-table tbody tr');
    await rows.first().waitFor({ timeout: 20_000 });
    // Exactly the classroom's recordings: one, finished.
    const expected = await (await api(`/api/recordings?classroom_id=${finished.classroom_id}`)).json();
    assert.equal(await rows.count(), expected.length);
    assert.equal(expected.length, 1);
    const first = rows.first();
    const title = (await first.locator('.recording-link').textContent()).trim();
    assert.equal(title, finished.title);
    assert.match((await first.locator('td').nth(2).textContent()).trim(), /^(\d+:)?\d{2}:\d{2}$/);
    assert.equal((await first.locator('.status-badge').textContent()).trim(), '已完成');
    // The table's time and the recording's time agree, in the school's zone.
    assert.match((await first.locator('td').nth(1).textContent()).trim(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    await screenshot(page, 'recordings-zh-desktop');

    // Clicking the row (not just the link) opens the recording.
    await first.locator('td').nth(1).click();
    await page.waitForFunction(() => location.hash.startsWith('#/recording/'));
    await page.locator('video#player').waitFor();
    await page.locator('h1', { hasText: title }).waitFor({ timeout: 10_000 });
    await page.locator('#gaps').waitFor({ state: 'attached' });
    await assertPlaying(page);
    assert.equal(await page.locator('.status-badge').first().textContent(), '已完成');
    // Auto, the source (the test picture is 720p H.264, passed through) and
    // the room's one ladder rung, 360p.
    assert.ok((await page.locator('#quality option').count()) >= 3, 'recording quality menu');
    await screenshot(page, 'recording-zh-desktop');
  });

  test('recording page lists signal-lost stretches and seeks to them', { timeout: 90_000 }, async (t) => {
    // The demo never loses its signal, so the gaps come from an intercepted API answer.
    const recording = await waitForRecording(6000);
    const page = await openPage(browser, t, '/', { cookie: admin.cookie });
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
    // Both stretches are marked on the timeline too.
    assert.equal(await page.locator('.timeline-mark').count(), 2);

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
    const page = await openPage(browser, t, '/', { cookie: admin.cookie });
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
    // Idle: no dead "watch" button.
    assert.equal(await card.locator('.watch-link').count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
  });

  test('watch page says so when a classroom is not live, or does not exist, or the id is malformed', async (t) => {
    const page = await openPage(browser, t, '/', { cookie: admin.cookie });
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
    // Its last lesson instead of a dead player.
    await page.locator('.last-lesson-link', { hasText: /^观看上一节课（\d{4}-\d{2}-\d{2} \d{2}:\d{2}）$/ }).waitFor({ timeout: 10_000 });

    await page.goto(`${BASE}/#/watch/00000000-0000-4000-8000-00000000ffff`);
    await page.locator('.message-page', { hasText: '未找到' }).waitFor({ timeout: 10_000 });
    await page.goto(`${BASE}/#/watch/not-an-id`);
    await page.locator('.message-page', { hasText: '地址有误' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.getByText('加载中').count(), 0);
  });

  test('on a phone the watch page fits, upright and sideways', { timeout: 60_000 }, async (t) => {
    const page = await openPage(browser, t, `/#/watch/${demoId}`, { cookie: admin.cookie, viewport: PHONE });
    await assertPlaying(page);
    await assertNoSidewaysScroll(page, 'watch, portrait');
    const fits = () => page.evaluate(() => {
      const r = document.getElementById('player').getBoundingClientRect();
      return r.width <= window.innerWidth && r.height <= window.innerHeight && r.width > 0;
    });
    assert.ok(await fits(), 'the player fits a portrait phone');
    await screenshot(page, 'watch-zh-phone');
    await page.setViewportSize({ width: PHONE.height, height: PHONE.width });
    await page.waitForFunction(() => window.innerWidth > window.innerHeight);
    await assertNoSidewaysScroll(page, 'watch, landscape');
    assert.ok(await fits(), 'the player fits a landscape phone');
    await screenshot(page, 'watch-zh-phone-landscape');
  });
});
