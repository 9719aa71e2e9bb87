// 低延迟 on the watch page in Chromium against a running server: the demo
// lesson arrives over WebRTC (WHEP) with pictures decoded and sound
// received, changes quality by a new session, ends its sessions, hands
// back to HLS, and says so when the server cannot serve it.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/whep.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, assertPlaying, launch, openPage, recordPeers, screenshot, signIn, until } from './lib.mjs';

if (!BASE) throw new Error('CLASSCAST_URL is not set: these tests need a running classcast server');
const DEMO_NAME = '演示教室 / Demo classroom';

let browser;
let admin; // {cookie, csrf}
let demoId;

before(async () => {
  browser = await launch();
  admin = await signIn(process.env.CLASSCAST_ADMIN, process.env.CLASSCAST_ADMIN_PASSWORD);
  demoId = await until('demo classroom listed', async () => {
    const list = await (await fetch(`${BASE}/api/classrooms`, { headers: { cookie: admin.cookie } })).json();
    const demo = list.find((c) => c.name === DEMO_NAME);
    return demo ? demo.id : undefined;
  });
});

after(async () => {
  if (browser) await browser.close();
});

/**
 * The watch page opened with every RTCPeerConnection it makes recorded in
 * window.__peers (recordPeers), and the page's WHEP requests and answers.
 */
async function openWatch(t) {
  const page = await openPage(browser, t, null, { cookie: admin.cookie });
  await recordPeers(page);
  const whep = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/whep/')) whep.push({ method: request.method(), url, type: request.headers()['content-type'] || '' });
  });
  const answers = [];
  page.on('response', async (response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith('/whep/') && response.request().method() === 'POST') {
      answers.push({ status: response.status(), location: response.headers().location, rendition: response.headers()['classcast-rendition'], url });
    }
  });
  await page.goto(`${BASE}/#/watch/${demoId}`);
  return { page, whep, answers };
}

/** inbound-rtp of the newest peer connection: {state, video: {framesDecoded, frameHeight}, audio: {packetsReceived}}. */
function stats(page) {
  return page.evaluate(async () => {
    const pc = window.__peers[window.__peers.length - 1];
    if (!pc) return null;
    const out = { state: pc.connectionState, peers: window.__peers.length, video: null, audio: null };
    if (pc.connectionState === 'closed') return out;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') out.video = { framesDecoded: s.framesDecoded || 0, frameHeight: s.frameHeight || 0 };
      if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audio = { packetsReceived: s.packetsReceived || 0 };
    });
    return out;
  });
}

/** Pictures decoded and advancing over ~2 s and sound arriving, on the newest connection. */
async function assertWebRtcPlaying(page) {
  const first = await until('WebRTC video decodes', async () => {
    const s = await stats(page);
    return s && s.state === 'connected' && s.video && s.video.framesDecoded > 0 ? s : undefined;
  });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const second = await stats(page);
  assert.equal(second.state, 'connected');
  assert.ok(second.video.framesDecoded > first.video.framesDecoded + 10, `frames decoded over 2 s: ${first.video.framesDecoded} → ${second.video.framesDecoded}`);
  assert.ok(second.audio && second.audio.packetsReceived > 0, `audio packets received: ${JSON.stringify(second.audio)}`);
  // …and the page's own <video> shows them, from the stream rather than hls.js.
  const element = await page.evaluate(() => {
    const video = document.getElementById('player');
    return { stream: video.srcObject instanceof MediaStream, src: video.getAttribute('src') };
  });
  assert.deepEqual(element, { stream: true, src: null }, 'the video plays the WebRTC stream, not HLS');
  await assertPlaying(page, { startTimeout: 10_000 });
  return second;
}

const lowLatencySwitch = (page) => page.locator('.low-latency .el-switch');
const switchedOn = (page) => lowLatencySwitch(page).evaluate((el) => el.classList.contains('is-checked'));

