// The micro-lesson library as its people use it, in Chromium: a teacher
// drafts a lesson and uploads its video on the lesson page (progress
// shown; the network cut halfway and the page reloaded, choosing the file
// again resumes from the server's offset, not from zero), the video is
// processed and plays with frames advancing at 1.5×; its textbook
// edition, chapter and series and two chapters within the video are added
// in its edit dialog, shown on the page, and choosing the second chapter
// plays from there; submitted, the
// 教研组 reviewer sees it counted in the header and approves it from the
// queue, the school reviewer sends it back with a comment, the teacher
// resubmits, every level approves, and a viewer of the school finds it by
// searching 分数, the match marked, and downloads the task sheet (PDF) the
// teacher attached; the resource center sees the view
// counted in the statistics and exports them as CSV.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/library.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { apiCall, assertPlaying, choose, launch, openPage, screenshot, signIn, until } from './lib.mjs';

const ADMIN = process.env.CLASSCAST_ADMIN;
const PASSWORD = process.env.CLASSCAST_ADMIN_PASSWORD;
const PW = 'library-test-pw';
const CHUNK = 8 * 1024 * 1024;
const tag = Date.now() % 100000;
// A one-page PDF, as small as a reader accepts (offsets in the xref).
const PDF = (() => {
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>', '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>'];
  let text = '%PDF-1.4\n';
  const offsets = objects.map((object, i) => {
    const at = text.length;
    text += `${i + 1} 0 obj\n${object}\nendobj\n`;
    return at;
  });
  const xref = text.length;
  text += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  return Buffer.from(`${text}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
})();
let browser;
let admin;
let people;
let video;
let math;
let grade;

/** The text input marked data-test=`name` (Element Plus puts the attribute on the input itself). */
function field(within, name) {
  return within.locator(`[data-test="${name}"]`).locator('xpath=descendant-or-self::input').first();
}

async function person(username, school, roles) {
  await apiCall(admin, 'POST', '/api/users', { username, password: PW, school_id: school, roles });
  return signIn(username, PW);
}

before(async () => {
  browser = await launch();
  admin = await signIn(ADMIN, PASSWORD);
  const school = await apiCall(admin, 'POST', '/api/schools', { name: `微课实验小学 ${tag}`, kind: 'campus' });
  const subjects = await apiCall(admin, 'GET', '/api/library/subjects');
  math = subjects.find((s) => s.code === 'math');
  grade = (await apiCall(admin, 'GET', '/api/library/grades')).find((g) => g.code === 'g5');
  people = {
    teacher: await person(`wk_teacher_${tag}`, school.id, [{ role: 'teacher' }]),
    group: await person(`wk_group_${tag}`, school.id, [{ role: 'reviewer', review_level: 'teaching_group', subject_id: math.id }]),
    school: await person(`wk_school_${tag}`, school.id, [{ role: 'reviewer', review_level: 'school' }]),
    center: await person(`wk_center_${tag}`, school.id, [{ role: 'reviewer', review_level: 'resource_center' }]),
    viewer: await person(`wk_viewer_${tag}`, school.id, [{ role: 'viewer' }]),
    staff: await person(`wk_staff_${tag}`, school.id, [{ role: 'resource_staff' }]),
  };
  // Nearly incompressible frames (lossless x264 on noise): over two
  // upload chunks in 2 s, so the cut can fall between them.
  video = join(mkdtempSync(join(tmpdir(), 'classcast-library-')), '分数的加减法.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25,noise=alls=60:allf=t',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '2.5',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-movflags', '+faststart', video]);
  assert.ok(statSync(video).size > 2 * CHUNK, `test video is ${statSync(video).size} bytes`);
});

after(async () => {
  await browser?.close();
});

test('a teacher uploads a lesson, it is reviewed at three levels, and a viewer finds it', async (t) => {
  // Draft from "my lessons".
  const page = await openPage(browser, t, '/#/library/mine', { cookie: people.teacher.cookie });
  await page.getByRole('button', { name: '新建微课' }).click();
  const dialog = page.getByRole('dialog');
  await field(dialog, 'lesson-title').fill('认识分数的加减法');
  await choose(page, dialog, '学科', math.name);
  await choose(page, dialog, '年级', grade.name);
  await dialog.getByRole('button', { name: '创建并上传视频' }).click();
  await page.waitForURL(/#\/library\/lessons\//);
  const lessonId = page.url().split('/').pop();
  await page.getByText('这节微课还没有视频。').waitFor();

  // The upload: the first chunk goes through, then the network drops.
  let patches = 0;
  await page.route('**/api/uploads/*', (route) => {
    if (route.request().method() !== 'PATCH') return route.continue();
    patches += 1;
    return patches === 1 ? route.continue() : route.abort('internetdisconnected');
  });
  await page.locator('[data-test="upload-input"]').setInputFiles(video);
  await page.locator('.upload-progress').waitFor();
  await until('the first chunk stored and the second refused', async () => patches >= 2);
  await screenshot(page, 'library-upload-cut');

  // Reload (the network is back) and choose the same file: it resumes
  // from the chunk the server kept.
  // (Reloaded first: a retry of the old page must not slip through.)
  await page.reload();
  await page.unroute('**/api/uploads/*');
  const offsets = [];
  page.on('request', (request) => {
    if (request.method() === 'PATCH' && request.url().includes('/api/uploads/')) offsets.push(Number(request.headers()['upload-offset']));
  });
  await page.locator('[data-test="upload-input"]').setInputFiles(video);
  await page.getByText('从上次中断处继续上传').waitFor();
  await page.locator('[data-media="processing"], #player').first().waitFor({ timeout: 60_000 });
  assert.equal(offsets[0], CHUNK, `the resumed upload starts at the kept chunk: ${offsets}`);
  await screenshot(page, 'library-processing');

  // Processed and playing, at 1.5×.
  await page.locator('#player').waitFor({ timeout: 120_000 });
  await assertPlaying(page);
  await choose(page, page, '倍速', '1.5×');
  assert.equal(await page.evaluate(() => document.getElementById('player').playbackRate), 1.5);
  await screenshot(page, 'library-lesson');

  // Its details, edited on its page: the textbook edition, chapter and
  // series are shown, each leading to the library filtered by it; and two
  // chapters within the video, listed beside it, the second a place to
  // play from and marked as playing once the video is there.
  const edition = (await apiCall(admin, 'GET', '/api/library/editions')).find((e) => e.code === 'pep');
  await page.locator('[data-test="edit-lesson"]').click();
  const edit = page.getByRole('dialog');
  await choose(page, edit, '教材版本', edition.name);
  await field(edit, 'lesson-chapter').fill('第三单元 分数');
  await field(edit, 'lesson-series').fill('七彩假日课程');
  await edit.locator('[data-test="chapter-add"]').click();
  await edit.locator('[data-test="chapter-add"]').click();
  const rows = edit.locator('[data-test="chapter-row"]');
  await field(rows.nth(0), 'chapter-time').fill('0:00');
  await field(rows.nth(0), 'chapter-title').fill('导入');
  await field(rows.nth(1), 'chapter-time').fill('0:01.5');
  await field(rows.nth(1), 'chapter-title').fill('新授：同分母分数相加');
  await edit.getByRole('button', { name: '保存' }).click();
  await edit.waitFor({ state: 'hidden' });
  const listed = page.locator('[data-test="video-chapter"]');
  await until('both chapters listed', async () => (await listed.count()) === 2);
  assert.match(await listed.nth(0).textContent(), /0:00\s*导入/);
  assert.match(await listed.nth(1).textContent(), /0:01\.5\s*新授：同分母分数相加/);
  const textbook = page.locator('[data-test="lesson-textbook"]');
  assert.match(await textbook.locator('[data-test="lesson-edition"]').textContent(), /教材版本\s*人教版/);
  assert.match(await textbook.locator('[data-test="lesson-series"]').textContent(), /系列课程\s*七彩假日课程/);
  assert.match(await textbook.locator('[data-test="lesson-chapter"]').textContent(), /教材章节\s*第三单元 分数/);
  assert.equal(await textbook.locator('[data-test="lesson-edition"] a').getAttribute('href'), `#/library?edition=${edition.id}`);
  assert.equal(await textbook.locator('[data-test="lesson-series"] a').getAttribute('href'), `#/library?series=${encodeURIComponent('七彩假日课程')}`);
  // Paused in the first chapter, so only the click can move it.
  await page.evaluate(async () => {
    const player = document.getElementById('player');
    player.pause();
    await new Promise((resolve) => {
      player.addEventListener('seeked', resolve, { once: true });
      player.currentTime = 0.2;
    });
    window.seeks = [];
    player.addEventListener('seeking', () => window.seeks.push(player.currentTime));
  });
  await until('the first chapter marked', async () => (await listed.nth(0).getAttribute('aria-current')) === 'true');
  await listed.nth(1).locator('button').click();
  const seeks = await until('the video sought', async () => {
    const s = await page.evaluate(() => window.seeks);
    return s.length ? s : false;
  });
  assert.ok(Math.abs(seeks[0] - 1.5) < 0.05, `sought to ${seeks}`);
  assert.ok((await page.evaluate(() => document.getElementById('player').currentTime)) >= 1.45);
  await until('the second chapter marked', async () => (await listed.nth(1).getAttribute('aria-current')) === 'true');
  assert.equal(await listed.nth(0).getAttribute('aria-current'), null);
  await screenshot(page, 'library-chapters');

  // Its practice questions as a PDF: listed with kind and name once the
  // server has typed it, and downloaded as the very same bytes.
  const sheet = join(dirname(video), '检测习题.pdf');
  writeFileSync(sheet, PDF);
  await choose(page, page, '类型', '检测习题');
  await page.locator('[data-test="attachment-input"]').setInputFiles(sheet);
  const attachment = page.locator('[data-test="attachments"] .el-table__row', { hasText: '检测习题.pdf' });
  await attachment.waitFor();
  assert.match(await attachment.textContent(), /检测习题\s*检测习题\.pdf/);
  const [download] = await Promise.all([page.waitForEvent('download'), attachment.locator('[data-test="attachment-link"]').click()]);
  assert.equal(download.suggestedFilename(), '检测习题.pdf');
  assert.deepEqual(readFileSync(await download.path()), PDF);
  await screenshot(page, 'library-attachments');
  await page.getByRole('button', { name: '提交评审' }).click();
  await page.locator('.lesson-state[data-state="review_teaching_group"]').waitFor();

  // The 教研组 reviewer: counted in the header, approved from the queue.
  const group = await openPage(browser, t, '/#/library', { cookie: people.group.cookie });
  await until('the queue count in the header', async () => (await group.locator('[data-test="queue-count"]').textContent().catch(() => '')) === '1');
  await group.locator('[data-test="queue-count"]').click();
  await group.waitForURL(/#\/library\/queue/);
  await group.locator(`[data-lesson="${lessonId}"] a`).click();
  await group.getByRole('button', { name: '通过' }).click();
  await group.locator('.lesson-state[data-state="review_school"]').waitFor();

  // The school sends it back, saying why; the teacher resubmits.
  const school = await openPage(browser, t, `/#/library/lessons/${lessonId}`, { cookie: people.school.cookie });
  await school.getByLabel('评审意见（退回时必填）').fill('请补充课堂练习');
  await school.getByRole('button', { name: '退回修改' }).click();
  await school.locator('.lesson-state[data-state="rejected"]').waitFor();
  await page.reload();
  await page.getByText('请补充课堂练习').waitFor();
  await page.getByRole('button', { name: '提交评审' }).click();
  await page.locator('.lesson-state[data-state="review_teaching_group"]').waitFor();
  for (const who of ['group', 'school', 'center']) {
    await apiCall(people[who], 'POST', `/api/library/lessons/${lessonId}/approve`, {});
  }

  // A viewer of the school finds it by a word inside the title.
  const viewer = await openPage(browser, t, '/#/library', { cookie: people.viewer.cookie });
  await field(viewer, 'library-q').fill('分数');
  await viewer.getByRole('button', { name: '搜索', exact: true }).click();
  const hit = viewer.locator(`[data-lesson="${lessonId}"]`);
  await hit.waitFor();
  assert.equal(await hit.locator('mark').first().textContent(), '分数');
  await screenshot(viewer, 'library-search');
  await hit.locator('a').click();
  await viewer.locator('.review-steps li').nth(5).waitFor();
  await assertPlaying(viewer);
  // The viewer sees the attachment, and may not change it.
  const viewed = viewer.locator('[data-test="attachments"] .el-table__row', { hasText: '检测习题.pdf' });
  await viewed.waitFor();
  assert.equal(await viewer.locator('[data-test="attachment-input"], [data-test="attachment-delete"]').count(), 0);
  const href = await viewed.locator('[data-test="attachment-link"]').getAttribute('href');
  const got = await fetch(`${process.env.CLASSCAST_URL}${href}`, { headers: { cookie: people.viewer.cookie } });
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'application/pdf');
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), PDF);

  // The resource center sees the viewer's view in the statistics, and can
  // take them away as CSV.
  const staff = await openPage(browser, t, '/#/library', { cookie: people.staff.cookie });
  await staff.getByRole('link', { name: '观看统计' }).click();
  await staff.waitForURL(/#\/library\/stats/, { timeout: 10_000 });
  const row = staff.locator('.el-table__row', { hasText: '认识分数的加减法' });
  await row.first().waitFor({ timeout: 20_000 });
  assert.match(await row.textContent(), /认识分数的加减法\s*[1-9]/);
  const csv = await staff.locator('[data-test="stats-csv"]').getAttribute('href');
  const response = await fetch(`${process.env.CLASSCAST_URL}${csv}`, { headers: { cookie: people.staff.cookie } });
  assert.equal(response.status, 200);
  assert.match(await response.text(), /认识分数的加减法/);
  await screenshot(staff, 'library-stats');
});
