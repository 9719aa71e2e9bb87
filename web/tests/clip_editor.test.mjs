// Cutting a micro-lesson out of a classroom recording (剪辑微课, #11), in
// Chromium: a teacher opens their recording, takes the start and end from
// the player ("设为起点" / "设为终点" at moments the video was sought to),
// corrects the end by typing it, previews the start, and makes the lesson;
// its page shows it processing, then plays it, frames advancing, as long
// as the chosen span, and links back to the recording. An end before the
// start, or a span under a second, is refused next to the end and makes no
// lesson; a reviewer, who may watch the recording but not draft lessons,
// gets no editor.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/clip_editor.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiCall, assertPlaying, choose, launch, openPage, screenshot, signIn, until } from './lib.mjs';

const DEMO_NAME = '演示教室 / Demo classroom';
const PW = 'clip-editor-test-pw';
// The span the teacher ends up choosing: 00:02.0 to 00:05.5.
const SPAN = 3.5;
const tag = Date.now() % 100000;
let browser;
let admin;
let teacher;
let reviewer;
let recording;
let math;
let grade;

/** The text input marked data-test=`name` (Element Plus puts the attribute on its wrapper). */
function field(within, name) {
  return within.locator(`[data-test="${name}"]`).locator('xpath=descendant-or-self::input').first();
}

/** Pauses the recording's player at `seconds`, once the seek has landed. */
function seekTo(page, seconds) {
  return page.evaluate(
    (to) =>
      new Promise((resolve) => {
        const video = document.getElementById('player');
        video.pause();
        video.addEventListener('seeked', () => resolve(video.currentTime), { once: true });
        video.currentTime = to;
      }),
    seconds,
  );
}