describe('low latency (WebRTC) on the watch page', () => {
  test('plays the lesson over WebRTC, changes quality, and hands back to HLS', { timeout: 180_000 }, async (t) => {
    const { page, whep, answers } = await openWatch(t);
    await assertPlaying(page);
    assert.equal(await page.evaluate(() => window.__peers.length), 0, 'HLS by default: no peer connection');
    const control = page.locator('.low-latency');
    assert.equal((await control.locator('.el-switch__label--right').textContent()).trim(), '低延迟');
    assert.equal((await control.locator('.hint').textContent()).trim(), '约 0.5 秒延迟，适合互动');

    await lowLatencySwitch(page).click();
    const auto = await assertWebRtcPlaying(page);
    // The demo's best rendition is above 360p, so the switch below shows.
    assert.ok(auto.video.frameHeight > 360, `Auto serves more than 360 lines: ${auto.video.frameHeight}`);
    const offer = whep.find((r) => r.method === 'POST');
    assert.equal(offer.url.pathname, `/whep/${demoId}`);
    assert.equal(offer.type, 'application/sdp');
    assert.equal(offer.url.searchParams.get('rendition'), null, 'Auto lets the server choose');
    assert.equal(answers[0].status, 201);
    assert.ok(answers[0].rendition, 'the answer names the rendition served');
    // The page says it is on low latency, and which rendition the server chose.
    const status = page.locator('.whep-rendition');
    await status.waitFor({ timeout: 5000 });
    assert.equal(await status.getAttribute('data-rendition'), answers[0].rendition);
    assert.match((await status.textContent()).trim(), /^低延迟播放中 · (\d+p|仅声音|\S+)$/);
    assert.equal(await page.locator('.go-live').count(), 0, 'no 回到直播 on WebRTC: it is always at the live edge');
    assert.equal(await page.locator('.latency').count(), 0, 'no HLS latency figure on WebRTC');
    assert.equal(await page.evaluate(() => localStorage.getItem('classcast.lowLatency')), '1');
    await screenshot(page, 'watch-zh-low-latency');

    // The same menu: the HLS renditions (from the master playlist) and sound only.
    const options = (await page.locator('#quality option').allTextContents()).map((o) => o.trim());
    assert.match(options[0], /^自动/);
    assert.ok(options.includes('仅声音'), `sound only offered: ${JSON.stringify(options)}`);
    const label360 = options.find((o) => /^360p · /.test(o));
    assert.ok(label360, `360p offered: ${JSON.stringify(options)}`);
    const firstLocation = new URL(answers[0].location, BASE).pathname;
    await page.selectOption('#quality', { label: label360 });
    await until('a new session for 360p', () => answers.length >= 2 || undefined);
    assert.equal(answers[1].url.searchParams.get('rendition'), '360p');
    assert.equal(answers[1].status, 201);
    assert.equal(answers[1].rendition, '360p');
    await until('the 360p picture decodes', async () => {
      const s = await stats(page);
      return s && s.video && s.video.frameHeight === 360 ? s : undefined;
    });
    await until('the video element shows 360 lines', () => page.evaluate(() => document.getElementById('player').videoHeight === 360));
    await assertWebRtcPlaying(page);
    await until('the first session ended', () => whep.some((r) => r.method === 'DELETE' && r.url.pathname === firstLocation) || undefined, 5000);
    assert.equal(await page.locator('.whep-rendition').getAttribute('data-rendition'), '360p');
    assert.equal((await page.locator('.whep-rendition').textContent()).trim(), '低延迟播放中 · 360p');

    // Remembered: a reload comes back on WebRTC.
    await page.reload();
    await assertWebRtcPlaying(page);
    assert.equal(await switchedOn(page), true);

    // Off: the session ends and HLS plays the same <video> again.
    const location = new URL(answers[answers.length - 1].location, BASE).pathname;
    await lowLatencySwitch(page).click();
    await until('the session ended', () => whep.some((r) => r.method === 'DELETE' && r.url.pathname === location) || undefined, 5000);
    assert.equal((await stats(page)).state, 'closed');
    await assertPlaying(page);
    const element = await page.evaluate(() => {
      const video = document.getElementById('player');
      return { stream: video.srcObject, src: (video.getAttribute('src') || '').slice(0, 5) };
    });
    assert.deepEqual(element, { stream: null, src: 'blob:' }, 'hls.js plays through Media Source Extensions again');
    assert.match((await page.locator('.low-latency .hint').textContent()).trim(), /^约 0.5 秒延迟/);
    assert.equal(await page.evaluate(() => localStorage.getItem('classcast.lowLatency')), '0');
  });

  test('plays over TCP when UDP cannot get through', { timeout: 90_000 }, async (t) => {
    const { page } = await openWatch(t);
    // A school firewall that drops UDP, as this browser sees it: the
    // answer reaches it without the server's UDP candidates, so ICE can
    // only pair with the ICE-TCP listener (RFC 6544).
    let stripped = 0;
    await page.route((url) => url.pathname === `/whep/${demoId}`, async (route) => {
      const response = await route.fetch();
      const answer = (await response.text())
        .split('\r\n')
        .filter((line) => {
          const udp = line.startsWith('a=candidate:') && / udp /i.test(line);
          if (udp) stripped += 1;
          return !udp;
        })
        .join('\r\n');
      await route.fulfill({ response, body: answer });
    });
    await assertPlaying(page);
    await lowLatencySwitch(page).click();
    await assertWebRtcPlaying(page);
    assert.ok(stripped > 0, 'the answer had UDP candidates to take away');
    const pair = await page.evaluate(async () => {
      const pc = window.__peers[window.__peers.length - 1];
      const stats = [...(await pc.getStats()).values()];
      const transport = stats.find((s) => s.type === 'transport');
      const selected = stats.find((s) => s.id === (transport && transport.selectedCandidatePairId))
        || stats.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
      const remote = selected && stats.find((s) => s.id === selected.remoteCandidateId);
      return remote ? { protocol: remote.protocol, port: remote.port } : null;
    });
    assert.equal(pair && pair.protocol, 'tcp', `media flows over TCP: ${JSON.stringify(pair)}`);
    await lowLatencySwitch(page).click();
  });

  test('says when the lesson is not live, shows the server\'s words, and falls back to HLS', { timeout: 90_000 }, async (t) => {
    const { page } = await openWatch(t);
    let posts = 0;
    // The demo is always live and the server has room, so those answers are made up here.
    await page.route((url) => url.pathname === `/whep/${demoId}`, async (route) => {
      posts += 1;
      if (posts === 1) {
        await route.fulfill({
          status: 409,
          headers: { 'retry-after': '2' },
          contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'not_live', message: '该教室当前没有直播', fields: {} } }),
        });
      } else {
        await route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'server_full', message: '观看人数已满（测试）', fields: {} } }),
        });
      }
    });
    await assertPlaying(page);
    await lowLatencySwitch(page).click();
    await page.locator('.player-overlay', { hasText: '本节课还没有开始直播，稍后自动重试…' }).waitFor({ timeout: 10_000 });
    // Asked again after Retry-After, then the server's own words.
    const overlay = page.locator('.player-overlay');
    await overlay.locator('p', { hasText: '观看人数已满（测试）' }).waitFor({ timeout: 10_000 });
    assert.equal((await overlay.locator('p').first().textContent()).trim(), '观看人数已满（测试）');
    assert.ok(posts >= 2, `asked again after Retry-After: ${posts} offers`);
    await screenshot(page, 'watch-zh-low-latency-full');

    await overlay.locator('.whep-fallback').click();
    await assertPlaying(page);
    assert.equal(await switchedOn(page), false);
    assert.equal(await page.locator('.whep-problem').count(), 0);
    assert.equal(await page.evaluate(() => window.__peers.every((pc) => pc.connectionState === 'closed')), true, 'no connection left open');
  });
});
