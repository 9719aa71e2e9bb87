// Administration and the honest answers: nobody can disable themselves or
// the last active system admin (the UI does not offer it, the API refuses
// it), a partner school's viewer is told "no permission" rather than
// "offline" (on a recording and on the admin pages), a teacher shares a
// recording with a person by username, the audit log reads in names, and
// every page is photographed in both languages on a desktop and a phone,
// none wider than the phone.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/admin_pages.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, PHONE, apiCall, assertNoSidewaysScroll, launch, openPage, screenshot, signIn, until } from './lib.mjs';

const ADMIN = process.env.CLASSCAST_ADMIN;
const PASSWORD = process.env.CLASSCAST_ADMIN_PASSWORD;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
let browser;
let admin;
let demo;
let recording;
let partnerViewer;
let partnerName;
let interactive;

before(async () => {
  browser = await launch();
  admin = await signIn(ADMIN, PASSWORD);
  const rooms = await apiCall(admin, 'GET', '/api/classrooms');
  demo = rooms.find((c) => c.name.startsWith('演示教室'));
  [recording] = await apiCall(admin, 'GET', `/api/recordings?classroom_id=${demo.id}&limit=1`);
  const partner = await apiCall(admin, 'POST', '/api/schools', { name: `山区小学 ${Date.now() % 100000}`, kind: 'partner' });
  partnerName = `partner${Date.now() % 100000}`;
  await apiCall(admin, 'POST', '/api/users', { username: partnerName, password: 'partner-viewer-pw', school_id: partner.id, roles: [{ role: 'viewer' }] });
  partnerViewer = await signIn(partnerName, 'partner-viewer-pw');
  // An interactive session still to come, for its page in the screenshots:
  // rooms of its own, so no other test's session is in the way.
  const main = await apiCall(admin, 'POST', '/api/classrooms', { name: `互动主讲 ${Date.now() % 100000}`, school_id: demo.school_id, ladder_heights: [] });
  const remote = await apiCall(admin, 'POST', '/api/classrooms', { name: `互动远端 ${Date.now() % 100000}`, school_id: partner.id, ladder_heights: [] });
  const start = Date.now() + 60 * 60 * 1000;
  interactive = await apiCall(admin, 'POST', '/api/interactive', {
    title: `截图用互动课堂 ${Date.now() % 100000}`,
    main_classroom_id: main.id,
    remote_classroom_ids: [remote.id],
    scheduled_start: new Date(start).toISOString(),
    scheduled_end: new Date(start + 45 * 60 * 1000).toISOString(),
  });
});
after(async () => {
  if (browser) await browser.close();
});

