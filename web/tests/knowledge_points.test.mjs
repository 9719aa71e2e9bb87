// The knowledge-point list (知识点库) as its people use it, in Chromium:
// the subject's 教研组 reviewer builds a branch (a point, a child under
// it, renamed), imports a CSV whose one bad line is named and nothing
// made, then the fixed file; a delete in the way of children or lessons
// says which; a teacher files a new lesson under the point from the
// lesson form's tree; once published, a plain viewer finds it by
// clicking the point (counted there) and sees no editing controls; the
// library's filters (edition, chapter, series, point) narrow the list,
// live in the address and survive a reload; on a phone nothing is wider
// than the screen.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/knowledge_points.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PHONE, apiCall, assertNoSidewaysScroll, choose, launch, openPage, screenshot, signIn, until } from './lib.mjs';

const ADMIN = process.env.CLASSCAST_ADMIN;
const PASSWORD = process.env.CLASSCAST_ADMIN_PASSWORD;
const PW = 'points-test-pw';
const tag = Date.now() % 100000;
const ROOT = `数与代数${tag}`;
const CHILD = `分数${tag}`;
const RENAMED = `分数的意义${tag}`;
let browser;
let admin;
let people;
let math;
let grade;
let edition;

/** The text input marked data-test=`name` (Element Plus puts the attribute on the input itself). */
function field(within, name) {
  return within.locator(`[data-test="${name}"]`).locator('xpath=descendant-or-self::input').first();
}

async function person(username, school, roles) {
  await apiCall(admin, 'POST', '/api/users', { username, password: PW, school_id: school, roles });
  return signIn(username, PW);
}

function treePath() {
  return `/api/library/knowledge-points?subject_id=${math.id}&grade_id=${grade.id}`;
}

/** Every point of the tree as {name → node}. */
async function points() {
  const all = {};
  const walk = (nodes) => nodes.forEach((n) => ((all[n.name] = n), walk(n.children)));
  walk(await apiCall(admin, 'GET', treePath()));
  return all;
}

/** The tree row of the point named `name`. */
function node(page, name) {
  return page.locator('.points-tree .point-node', { has: page.locator('.point-name', { hasText: new RegExp(`^${name}$`) }) });
}

/** Picks `name` in the knowledge-point tree-select labelled `label`, typing it to find it in the collapsed tree. */
async function pickPoint(page, within, label, name) {
  await within.getByLabel(label, { exact: true }).locator('xpath=ancestor::div[contains(@class, "el-select__wrapper")][1]').click();
  await page.keyboard.type(name);
  await page.locator('.el-tree-select__popper:visible .el-tree-node__content', { hasText: name }).first().click();
}

async function publish(lessonId) {
  await apiCall(people.teacher, 'POST', `/api/library/lessons/${lessonId}/submit`, {});
  for (const who of ['group', 'school', 'center']) {
    await apiCall(people[who], 'POST', `/api/library/lessons/${lessonId}/approve`, {});
  }
}

before(async () => {
  browser = await launch();
  admin = await signIn(ADMIN, PASSWORD);
  const school = await apiCall(admin, 'POST', '/api/schools', { name: `知识点实验小学 ${tag}`, kind: 'campus' });
  math = (await apiCall(admin, 'GET', '/api/library/subjects')).find((s) => s.code === 'math');
  // A grade the other library tests leave alone, so this tree is ours.
  grade = (await apiCall(admin, 'GET', '/api/library/grades')).find((g) => g.code === 'g3');
  edition = (await apiCall(admin, 'GET', '/api/library/editions'))[0];
  assert.ok(math && grade && edition, 'seeded subject, grade and edition');
  people = {
    teacher: await person(`kp_teacher_${tag}`, school.id, [{ role: 'teacher' }]),
    group: await person(`kp_group_${tag}`, school.id, [{ role: 'reviewer', review_level: 'teaching_group', subject_id: math.id }]),
    school: await person(`kp_school_${tag}`, school.id, [{ role: 'reviewer', review_level: 'school' }]),
    center: await person(`kp_center_${tag}`, school.id, [{ role: 'reviewer', review_level: 'resource_center' }]),
    viewer: await person(`kp_viewer_${tag}`, school.id, [{ role: 'viewer' }]),
  };
});

