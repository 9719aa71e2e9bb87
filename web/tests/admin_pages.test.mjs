// Administration and the honest answers: nobody can disable themselves or
// the last active system admin (the UI does not offer it, the API refuses
// it), a partner school's viewer is told "no permission" rather than
// "offline", the audit log reads in names, and every page is photographed
// in both languages on a desktop and a phone, none wider than the phone.
//
//   CLASSCAST_URL=… CLASSCAST_ADMIN=… CLASSCAST_ADMIN_PASSWORD=… node --test tests/admin_pages.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, PHONE, apiCall, assertNoSidewaysScroll, launch, openPage, screenshot, signIn } from './lib.mjs';

const ADMIN = process.env.CLASSCAST_ADMIN;
const PASSWORD = process.env.CLASSCAST_ADMIN_PASSWORD;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
let browser;
let admin;
let demo;
let recording;
let partnerViewer;

before(async () => {
  browser = await launch();
  admin = await signIn(ADMIN, PASSWORD);
  const rooms = await apiCall(admin, 'GET', '/api/classrooms');
  demo = rooms.find((c) => c.name.startsWith('演示教室'));
  [recording] = await apiCall(admin, 'GET', `/api/recordings?classroom_id=${demo.id}&limit=1`);
  const partner = await apiCall(admin, 'POST', '/api/schools', { name: `山区小学 ${Date.now() % 100000}`, kind: 'partner' });
  const username = `partner${Date.now() % 100000}`;
  await apiCall(admin, 'POST', '/api/users', { username, password: 'partner-viewer-pw', school_id: partner.id, roles: [{ role: 'viewer' }] });
  partnerViewer = await signIn(username, 'partner-viewer-pw');
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

    // Others who are system admins: the backup is disabled; are we the last?
    const users = await apiCall(admin, 'GET', '/api/users');
    const active = users.filter((u) => !u.disabled && u.roles.some((g) => g.role === 'system_admin'));
    if (active.length === 1) {
      await own.getByText('最后一个系统管理员').waitFor();
    }
    // Re-enable: nothing else in the suite depends on it, but leave things as found.
    await row.getByRole('button', { name: `启用 ${other}` }).click();
    await row.getByText('正常').waitFor();
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
    ['not-found', '/no/such/page', '页面不存在', 'Page not found'],
  ];
  for (const [lang, langIndex] of [['zh', 2], ['en', 3]]) {
    for (const [device, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', PHONE]]) {
      test(`${lang} ${device}`, { timeout: 120_000 }, async (t) => {
        const page = await openPage(browser, t, `/?lang=${lang === 'zh' ? 'zh-CN' : 'en'}#/`, { cookie: admin.cookie, viewport });
        for (const entry of pages) {
          const [name, path] = entry;
          await page.goto(`${BASE}/?lang=${lang === 'zh' ? 'zh-CN' : 'en'}#${typeof path === 'function' ? path() : path}`);
          await page.locator('h1, .el-result__title', { hasText: entry[langIndex] }).first().waitFor({ timeout: 15_000 })
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