/** "00:04" or "1:02:03" → seconds. */
function seconds(text) {
  const match = /(?:(\d+):)?(\d+):(\d+)/.exec(text);
  assert.ok(match, `a duration in ${JSON.stringify(text)}`);
  return Number(match[1] || 0) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

before(async () => {
  browser = await launch();
  admin = await signIn(process.env.CLASSCAST_ADMIN, process.env.CLASSCAST_ADMIN_PASSWORD);
  const demo = await until('the demo classroom', async () => (await apiCall(admin, 'GET', '/api/classrooms')).find((c) => c.name === DEMO_NAME));
  const user = await apiCall(admin, 'POST', '/api/users', { username: `clip_teacher_${tag}`, display_name: '王老师', password: PW, school_id: demo.school_id, roles: [{ role: 'teacher' }] });
  await apiCall(admin, 'POST', '/api/users', { username: `clip_reviewer_${tag}`, password: PW, school_id: demo.school_id, roles: [{ role: 'reviewer', review_level: 'school' }] });
  math = (await apiCall(admin, 'GET', '/api/library/subjects')).find((s) => s.code === 'math');
  grade = (await apiCall(admin, 'GET', '/api/library/grades')).find((g) => g.code === 'g5');
  teacher = await signIn(user.username, PW);
  reviewer = await signIn(`clip_reviewer_${tag}`, PW);
  // The teacher's own lesson: a classroom they teach in, its test
  // pattern recorded for 10 s and then switched off.
  const room = await apiCall(admin, 'POST', '/api/classrooms', { name: `剪辑测试 ${tag}`, school_id: demo.school_id, ladder_heights: [] });
  await apiCall(admin, 'PATCH', `/api/classrooms/${room.id}`, { teacher_id: user.id });
  const source = await apiCall(admin, 'POST', `/api/classrooms/${room.id}/sources`, { kind: 'test' });
  await until('10 s recorded', async () => (await apiCall(admin, 'GET', `/api/recordings?classroom_id=${room.id}`)).find((r) => r.duration_ms >= 10_000), 60_000);
  await apiCall(admin, 'PATCH', `/api/classrooms/${room.id}/sources/${source.id}`, { enabled: false });
  recording = await until('the recording finished', async () => (await apiCall(admin, 'GET', `/api/recordings?classroom_id=${room.id}`)).find((r) => r.status === 'complete'), 60_000);
});

after(async () => {
  await browser?.close();
});

/** The teacher on the recording's page, its player with the recording loaded. */
async function openRecording(t) {
  const page = await openPage(browser, t, `/#/recording/${recording.id}`, { cookie: teacher.cookie });
  await page.locator('[data-test="clip-editor"]').waitFor();
  await page.waitForFunction(() => {
    const video = document.getElementById('player');
    return video && video.readyState >= 1 && video.duration >= 9;
  }, null, { timeout: 30_000, polling: 250 });
  return page;
}

test('a teacher cuts a micro-lesson from a recording, and it plays as long as the span', { timeout: 480_000 }, async (t) => {
  const page = await openRecording(t);
  const editor = page.locator('[data-test="clip-editor"]');
  assert.equal(await field(editor, 'clip-title').inputValue(), recording.title, 'the title starts as the recording\'s');

  // Start and end from the player, where the video was sought to.
  await seekTo(page, 2);
  await editor.locator('[data-test="clip-set-start"]').click();
  assert.equal(await field(editor, 'clip-start').inputValue(), '00:02.0');
  await seekTo(page, 6);
  await editor.locator('[data-test="clip-set-end"]').click();
  assert.equal(await field(editor, 'clip-end').inputValue(), '00:06.0');
  assert.equal((await editor.locator('[data-test="clip-length"]').textContent()).trim(), '00:04.0');
  // The end typed over (a short span: the ladder's work is per second):
  // the length and the bar follow.
  await field(editor, 'clip-end').fill('0:05.5');
  assert.equal((await editor.locator('[data-test="clip-length"]').textContent()).trim(), '00:03.5');
  const bar = await editor.locator('[data-test="clip-bar"]').boundingBox();
  const span = await editor.locator('[data-test="clip-span"]').boundingBox();
  const total = await page.evaluate(() => document.getElementById('player').duration);
  assert.ok(Math.abs((span.x - bar.x) / bar.width - 2 / total) < 0.02, `the span starts at 2 s of ${total} s on the bar`);
  assert.ok(Math.abs(span.width / bar.width - SPAN / total) < 0.02, `the span is ${SPAN} s of ${total} s on the bar`);

  // 预览起点 takes the player back to the start.
  await seekTo(page, 8);
  const sought = page.evaluate(() => new Promise((resolve) => document.getElementById('player').addEventListener('seeked', (e) => resolve(e.target.currentTime), { once: true })));
  await editor.locator('[data-test="clip-preview"]').click();
  assert.ok(Math.abs((await sought) - 2) < 0.05, 'preview seeks to the start');

  const title = `分数的意义（片段）${tag}`;
  await field(editor, 'clip-title').fill(title);
  await choose(page, editor, '学科', math.name);
  await choose(page, editor, '年级', grade.name);
  await screenshot(page, 'clip-editor');
  await editor.locator('[data-test="clip-make"]').click();
  await page.waitForURL(/#\/library\/lessons\/[0-9a-f-]+$/);
  const lessonId = page.url().split('/').pop();

  // The page says which stretch of which recording it was cut from.
  const source = page.locator('[data-test="lesson-source"]');
  assert.equal((await source.textContent()).trim(), '剪辑自录像 00:02–00:05');
  assert.equal(await source.locator('a').getAttribute('href'), `#/recording/${recording.id}`);

  // Processed (the page follows it), then played: frames advancing, as
  // long as the span on the page and in the player.
  await page.locator('[data-media="processing"], #player').first().waitFor();
  await screenshot(page, 'clip-lesson-processing');
  await page.locator('#player').waitFor({ timeout: 360_000 });
  await assertPlaying(page);
  const shown = seconds(await page.locator('.meta-item', { hasText: '时长' }).textContent());
  assert.ok(Math.abs(shown - SPAN) <= 1, `the page says the lesson lasts ${shown} s, the span is ${SPAN} s`);
  const played = await page.evaluate(() => document.getElementById('player').duration);
  assert.ok(Math.abs(played - SPAN) <= 1, `the player's video lasts ${played} s, the span is ${SPAN} s`);
  await screenshot(page, 'clip-lesson');

  // And the server made a draft of exactly that stretch.
  const made = await apiCall(teacher, 'GET', `/api/library/lessons/${lessonId}`);
  assert.equal(made.title, title);
  assert.equal(made.state, 'draft');
  assert.deepEqual([made.subject.id, made.grade.id], [math.id, grade.id]);
  assert.deepEqual(made.source_recording, { recording_id: recording.id, start_seconds: 2, end_seconds: 5.5 });
});

test('an end before the start, or a span under a second, is refused next to the end; no lesson is made', { timeout: 120_000 }, async (t) => {
  const page = await openRecording(t);
  const editor = page.locator('[data-test="clip-editor"]');
  const endError = editor.locator('[data-test="clip-end-item"] .el-form-item__error');
  const posts = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/clips')) posts.push(r.url());
  });
  const title = `倒过来的片段 ${tag}`;
  await field(editor, 'clip-title').fill(title);
  await choose(page, editor, '学科', math.name);
  await choose(page, editor, '年级', grade.name);

  // Backwards: said by the editor, nothing sent.
  await field(editor, 'clip-start').fill('0:06');
  await field(editor, 'clip-end').fill('0:03');
  await editor.locator('[data-test="clip-make"]').click();
  await endError.waitFor();
  assert.equal((await endError.textContent()).trim(), '终点须在起点之后');
  assert.deepEqual(posts, [], 'nothing sent');

  // Half a second: the server's reason, next to the end.
  await field(editor, 'clip-start').fill('0:03');
  await field(editor, 'clip-end').fill('0:03.5');
  await endError.waitFor({ state: 'detached' });
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/recordings/${recording.id}/clips`) && r.request().method() === 'POST'),
    editor.locator('[data-test="clip-make"]').click(),
  ]);
  assert.equal(response.status(), 422);
  const reason = (await response.json()).error.fields.end_seconds;
  assert.ok(reason && !/^field\./.test(reason), `the server says why in words: ${reason}`);
  await until('the reason next to the end', async () => ((await endError.textContent().catch(() => '')) || '').trim() === reason);
  assert.equal(await editor.locator('[data-test="clip-make"]').isEnabled(), true, 'ready to try again');
  await screenshot(page, 'clip-editor-refused');

  assert.match(page.url(), new RegExp(`#/recording/${recording.id}$`), 'still on the recording');
  const mine = await apiCall(teacher, 'GET', '/api/library/lessons?mine=true&limit=100');
  assert.deepEqual(mine.items.filter((l) => l.title === title), [], 'no lesson made');
});

test('a reviewer watches the recording but is offered no clip editor', async (t) => {
  const page = await openPage(browser, t, `/#/recording/${recording.id}`, { cookie: reviewer.cookie });
  await page.locator('h1', { hasText: recording.title }).waitFor();
  await page.locator('#player').waitFor();
  assert.equal(await page.locator('[data-test="clip-editor"]').count(), 0);
});