describe('administration', () => {
  test('a partner viewer opening a recording not shared with them is told: no permission', async (t) => {
    const page = await openPage(browser, t, `/#/recording/${recording.id}`, { cookie: partnerViewer.cookie });
    await page.locator('.message-page[data-error="forbidden"]', { hasText: '没有权限查看' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.getByText('暂时连不上服务器').count(), 0);
    assert.equal(await page.getByText('加载中').count(), 0);
    await screenshot(page, 'forbidden-zh-desktop');
    // A partner viewer has no admin links and no share buttons.
    assert.equal(await page.locator('[data-nav="users"], [data-nav="classrooms"]').count(), 0);
  });

  test('an admin page opened by a viewer says: no permission, at that address', async (t) => {
    const page = await openPage(browser, t, null, { cookie: partnerViewer.cookie });
    // The page itself never opens: it asks the server nothing (a page that
    // opened and was refused would show the same words).
    const asked = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/api/')) asked.push(url.pathname);
    });
    for (const [path, data] of [['/admin/users', '/api/users'], [`/classrooms/${demo.id}`, `/api/classrooms/${demo.id}`],
      ['/admin/audit', '/api/audit'], ['/admin/schools', '/api/schools']]) {
      await page.goto(`${BASE}/#${path}`);
      await page.locator('.message-page[data-error="forbidden"]', { hasText: '没有权限查看' }).waitFor({ timeout: 10_000 });
      await page.waitForTimeout(500);
      assert.equal(new URL(page.url()).hash, `#${path}`, 'the address stays the one opened');
      assert.deepEqual(asked.filter((p) => p.startsWith(data)), [], `${path}: no request for the page's data (${asked})`);
    }
    await screenshot(page, 'admin-forbidden-zh-desktop');
  });

  test('the classroom page names its teacher, and each source button its source', async (t) => {
    const n = Date.now() % 100000;
    const username = `classteacher${n}`;
    const teacher = await apiCall(admin, 'POST', '/api/users', { username, display_name: '李老师', password: 'class-teacher-pw', school_id: demo.school_id, roles: [{ role: 'teacher' }] });
    const room = await apiCall(admin, 'POST', '/api/classrooms', { name: `任课测试 ${n}`, school_id: demo.school_id, ladder_heights: [] });
    await apiCall(admin, 'PATCH', `/api/classrooms/${room.id}`, { teacher_id: teacher.id });
    await apiCall(admin, 'POST', `/api/classrooms/${room.id}/sources`, { kind: 'rtmp', name: '讲台摄像机' });
    const page = await openPage(browser, t, `/#/classrooms/${room.id}`, { cookie: admin.cookie });
    await page.locator('.classroom-facts').getByText(`李老师（${username}）`).waitFor();
    for (const name of ['编辑 讲台摄像机', '更换 讲台摄像机 的推流密钥', '删除 讲台摄像机']) {
      assert.equal(await page.getByRole('button', { name, exact: true }).count(), 1, name);
    }
  });

  test('a teacher shares a recording with a person by username', { timeout: 90_000 }, async (t) => {
    // The teacher's own lesson: a classroom they teach in, recorded a moment.
    const n = Date.now() % 100000;
    const teacherName = `teacher${n}`;
    const teacherUser = await apiCall(admin, 'POST', '/api/users', { username: teacherName, password: 'share-teacher-pw', school_id: demo.school_id, roles: [{ role: 'teacher' }] });
    const room = await apiCall(admin, 'POST', '/api/classrooms', { name: `分享测试 ${n}`, school_id: demo.school_id, ladder_heights: [] });
    await apiCall(admin, 'PATCH', `/api/classrooms/${room.id}`, { teacher_id: teacherUser.id });
    const source = await apiCall(admin, 'POST', `/api/classrooms/${room.id}/sources`, { kind: 'test' });
    const own = await until('the teacher\'s lesson is recorded', async () => {
      const list = await apiCall(admin, 'GET', `/api/recordings?classroom_id=${room.id}`);
      return list[0];
    });
    await apiCall(admin, 'PATCH', `/api/classrooms/${room.id}/sources/${source.id}`, { enabled: false });
    const teacher = await signIn(teacherName, 'share-teacher-pw');
    await apiCall(partnerViewer, 'GET', `/api/recordings/${own.id}`, undefined, 403);

    const page = await openPage(browser, t, `/#/recording/${own.id}`, { cookie: teacher.cookie });
    await page.locator('.share-button').click();
    const box = page.locator('.share-dialog');
    await box.locator('.el-radio', { hasText: '某个人' }).click();
    const name = box.locator('.share-username input');
    // A name nobody has: the reason next to the field, nothing shared.
    await name.fill('nobody-by-this-name');
    await box.getByRole('button', { name: '分享', exact: true }).click();
    await box.locator('.el-form-item.is-error', { hasText: '没有这个用户名' }).waitFor();
    await name.fill(partnerName);
    await box.getByRole('button', { name: '分享', exact: true }).click();
    await page.getByText('已分享').waitFor();
    await box.waitFor({ state: 'hidden' });
    const shared = await apiCall(partnerViewer, 'GET', `/api/recordings/${own.id}`);
    assert.equal(shared.id, own.id);
  });

  test('nobody disables themselves or the last active system admin', { timeout: 60_000 }, async (t) => {
    // A second system admin, so there is someone to disable.
    const other = `backup${Date.now() % 100000}`;
    await apiCall(admin, 'POST', '/api/users', { username: other, password: 'backup-admin-pw1', school_id: null, roles: [{ role: 'system_admin' }] });
    const page = await openPage(browser, t, '/#/admin/users', { cookie: admin.cookie });
    const own = page.locator('.users-table tr', { hasText: ADMIN });
    await own.waitFor();
    assert.equal(await own.getByRole('button', { name: /停用/ }).count(), 0, 'no disable button on your own row');

    // Disabling asks first; cancelling changes nothing.
    const row = page.locator('.users-table tr', { hasText: other });
    await row.getByRole('button', { name: `停用 ${other}` }).click();
    const box = page.getByRole('dialog');
    await box.getByText(`停用“${other}”？`).waitFor();
    await box.getByRole('button', { name: '取消' }).click();
    await box.waitFor({ state: 'hidden' });
    assert.match(await row.innerText(), /正常/);
    await row.getByRole('button', { name: `停用 ${other}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: '停用' }).click();
    await row.getByText('已停用').waitFor();
    await screenshot(page, 'users-zh-desktop');

    // Every other active system admin (the setup link's, when that test
    // ran) disabled for a moment: we are the last one, and are told so.
    const others = (await apiCall(admin, 'GET', '/api/users'))
      .filter((u) => u.username !== ADMIN && !u.disabled && u.roles.some((g) => g.role === 'system_admin'));
    try {
      for (const u of others) await apiCall(admin, 'PATCH', `/api/users/${u.id}`, { disabled: true });
      await page.reload();
      await own.getByText('最后一个系统管理员').waitFor();
      assert.equal(await own.getByRole('button', { name: /停用/ }).count(), 0);
      await screenshot(page, 'users-last-admin-zh-desktop');
    } finally {
      for (const u of others) await apiCall(admin, 'PATCH', `/api/users/${u.id}`, { disabled: false });
    }
    // Re-enable: nothing else in the suite depends on it, but leave things as found.
    await page.reload();
    await row.getByRole('button', { name: `启用 ${other}` }).click();
    await row.getByText('正常').waitFor();
    await page.locator('.last-admin-note').waitFor({ state: 'detached' });
  });

  test('the API refuses disabling yourself', async () => {
    // A throwaway admin tries it on themselves: were the API to allow it,
    // only they would be locked out, not the admin the other tests use.
    const name = `selfdisable${Date.now() % 100000}`;
    await apiCall(admin, 'POST', '/api/users', { username: name, password: 'self-disable-pw1', school_id: null, roles: [{ role: 'system_admin' }] });
    const them = await signIn(name, 'self-disable-pw1');
    const me = (await apiCall(them, 'GET', '/api/session')).user;
    const response = await fetch(`${BASE}/api/users/${me.user_id}`, {
      method: 'PATCH',
      headers: { cookie: them.cookie, 'x-csrf-token': them.csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ disabled: true }),
    });
    assert.equal(response.status, 409, 'disabling yourself is refused');
    assert.equal((await response.json()).error.code, 'cannot_disable_self');
    // And they can still sign in: nothing was disabled.
    await signIn(name, 'self-disable-pw1');
  });

  test('the audit log reads in names, in the UI language, and filters', { timeout: 60_000 }, async (t) => {
    const page = await openPage(browser, t, '/#/admin/audit', { cookie: admin.cookie });
    const table = page.locator('.audit-table');
    await table.locator('td', { hasText: '创建学校' }).first().waitFor({ timeout: 10_000 })
      .catch(async (error) => {
        throw new Error(`audit page: ${(await page.locator('main').innerText()).slice(0, 600)} (${error.message})`);
      });
    const text = await table.innerText();
    assert.doesNotMatch(text, UUID, 'no ids in the audit log');
    assert.doesNotMatch(text, /\buser\b|\bschool\b/, 'no English words in the zh-CN audit log');
    assert.match(text, /学校：山区小学/);
    // Who: only the partner viewer's sign-in.
    await page.getByLabel('操作人').fill(partnerViewer ? 'partner' : '');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('.audit-table tbody tr')];
      return rows.length > 0 && rows.every((r) => /partner/.test(r.innerText));
    });
  });
});

describe('every page, both languages, desktop and phone', () => {
  const pages = [
    ['wall', '/', '直播墙', 'Live wall'],
    ['watch', () => `/watch/${demo.id}`, '演示教室', 'Demo classroom'],
    ['recordings', '/recordings', '录像', 'Recordings'],
    ['recording', () => `/recording/${recording.id}`, '演示教室', 'Demo classroom'],
    ['classrooms', '/classrooms', '教室管理', 'Classrooms'],
    ['classroom', () => `/classrooms/${demo.id}`, '演示教室', 'Demo classroom'],
    ['users', '/admin/users', '用户', 'Users'],
    ['schools', '/admin/schools', '学校', 'Schools'],
    ['audit', '/admin/audit', '审计日志', 'Audit log'],
    ['interactive-list', '/interactive', '互动课堂', 'Interactive'],
    ['interactive', () => `/interactive/${interactive.id}`, () => interactive.title, () => interactive.title],
    ['publish', '/publish', '发布', 'Publish'],
    ['setup', '/setup', '创建第一个管理员', 'Create the first administrator'],
    ['not-found', '/no/such/page', '页面不存在', 'Page not found'],
  ];
  for (const [lang, langIndex] of [['zh', 2], ['en', 3]]) {
    for (const [device, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', PHONE]]) {
      test(`${lang} ${device}`, { timeout: 120_000 }, async (t) => {
        const page = await openPage(browser, t, `/?lang=${lang === 'zh' ? 'zh-CN' : 'en'}#/`, { cookie: admin.cookie, viewport });
        for (const entry of pages) {
          const [name, path] = entry;
          await page.goto(`${BASE}/?lang=${lang === 'zh' ? 'zh-CN' : 'en'}#${typeof path === 'function' ? path() : path}`);
          const heading = typeof entry[langIndex] === 'function' ? entry[langIndex]() : entry[langIndex];
          await page.locator('h1, .el-result__title', { hasText: heading }).first().waitFor({ timeout: 15_000 })
            .catch(async (error) => {
              throw new Error(`${name}: ${(await page.locator('main').innerText()).slice(0, 200)} (${error.message})`);
            });
          await page.waitForFunction(() => !document.body.innerText.includes('加载中') && !document.body.innerText.includes('Loading'), null, { timeout: 15_000 });
          assert.equal(await page.getAttribute('html', 'lang'), lang === 'zh' ? 'zh-CN' : 'en');
          if (device === 'phone') await assertNoSidewaysScroll(page, `${name} (${lang})`);
          await screenshot(page, `${name}-${lang}-${device}`);
        }
        // Signed out: the sign-in page, in the same language.
        const login = await openPage(browser, t, `/?lang=${lang === 'zh' ? 'zh-CN' : 'en'}#/login`, { viewport });
        await login.locator('h1', { hasText: lang === 'zh' ? '登录' : 'Sign in' }).waitFor();
        if (device === 'phone') await assertNoSidewaysScroll(login, `login (${lang})`);
        await screenshot(login, `login-${lang}-${device}`);
      });
    }
  }
});
