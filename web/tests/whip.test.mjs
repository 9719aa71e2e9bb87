// 发布 in Chromium against a running server: a classroom's WebRTC (WHIP)
// source is put on air from the browser's (fake) camera and microphone,
// with a preview and a level meter; the lesson goes live, plays over HLS
// and over WHEP in a second browser context, and ends when the person
// stops. A camera that cannot be switched to while live is said, and the
// lesson goes on; leaving the page lets the camera go. A wrong key says
// so and publishes nothing.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/whip.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, apiCall, assertPlaying, launch, openPage, openTracks, recordMedia, recordPeers, screenshot, signIn, until } from './lib.mjs';

if (!BASE) throw new Error('CLASSCAST_URL is not set: these tests need a running classcast server');

let browser;
let admin;
let room;
let source;

before(async () => {
  browser = await launch();
  admin = await signIn(process.env.CLASSCAST_ADMIN, process.env.CLASSCAST_ADMIN_PASSWORD);
  room = await apiCall(admin, 'POST', '/api/classrooms', { name: `家里上课 ${Date.now() % 100000}`, ladder_heights: [360] });
  source = await apiCall(admin, 'POST', `/api/classrooms/${room.id}/sources`, { kind: 'whip' });
  assert.ok(source.publish && source.publish.stream_key, 'a WHIP source has a stream key');
});

after(async () => {
  if (browser) await browser.close();
});

async function liveState() {
  return (await apiCall(admin, 'GET', `/api/classrooms/${room.id}`)).live.state;
}

/** The publish page opened with its RTCPeerConnections and camera streams recorded (lib.mjs). */
async function openPublish(t, path) {
  const page = await openPage(browser, t, null);
  await recordPeers(page);
  await recordMedia(page);
  await page.goto(`${BASE}${path}`);
  return page;
}

/** What the publisher has sent so far, from getStats(). */
function sent(page) {
  return page.evaluate(async () => {
    const out = { framesEncoded: 0, audioPackets: 0, codec: null };
    const pc = window.__peers[window.__peers.length - 1];
    if (!pc) return out;
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.framesEncoded = s.framesEncoded;
        const codec = stats.get(s.codecId);
        out.codec = codec ? `${codec.mimeType} ${codec.sdpFmtpLine || ''}` : null;
      }
      if (s.type === 'outbound-rtp' && s.kind === 'audio') out.audioPackets = s.packetsSent;
    });
    return out;
  });
}