after(async () => {
  await browser?.close();
});

test('the 教研组 builds the tree, a teacher files a lesson under a point, a viewer finds it there and in the filters', async (t) => {
  // The 教研组 reviewer: a top-level point, a child under it, renamed.
  const editor = await openPage(browser, t, `/#/library/points?subject=${math.id}&grade=${grade.id}`, { cookie: people.group.cookie });
  await editor.getByText('这个学科和年级还没有知识点').waitFor();
  await editor.getByRole('button', { name: '添加一级知识点' }).click();
  let dialog = editor.getByRole('dialog');
  await field(dialog, 'point-name').fill(ROOT);
  await dialog.getByRole('button', { name: '保存' }).click();
  await node(editor, ROOT).waitFor();
  await node(editor, ROOT).getByRole('button', { name: '添加下级知识点' }).click();
  dialog = editor.getByRole('dialog', { name: `在“${ROOT}”下添加知识点` });
  await field(dialog, 'point-name').fill(CHILD);
  await dialog.getByRole('button', { name: '保存' }).click();
  await node(editor, CHILD).waitFor();
  await node(editor, CHILD).getByRole('button', { name: '重命名' }).click();
  dialog = editor.getByRole('dialog', { name: '重命名' });
  await field(dialog, 'point-name').fill(RENAMED);
  await dialog.getByRole('button', { name: '保存' }).click();
  await node(editor, RENAMED).waitFor();
  assert.equal(await node(editor, CHILD).count(), 0, 'the old name is gone');
  let tree = await points();
  assert.equal(tree[RENAMED].parent_id, tree[ROOT].id, 'the renamed point stays under its parent');
  await screenshot(editor, 'points-editor');

  // A CSV with a gap in its second line: that line is named, nothing is made.
  await editor.getByRole('button', { name: '导入 CSV' }).click();
  dialog = editor.getByRole('dialog', { name: '导入 CSV' });
  const csv = (text) => ({ name: '知识点.csv', mimeType: 'text/csv', buffer: Buffer.from(text) });
  await dialog.locator('input[type=file]').setInputFiles(csv(`${ROOT},小数${tag}\n图形与几何${tag},,三角形${tag}\n${ROOT},${RENAMED},同分母分数加法${tag}\n`));
  await dialog.getByRole('button', { name: '导入', exact: true }).click();
  const errors = dialog.locator('[data-test="import-errors"]');
  await errors.waitFor();
  assert.match(await errors.textContent(), /有 1 行有误/);
  assert.deepEqual(await errors.locator('li').evaluateAll((items) => items.map((li) => li.dataset.line)), ['2']);
  assert.match(await errors.locator('li').first().textContent(), /^第 2 行：.*知识点名称/);
  await screenshot(editor, 'points-import-refused');
  assert.equal((await points())[`小数${tag}`], undefined, 'a refused file makes nothing');
  // Fixed, it goes in whole.
  await dialog.locator('input[type=file]').setInputFiles(csv(`${ROOT},小数${tag}\n图形与几何${tag},三角形${tag}\n${ROOT},${RENAMED},同分母分数加法${tag}\n`));
  await dialog.getByRole('button', { name: '导入', exact: true }).click();
  await dialog.locator('[data-test="import-done"]').getByText('新建 4 个知识点，0 个原已存在').waitFor();
  await dialog.getByRole('button', { name: '关闭', exact: true }).click();
  await node(editor, `同分母分数加法${tag}`).waitFor();

  // A delete in the way of children says so; a leaf goes.
  await node(editor, ROOT).getByRole('button', { name: '删除知识点' }).click();
  await editor.locator('.el-message-box').getByRole('button', { name: '删除知识点' }).click();
  await editor.locator('[data-test="point-error"]').getByText(`无法删除“${ROOT}”：该知识点下还有子知识点`).waitFor();
  await node(editor, `三角形${tag}`).getByRole('button', { name: '删除知识点' }).click();
  await editor.locator('.el-message-box').getByRole('button', { name: '删除知识点' }).click();
  await until('the deleted leaf leaves the tree', async () => (await node(editor, `三角形${tag}`).count()) === 0);
  tree = await points();
  assert.equal(tree[`三角形${tag}`], undefined);
  const point = tree[RENAMED];

  // A teacher drafts a lesson and files it under the point from the form's tree.
  const teacher = await openPage(browser, t, '/#/library/mine', { cookie: people.teacher.cookie });
  await teacher.getByRole('button', { name: '新建微课' }).click();
  dialog = teacher.getByRole('dialog');
  await field(dialog, 'lesson-title').fill(`分数的初步认识 ${tag}`);
  await choose(teacher, dialog, '学科', math.name);
  await choose(teacher, dialog, '年级', grade.name);
  await choose(teacher, dialog, '教材版本', edition.name);
  await field(dialog, 'lesson-chapter').fill('第八单元 分数的初步认识');
  await field(dialog, 'lesson-series').fill(`七彩数学课程${tag}`);
  await pickPoint(teacher, dialog, '知识点', RENAMED);
  await dialog.locator('.el-dialog__title').click();
  await screenshot(teacher, 'points-lesson-form');
  await dialog.getByRole('button', { name: '创建并上传视频' }).click();
  await teacher.waitForURL(/#\/library\/lessons\//);
  const lessonId = teacher.url().split('/').pop();
  let lesson = await apiCall(people.teacher, 'GET', `/api/library/lessons/${lessonId}`);
  assert.deepEqual(lesson.knowledge_points.map((p) => p.id), [point.id]);
  // On its page, the teacher files it under a second point too.
  await teacher.getByRole('button', { name: '编辑信息' }).click();
  dialog = teacher.getByRole('dialog', { name: '编辑信息' });
  await pickPoint(teacher, dialog, '知识点', `小数${tag}`);
  await dialog.locator('.el-dialog__title').click();
  await dialog.getByRole('button', { name: '保存' }).click();
  await teacher.locator('.lesson-points .point-tag', { hasText: `小数${tag}` }).waitFor();
  lesson = await apiCall(people.teacher, 'GET', `/api/library/lessons/${lessonId}`);
  assert.deepEqual(lesson.knowledge_points.map((p) => p.id).sort(), [point.id, tree[`小数${tag}`].id].sort());
  assert.equal(lesson.edition && lesson.edition.id, edition.id);
  assert.equal(lesson.chapter, '第八单元 分数的初步认识');
  await publish(lessonId);
  // Another published lesson of the subject and grade, on no point and in
  // no series: the filters must leave it out.
  const other = await apiCall(people.teacher, 'POST', '/api/library/lessons', { title: `分数墙 ${tag}`, subject_id: math.id, grade_id: grade.id });
  await publish(other.id);

  // A plain viewer: chooses subject and grade, finds the lesson by
  // clicking its point, counted there; sees no editing controls.
  const viewer = await openPage(browser, t, '/#/library', { cookie: people.viewer.cookie });
  await viewer.locator('[data-test="points-link"]').click();
  await viewer.waitForURL(/#\/library\/points/);
  await choose(viewer, viewer, '学科', math.name);
  await choose(viewer, viewer, '年级', grade.name);
  await node(viewer, RENAMED).waitFor();
  assert.equal(await node(viewer, RENAMED).locator('.point-count').textContent(), '1 节');
  assert.equal(await node(viewer, ROOT).locator('.point-count').textContent(), '0 节');
  await node(viewer, RENAMED).click();
  await viewer.locator(`.points-lessons [data-lesson="${lessonId}"]`).waitFor();
  assert.equal(await viewer.locator(`.points-lessons [data-lesson="${other.id}"]`).count(), 0);
  assert.equal(await viewer.locator('.points-tree button').count(), 0, 'a viewer has no buttons in the tree');
  for (const name of ['添加一级知识点', '导入 CSV']) {
    assert.equal(await viewer.getByRole('button', { name }).count(), 0, `a viewer has no ${name}`);
  }
  assert.match(viewer.url(), new RegExp(`point=${point.id}`));
  await screenshot(viewer, 'points-viewer');
  // The editor sees the same count, once the tree is read again.
  await editor.reload();
  await until('the editor sees the lesson counted', async () => (await node(editor, RENAMED).locator('.point-count').textContent().catch(() => '')) === '1 节');
  // A point with a lesson filed under it stays, and the editor is told why.
  await node(editor, `小数${tag}`).getByRole('button', { name: '删除知识点' }).click();
  await editor.locator('.el-message-box').getByRole('button', { name: '删除知识点' }).click();
  await editor.locator('[data-test="point-error"]').getByText(`无法删除“小数${tag}”：已有微课归在该知识点下`).waitFor();

  // The library's filters: edition, chapter, series, point.
  const library = await openPage(browser, t, `/#/library?subject=${math.id}&grade=${grade.id}`, { cookie: people.viewer.cookie });
  await library.locator(`[data-lesson="${other.id}"]`).waitFor();
  await choose(library, library, '教材版本', edition.name);
  await field(library, 'filter-chapter').fill('第八单元 分数的初步认识');
  await field(library, 'filter-chapter').press('Enter');
  await field(library, 'filter-series').fill(`七彩数学课程${tag}`);
  await field(library, 'filter-series').press('Enter');
  await pickPoint(library, library, '知识点', RENAMED);
  await until('every filter in the address', async () => {
    const query = new URLSearchParams(library.url().split('?')[1] || '');
    return query.get('edition') === edition.id && query.get('chapter') === '第八单元 分数的初步认识' && query.get('series') === `七彩数学课程${tag}` && query.get('point') === point.id;
  });
  await library.locator(`[data-lesson="${lessonId}"]`).waitFor();
  await until('the other lesson filtered out', async () => (await library.locator(`[data-lesson="${other.id}"]`).count()) === 0);
  const requests = [];
  library.on('request', (r) => r.url().includes('/api/library/lessons?') && requests.push(new URL(r.url()).searchParams));
  await library.reload();
  await library.locator(`[data-lesson="${lessonId}"]`).waitFor();
  assert.equal(await library.locator(`[data-lesson="${other.id}"]`).count(), 0, 'still filtered after a reload');
  const sent = requests.find((q) => q.get('knowledge_point_id'));
  assert.ok(sent, 'the reloaded page asks with the point');
  assert.deepEqual(
    ['edition_id', 'chapter', 'series', 'knowledge_point_id'].map((k) => sent.get(k)),
    [edition.id, '第八单元 分数的初步认识', `七彩数学课程${tag}`, point.id],
  );
  assert.equal(await field(library, 'filter-chapter').inputValue(), '第八单元 分数的初步认识');
  assert.equal(await field(library, 'filter-series').inputValue(), `七彩数学课程${tag}`);
  await library.locator('.library-filters').getByText(edition.name, { exact: true }).waitFor();
  await library.locator('.library-filters').getByText(RENAMED, { exact: true }).waitFor();
  await screenshot(library, 'library-filters');
});

test('on a phone the point browser, its editing and the filters fit the screen', async (t) => {
  const query = `subject=${math.id}&grade=${grade.id}`;
  const point = (await points())[RENAMED];
  const editor = await openPage(browser, t, `/#/library/points?${query}&point=${point.id}`, { cookie: people.group.cookie, viewport: PHONE });
  await node(editor, RENAMED).getByRole('button', { name: '重命名' }).waitFor();
  await editor.locator('.points-lessons [data-lesson]').first().waitFor();
  await assertNoSidewaysScroll(editor, 'the knowledge-point page of an editor');
  await screenshot(editor, 'points-phone');
  const library = await openPage(browser, t, `/#/library?${query}&point=${point.id}`, { cookie: people.viewer.cookie, viewport: PHONE });
  await library.locator('[data-lesson]').first().waitFor();
  await assertNoSidewaysScroll(library, 'the library with its filters');
  await screenshot(library, 'library-filters-phone');
});
