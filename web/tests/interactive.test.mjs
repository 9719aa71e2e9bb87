// 专递课堂 in Chromium: one main classroom (the demo classroom, its
// teacher's page) and two remote classrooms at two partner schools, each
// on its classroom device account's page, all over WebRTC. Every
// participant decodes every picture it should; the remote classrooms'
// cameras (Chromium's fake devices) come back to the teacher; mute and
// "speaking" take effect for everyone; ending the session stops it all.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/interactive.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, apiCall, launch, openPage, recordPeers, screenshot, signIn } from './lib.mjs';

if (!BASE) throw new Error('CLASSCAST_URL is not set: these tests need a running classcast server');
const DEMO_NAME = '演示教室 / Demo classroom';
const PASSWORD = 'interactive-test-pw';

let browser;
let admin;
let sessionId;
const rooms = {}; // name → classroom id
const people = {}; // name → {cookie, csrf}

before(async () => {
  browser = await launch();
  admin = await signIn(process.env.CLASSCAST_ADMIN, process.env.CLASSCAST_ADMIN_PASSWORD);
  const demo = (await apiCall(admin, 'GET', '/api/classrooms')).find((c) => c.name === DEMO_NAME);
  rooms.main = demo.id;
  const suffix = Date.now() % 100000;
  people.teacher = await person(`主讲王老师${suffix}`, demo.school_id, 'teacher');
  for (const side of ['a', 'b']) {
    const school = await apiCall(admin, 'POST', '/api/schools', { name: `${side === 'a' ? '石门' : '河口'}村小 ${suffix}`, kind: 'partner' });
    const room = await apiCall(admin, 'POST', '/api/classrooms', { name: `${side === 'a' ? '石门' : '河口'}三年级`, school_id: school.id, ladder_heights: [] });
    rooms[side] = room.id;
    // The partner school invites the teaching school: its agreement to be linked into its sessions.
    await apiCall(admin, 'PUT', `/api/classrooms/${room.id}/audiences`, [demo.school_id]);
    people[side] = await person(`${side === 'a' ? '石门' : '河口'}教室终端${suffix}`, school.id, 'classroom_device');
  }
  const start = new Date();
  const session = await apiCall(people.teacher, 'POST', '/api/interactive', {
    title: '三年级数学：认识分数',
    main_classroom_id: rooms.main,
    remote_classroom_ids: [rooms.a, rooms.b],
    scheduled_start: start.toISOString(),
    scheduled_end: new Date(start.getTime() + 45 * 60 * 1000).toISOString(),
  });
  sessionId = session.id;
});

after(async () => {
  if (browser) await browser.close();
});

async function person(username, school, role) {
  await apiCall(admin, 'POST', '/api/users', { username, password: PASSWORD, school_id: school, roles: [{ role }] });
  return signIn(username, PASSWORD);
}

/** The session page as `who`, with its RTCPeerConnections kept in window.__peers. */
async function openSession(t, who) {
  const page = await openPage(browser, t, null, { cookie: who.cookie });
  await recordPeers(page);
  await page.goto(`${BASE}/#/interactive/${sessionId}`);
  return page;
}

/** The tile showing `classroom` decodes frames, and they advance. */
async function assertTilePlays(page, classroom, what) {
  const tile = `.live-tile[data-classroom="${classroom}"] video`;
  const frames = () => page.evaluate((sel) => {
    const v = document.querySelector(sel);
    return v ? v.getVideoPlaybackQuality().totalVideoFrames : -1;
  }, tile);
  await page.waitForFunction((sel) => {
    const v = document.querySelector(sel);
    return v && v.getVideoPlaybackQuality().totalVideoFrames > 0 && v.currentTime > 0;
  }, tile, { timeout: 40_000, polling: 250 }).catch(async (e) => {
    throw new Error(`${what}: no picture (${await frames()} frames; ${e.message})`);
  });
  const first = await frames();
  await page.waitForFunction(({ sel, n }) => document.querySelector(sel).getVideoPlaybackQuality().totalVideoFrames > n + 10, { sel: tile, n: first }, { timeout: 15_000, polling: 250 })
    .catch(async (e) => {
      throw new Error(`${what}: frames stalled at ${first} → ${await frames()} (${e.message})`);
    });
}

/** Audio packets keep arriving on some receiving connection of the page. */
async function assertSoundArrives(page, what) {
  const received = () => page.evaluate(async () => {
    let packets = 0;
    for (const pc of window.__peers) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') packets += s.packetsReceived;
      });
    }
    return packets;
  });
  const first = await received();
  await page.waitForFunction(async (n) => {
    let packets = 0;
    for (const pc of window.__peers) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') packets += s.packetsReceived;
      });
    }
    return packets > n + 20;
  }, first, { timeout: 10_000, polling: 250 }).catch(async (e) => {
    throw new Error(`${what}: no sound arriving (${first} → ${await received()}; ${e.message})`);
  });
}

