// 专递课堂 in Chromium: one main classroom (the demo classroom, its
// teacher's page) and two remote classrooms at two partner schools, each
// on its classroom device account's page, all over WebRTC. Every
// participant decodes every picture it should; the remote classrooms'
// cameras (Chromium's fake devices) come back to the teacher; mute and
// "speaking" take effect for everyone; ending the session stops it all,
// the remote classrooms' cameras included. A tile the server refuses says
// why and asks no more; the teacher can end a session left past its slot.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/interactive.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, apiCall, launch, openPage, openTracks, recordMedia, recordPeers, screenshot, signIn, until } from './lib.mjs';

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

/** The session page as `who`, with its RTCPeerConnections and camera streams recorded (lib.mjs). */
async function openSession(t, who, { before = async () => {} } = {}) {
  const page = await openPage(browser, t, null, { cookie: who.cookie });
  await recordPeers(page);
  await recordMedia(page);
  await before(page);
  await page.goto(`${BASE}/#/interactive/${sessionId}`);
  return page;
}

/**
 * The teacher's page where the server refuses two pictures for good (the
 * main classroom 404, classroom A 403) and classroom B's fails for now
 * (500): the refusals are said once, the failure is tried again.
 */
async function assertRefusedTilesStop(t) {
  const answers = { [rooms.main]: 404, [rooms.a]: 403, [rooms.b]: 500 };
  const asked = { [rooms.main]: [], [rooms.a]: [], [rooms.b]: [] };
  const page = await openSession(t, people.teacher, {
    before: (p) => p.route(/\/api\/classrooms\/[^/]+\/playback$/, (route) => {
      const id = new URL(route.request().url()).pathname.split('/')[3];
      asked[id].push(Date.now());
      return route.fulfill({ status: answers[id], contentType: 'application/json', body: JSON.stringify({ error: { code: 'refused', message: 'refused' } }) });
    }),
  });
  await page.locator(`.live-tile[data-classroom="${rooms.a}"][data-refused="forbidden"]`).waitFor({ timeout: 10_000 });
  await page.locator(`.live-tile[data-classroom="${rooms.main}"][data-refused="not_found"]`).waitFor({ timeout: 10_000 });
  assert.match(await page.locator(`.live-tile[data-classroom="${rooms.a}"] .tile-overlay`).textContent(), /没有权限|no permission/);
  assert.match(await page.locator(`.live-tile[data-classroom="${rooms.main}"] .tile-overlay`).textContent(), /找不到|not found/);
  // The failing classroom's third try comes after two back-offs (2 s, then
  // longer): by then the refused ones would have been asked again too.
  await until('the failing classroom is tried a third time', () => asked[rooms.b].length >= 3, 20_000);
  assert.equal(asked[rooms.main].length, 1, 'a missing classroom is not asked for again');
  assert.equal(asked[rooms.a].length, 1, 'a forbidden classroom is not asked for again');
  assert.ok(asked[rooms.b].length >= 3, `a failing classroom is tried again (${asked[rooms.b].length} times)`);
  const gaps = asked[rooms.b].slice(1).map((at, i) => at - asked[rooms.b][i]);
  assert.ok(gaps.every((gap, i) => i === 0 || gap > gaps[i - 1]), `and less often each time: ${gaps.join(', ')} ms apart`);
  assert.match(await page.locator(`.live-tile[data-classroom="${rooms.b}"] .tile-overlay`).textContent(), /画面连接失败|could not connect/);
  await screenshot(page, 'interactive-refused-tiles');
  await page.context().close();
}

/**
 * Past its slot and the hour's overrun the server answers a session
 * nobody ended as `ended`, though it was never ended (no ended_at): its
 * teacher still gets the End button. That answer is made here from the
 * live one rather than waited for.
 */
async function assertOverrunCanBeEnded(t) {
  const page = await openSession(t, people.teacher, {
    before: (p) => p.route((url) => url.pathname === `/api/interactive/${sessionId}`, async (route) => {
      const response = await route.fetch();
      const session = await response.json();
      assert.ok(session.started_at && !session.ended_at, 'the session is started and not ended');
      await route.fulfill({ response, json: { ...session, state: 'ended', recordings: [] } });
    }),
  });
  await page.locator('.interactive-page[data-state="ended"]').waitFor({ timeout: 10_000 });
  await page.locator('.end-session').waitFor({ timeout: 5000 });
  await page.context().close();
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
    await assertRefusedTilesStop(t);
    await assertOverrunCanBeEnded(t);

    // Unmute A; end the lesson: every page stops.
    await teacher.locator(`.live-tile[data-classroom="${rooms.a}"] .mute-button`).click();
    await a.locator('.muted-banner').waitFor({ state: 'detached', timeout: 5000 });
    await teacher.locator('.end-session').click();
    await teacher.locator('.el-message-box .el-button--primary').click();
    for (const page of [teacher, a, b]) await page.locator('.interactive-page[data-state="ended"]').waitFor({ timeout: 10_000 });
    assert.equal(await a.locator('.live-tile').count(), 0, 'no more pictures after the lesson');
    // The remote classrooms' cameras and microphones are let go, not only no longer sent.
    for (const [name, page] of [['A', a], ['B', b]]) {
      await page.waitForFunction(() => window.__media.length > 0 && window.__media.every((s) => s.getTracks().every((t) => t.readyState === 'ended')), null, { timeout: 5000 })
        .catch(async () => assert.deepEqual(await openTracks(page), [], `classroom ${name}'s camera and microphone are closed`));
    }
    // Every classroom's recording is linked (the group's admin sees them all);
    // the teacher is shown those they may play, and only those.
    const ended = await apiCall(admin, 'GET', `/api/interactive/${sessionId}`);
    const recorded = new Set(ended.recordings.map((r) => r.classroom_id));
    assert.ok(recorded.has(rooms.a) && recorded.has(rooms.b), `the remote classrooms' recordings are linked: ${JSON.stringify(ended.recordings)}`);
    const shown = (await apiCall(people.teacher, 'GET', `/api/interactive/${sessionId}`)).recordings;
    for (const r of shown) await apiCall(people.teacher, 'GET', `/api/recordings/${r.recording_id}/playback`);
    assert.ok(!shown.some((r) => r.classroom_id === rooms.a || r.classroom_id === rooms.b), 'not the partner schools\' recordings: they were not shared');
    await until('the page shows the playable recordings', async () => (await teacher.locator('.recording-tile').count()) === shown.length);
  });
});
