// Deleting a micro-lesson from "my lessons", in Chromium: a teacher's
// draft (with a task sheet attached) offers 删除, a lesson in review does
// not; cancelling the confirmation keeps it, confirming deletes it — the
// card goes, and the server no longer has the lesson or its attachment.
// Resource-center staff (here in English) delete even a lesson in review,
// and a published one from the library itself.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/lesson_delete.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, apiCall, launch, openPage, screenshot, signIn, until } from './lib.mjs';

const ADMIN = process.env.CLASSCAST_ADMIN;
const PASSWORD = process.env.CLASSCAST_ADMIN_PASSWORD;
const PW = 'lesson-delete-test-pw';
const tag = Date.now() % 100000;
const PDF = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');
let browser;
let admin;
let teacher;
let staff;
let body;
let reviewers;

async function person(username, school, roles) {
  await apiCall(admin, 'POST', '/api/users', { username, password: PW, school_id: school, roles });
  return signIn(username, PW);
}

/** A draft of `who`'s, submitted for review when `submit`; returns it. */
async function lesson(who, title, submit = false) {
  const made = await apiCall(who, 'POST', '/api/library/lessons', { ...body, title });
  if (submit) await apiCall(who, 'POST', `/api/library/lessons/${made.id}/submit`, {});
  return made;
}

/** The status the API answers `who` for the lesson. */
async function status(who, path) {
  const response = await fetch(`${BASE}${path}`, { headers: { cookie: who.cookie } });
  return response.status;
}

function card(page, lessonId) {
  return page.locator(`.lesson-card[data-lesson="${lessonId}"]`);
}

before(async () => {
  browser = await launch();
  admin = await signIn(ADMIN, PASSWORD);
  const school = await apiCall(admin, 'POST', '/api/schools', { name: `删除实验小学 ${tag}`, kind: 'campus' });
  const subjects = await apiCall(admin, 'GET', '/api/library/subjects');
  const grades = await apiCall(admin, 'GET', '/api/library/grades');
  body = { subject_id: subjects[0].id, grade_id: grades[0].id, school_id: school.id };
  teacher = await person(`del_teacher_${tag}`, school.id, [{ role: 'teacher' }]);
  staff = await person(`del_staff_${tag}`, school.id, [{ role: 'resource_staff' }]);
  reviewers = [
    await person(`del_group_${tag}`, school.id, [{ role: 'reviewer', review_level: 'teaching_group', subject_id: subjects[0].id }]),
    await person(`del_school_${tag}`, school.id, [{ role: 'reviewer', review_level: 'school' }]),
    await person(`del_center_${tag}`, school.id, [{ role: 'reviewer', review_level: 'resource_center' }]),
  ];
});

after(async () => {
  await browser?.close();
});

test('an author deletes a draft after confirming, and not a lesson in review', async (t) => {
  const draft = await lesson(teacher, `要删除的草稿 ${tag}`);
  const sheet = await fetch(`${BASE}/api/library/lessons/${draft.id}/attachments?kind=task_sheet&name=sheet.pdf`, {
    method: 'POST',
    headers: { cookie: teacher.cookie, 'x-csrf-token': teacher.csrf, 'content-type': 'application/octet-stream' },
    body: PDF,
  });
  assert.equal(sheet.status, 201);
  const attachment = `/api/library/lessons/${draft.id}/attachments/${(await sheet.json()).id}`;
  const reviewed = await lesson(teacher, `评审中的微课 ${tag}`, true);

  const page = await openPage(browser, t, '/#/library/mine', { cookie: teacher.cookie });
  await card(page, draft.id).waitFor();
  await card(page, reviewed.id).waitFor();
  assert.equal(await card(page, reviewed.id).locator('[data-test="delete-lesson"]').count(), 0, 'no 删除 on a lesson in review');
  const button = card(page, draft.id).getByRole('button', { name: '删除' });

  // Cancelled: nothing happens.
  await button.click();
  const box = page.locator('.el-message-box');
  await box.getByText(`删除微课《要删除的草稿 ${tag}》？`).waitFor();
  await screenshot(page, 'lesson-delete-confirm');
  await box.getByRole('button', { name: '取消' }).click();
  await box.waitFor({ state: 'hidden' });
  assert.equal(await status(teacher, `/api/library/lessons/${draft.id}`), 200);
  await card(page, draft.id).waitFor();

  // Confirmed: the card goes, and so does the lesson with its attachment.
  await button.click();
  await box.getByRole('button', { name: '删除' }).click();
  await page.getByText(`已删除微课《要删除的草稿 ${tag}》`).waitFor();
  await card(page, draft.id).waitFor({ state: 'detached' });
  assert.equal(await status(teacher, `/api/library/lessons/${draft.id}`), 404);
  assert.equal(await status(teacher, attachment), 404);
  await card(page, reviewed.id).waitFor();
  // Reloaded, it is still gone: the server's word, not the page's.
  await page.reload();
  await card(page, reviewed.id).waitFor();
  assert.equal(await card(page, draft.id).count(), 0);
  await screenshot(page, 'lesson-delete-done');
});

test('resource-center staff delete a lesson in review (in English)', async (t) => {
  const reviewed = await lesson(staff, `Lesson in review ${tag}`, true);
  const page = await openPage(browser, t, '/?lang=en#/library/mine', { cookie: staff.cookie });
  await card(page, reviewed.id).getByRole('button', { name: 'Delete' }).click();
  const box = page.locator('.el-message-box');
  await box.getByText(`Delete the micro-lesson “Lesson in review ${tag}”?`).waitFor();
  await box.getByRole('button', { name: 'Delete' }).click();
  await card(page, reviewed.id).waitFor({ state: 'detached' });
  await until('the lesson is gone on the server', async () => (await status(staff, `/api/library/lessons/${reviewed.id}`)) === 404);
});

test('staff delete a published lesson from the library', async (t) => {
  const published = await lesson(teacher, `已发布的微课 ${tag}`, true);
  for (const reviewer of reviewers) await apiCall(reviewer, 'POST', `/api/library/lessons/${published.id}/approve`, {});
  // Its author sees no 删除 for it in "my lessons" any more.
  const mine = await openPage(browser, t, '/#/library/mine', { cookie: teacher.cookie });
  await card(mine, published.id).waitFor();
  assert.equal(await card(mine, published.id).locator('[data-test="delete-lesson"]').count(), 0);
  // In the library, a viewer of the lesson sees no button; staff do.
  const browsing = await openPage(browser, t, '/#/library?sort=newest', { cookie: teacher.cookie });
  await card(browsing, published.id).waitFor();
  assert.equal(await card(browsing, published.id).locator('[data-test="delete-lesson"]').count(), 0);
  const library = await openPage(browser, t, '/#/library?sort=newest', { cookie: staff.cookie });
  await card(library, published.id).getByRole('button', { name: '删除' }).click();
  await library.locator('.el-message-box').getByRole('button', { name: '删除' }).click();
  await card(library, published.id).waitFor({ state: 'detached' });
  assert.equal(await status(staff, `/api/library/lessons/${published.id}`), 404);
  await screenshot(library, 'lesson-delete-library');
});