async function send(page) {
  const controls = page.locator('.send');
  await controls.waitFor({ timeout: 15_000 });
  // 360p keeps three encoders and six decoders within this machine's two cores.
  await controls.locator('.size-select .el-select__wrapper').click();
  await page.locator('.el-select-dropdown:visible .el-select-dropdown__item', { hasText: '360p' }).first().click();
  await page.locator('.send .go-live').click();
  await page.waitForSelector('.send[data-sending="live"]', { timeout: 20_000 });
}

describe('an interactive session: one main and two remote classrooms', () => {
  test('everyone sees and hears whom they should; mute and speaking reach everyone', async (t) => {
    const teacher = await openSession(t, people.teacher);
    const a = await openSession(t, people.a);
    const b = await openSession(t, people.b);
    await teacher.locator('.interactive-page[data-state="scheduled"]').waitFor();
    await a.locator('.waiting').waitFor();

    await teacher.locator('.start-session').click();
    await teacher.locator('.interactive-page[data-state="live"]').waitFor({ timeout: 10_000 });
    // The remote classrooms follow by themselves and send their cameras back.
    await a.locator('.interactive-page[data-state="live"]').waitFor({ timeout: 10_000 });
    await send(a);
    await b.locator('.interactive-page[data-state="live"]').waitFor({ timeout: 10_000 });
    await send(b);

    await assertTilePlays(a, rooms.main, 'classroom A sees the teacher');
    await assertTilePlays(b, rooms.main, 'classroom B sees the teacher');
    await assertSoundArrives(a, 'classroom A hears the teacher');
    await assertTilePlays(teacher, rooms.main, "the teacher's outgoing picture");
    await assertTilePlays(teacher, rooms.a, 'the teacher sees classroom A');
    await assertTilePlays(teacher, rooms.b, 'the teacher sees classroom B');
    await assertSoundArrives(teacher, 'the teacher hears the remote classrooms');
    // Who is talking comes from the remote microphones' RFC 6464 levels
    // (Chromium's fake microphone beeps): the teacher's tile lights up.
    await teacher.waitForFunction((id) => document.querySelector(`.live-tile[data-classroom="${id}"]`).dataset.talking === 'yes', rooms.a, { timeout: 15_000, polling: 100 });
    // The remote pages show the teacher only: no tile for themselves or each other.
    assert.equal(await a.locator(`.live-tile[data-classroom="${rooms.b}"]`).count(), 0);
    await screenshot(teacher, 'interactive-teacher');
    await screenshot(a, 'interactive-remote');

    // Mute classroom A: its page says so and stops sending sound; the
    // teacher's tile for it is silent.
    await teacher.locator(`.live-tile[data-classroom="${rooms.a}"] .mute-button`).click();
    await a.locator('.muted-banner').waitFor({ timeout: 5000 });
    assert.equal(
      await a.evaluate(() => window.__peers.flatMap((pc) => pc.getSenders()).filter((s) => s.track && s.track.kind === 'audio').every((s) => !s.track.enabled)),
      true,
      "classroom A's microphone is off",
    );
    await teacher.waitForFunction((id) => {
      const tile = document.querySelector(`.live-tile[data-classroom="${id}"]`);
      return tile.dataset.muted === 'yes' && tile.querySelector('video').muted;
    }, rooms.a, { timeout: 5000 });
    const session = await apiCall(people.teacher, 'GET', `/api/interactive/${sessionId}`);
    assert.equal(session.participants.find((p) => p.classroom_id === rooms.a).muted, true);

    // Classroom B speaks: classroom A sees and hears it beside the teacher,
    // B is told, and the teacher's tile says who speaks.
    await teacher.locator(`.live-tile[data-classroom="${rooms.b}"] .speak-button`).click();
    await b.locator('.you-speak').waitFor({ timeout: 5000 });
    await a.locator(`.speaking-tile[data-classroom="${rooms.b}"]`).waitFor({ timeout: 5000 });
    await assertTilePlays(a, rooms.b, 'classroom A sees classroom B speak');
    assert.equal(await a.evaluate((id) => document.querySelector(`.live-tile[data-classroom="${id}"] video`).muted, rooms.b), false, 'and hears it');
    await teacher.locator(`.live-tile[data-classroom="${rooms.b}"] .speaking-flag`).waitFor();
    await screenshot(a, 'interactive-remote-speaking');

    // Unmute A; end the lesson: every page stops.
    await teacher.locator(`.live-tile[data-classroom="${rooms.a}"] .mute-button`).click();
    await a.locator('.muted-banner').waitFor({ state: 'detached', timeout: 5000 });
    await teacher.locator('.end-session').click();
    await teacher.locator('.el-message-box .el-button--primary').click();
    for (const page of [teacher, a, b]) await page.locator('.interactive-page[data-state="ended"]').waitFor({ timeout: 10_000 });
    assert.equal(await a.locator('.live-tile').count(), 0, 'no more pictures after the lesson');
    const ended = await apiCall(people.teacher, 'GET', `/api/interactive/${sessionId}`);
    const recorded = new Set(ended.recordings.map((r) => r.classroom_id));
    assert.ok(recorded.has(rooms.a) && recorded.has(rooms.b), `the remote classrooms' recordings are linked: ${JSON.stringify(ended.recordings)}`);
    await teacher.locator('.recording-tile').first().waitFor();
  });
});