describe('publishing from the browser (WHIP)', () => {
  test('the classroom page links its WebRTC source to the publish page', async (t) => {
    const page = await openPage(browser, t, `/#/classrooms/${room.id}`, { cookie: admin.cookie });
    const link = page.locator(`[data-source-id="${source.id}"] .publish-here`);
    await link.waitFor();
    assert.match(await link.getAttribute('href'), new RegExp(`#/publish\\?key=${source.publish.stream_key}`));
  });

  test('camera and microphone go live, play over HLS and WHEP, and stop', async (t) => {
    const page = await openPublish(t, `/#/publish?key=${encodeURIComponent(source.publish.stream_key)}`);
    // Preview and meter before anything is sent.
    await page.waitForFunction(() => {
      const v = document.querySelector('video.preview');
      return v && v.videoWidth > 0 && v.currentTime > 0;
    }, null, { timeout: 15_000 });
    await page.waitForFunction(() => Number(document.querySelector('.level').getAttribute('aria-valuenow')) > 0, null, { timeout: 10_000 });
    assert.equal(await page.locator('.publish-page').getAttribute('data-status'), 'previewing');
    assert.equal(await liveState(), 'idle', 'a preview is not a lesson');
    await screenshot(page, 'publish-preview');

    await page.locator('.go-live').click();
    await page.waitForSelector('.publish-page[data-status="live"]', { timeout: 15_000 });
    const first = await sent(page);
    await page.waitForFunction(async (before) => {
      const pc = window.__peers[window.__peers.length - 1];
      let frames = 0;
      let audio = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') frames = s.framesEncoded;
        if (s.type === 'outbound-rtp' && s.kind === 'audio') audio = s.packetsSent;
      });
      return frames > before.framesEncoded + 10 && audio > before.audioPackets + 10;
    }, first, { timeout: 10_000, polling: 250 });
    assert.match((await sent(page)).codec || '', /H264/i, 'the browser sends H.264');
    await until('the classroom is live', async () => (await liveState()) === 'live');
    await screenshot(page, 'publish-live');

    // Another picture size needs the camera again, and it is refused (busy,
    // unplugged): the page says so, and the lesson goes on with the old one.
    await page.evaluate(() => (window.__refuseMedia = true));
    await page.locator('.size-select .el-select__wrapper').click();
    await page.locator('.el-select-dropdown:visible .el-select-dropdown__item', { hasText: '360p' }).first().click();
    await page.locator('.device-problem').waitFor({ timeout: 5000 });
    await page.evaluate(() => (window.__refuseMedia = false));
    assert.equal(await page.locator('.publish-page').getAttribute('data-status'), 'live', 'still on air');
    assert.equal(await page.locator('.stop-live').count(), 1, 'and it can still be stopped');
    const during = await sent(page);
    await page.waitForFunction(async (n) => {
      let frames = 0;
      (await window.__peers[window.__peers.length - 1].getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') frames = s.framesEncoded;
      });
      return frames > n + 10;
    }, during.framesEncoded, { timeout: 10_000, polling: 250 });
    assert.equal(await liveState(), 'live');

    // Someone watches: over HLS, then over WebRTC.
    const hls = await openPage(browser, t, null, { cookie: admin.cookie });
    await hls.goto(`${BASE}/#/watch/${room.id}`);
    await assertPlaying(hls, { startTimeout: 30_000 });
    const whep = await openPage(browser, t, null, { cookie: admin.cookie });
    await whep.addInitScript(() => localStorage.setItem('classcast.lowLatency', '1'));
    await whep.goto(`${BASE}/#/watch/${room.id}`);
    await assertPlaying(whep, { startTimeout: 20_000 });
    assert.ok(await whep.locator('.whep-rendition').count(), 'the watch page says it plays over WebRTC');

    // The person stops: the session ends on the server and the lesson with it.
    const ended = page.waitForRequest((r) => r.method() === 'DELETE' && new URL(r.url()).pathname.startsWith('/whip/sessions/'));
    await page.locator('.stop-live').click();
    await ended;
    await page.waitForSelector('.publish-page[data-status="previewing"]');
    await until('the lesson ends', async () => (await liveState()) === 'idle', 20_000);

    // Leaving the page closes the camera and microphone.
    assert.deepEqual((await openTracks(page)).sort(), ['audio', 'video'], 'the preview keeps them while on the page');
    await page.evaluate(() => (location.hash = '#/login'));
    await page.locator('.publish-page').waitFor({ state: 'detached' });
    assert.deepEqual(await openTracks(page), [], 'no camera or microphone left open');
  });

  test('a wrong key says the server refused and sends nothing', async (t) => {
    const page = await openPublish(t, '/#/publish');
    await page.locator('input[name="stream_key"]').fill('not-a-real-key');
    await page.getByRole('button', { name: /使用此密钥|Use this key/ }).click();
    await page.waitForSelector('.publish-page[data-status="previewing"]', { timeout: 15_000 });
    await page.locator('.go-live').click();
    const problem = page.locator('.publish-problem');
    await problem.waitFor({ timeout: 10_000 });
    assert.match(await problem.textContent(), /服务器拒绝|refused/);
    assert.equal(await page.locator('.publish-page').getAttribute('data-status'), 'error');
    assert.equal(await liveState(), 'idle');
  });
});
