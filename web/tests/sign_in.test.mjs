// Signing in and out in Chromium against a server that requires sign-in.
//
//   CLASSCAST_AUTH_URL=http://127.0.0.1:8081 CLASSCAST_ADMIN=root \
//   CLASSCAST_ADMIN_PASSWORD=… node --test tests/sign_in.test.mjs
//
// scripts/browser-tests.sh starts that server and creates the admin with
// `classcast admin create`.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { choose, launch } from './lib.mjs';

const BASE = (process.env.CLASSCAST_AUTH_URL || '').replace(/\/+$/, '');
const USER = process.env.CLASSCAST_ADMIN;
const PASSWORD = process.env.CLASSCAST_ADMIN_PASSWORD;
if (!BASE || !USER || !PASSWORD) {
  throw new Error('CLASSCAST_AUTH_URL, CLASSCAST_ADMIN and CLASSCAST_ADMIN_PASSWORD must be set');
}

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  if (browser) await browser.close();
});

test('a school admin signs in, sees the wall, and signs out', { timeout: 60_000 }, async () => {
  const page = await browser.newPage();
  await page.goto(`${BASE}/`);
  // Nobody is signed in: the app shows the sign-in form, in Chinese.
  await page.waitForURL(/#\/login/);
  await page.getByLabel('用户名').fill(USER);
  await page.getByLabel('密码').fill('not the password');
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('alert').filter({ hasText: '用户名或密码错误' }).waitFor();

  await page.getByLabel('密码').fill(PASSWORD);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL((url) => !url.hash.startsWith('#/login'));
  await page.locator('#user-name', { hasText: USER }).waitFor();
  const session = await page.evaluate(async () => (await fetch('/api/session')).status);
  assert.equal(session, 200);
  // The cookie is HttpOnly: page scripts cannot read it.
  assert.equal(await page.evaluate(() => document.cookie.includes('classcast_session')), false);

  // The browser's cookie, kept to replay after signing out: the page's own
  // fetch would send none (the cookie is cleared), so its 401 proves nothing.
  const saved = (await page.context().cookies()).find((c) => c.name === 'classcast_session');
  assert.ok(saved, 'signed in with a session cookie');
  const before = await fetch(`${BASE}/api/session`, { headers: { cookie: `${saved.name}=${saved.value}` } });
  assert.equal(before.status, 200, 'the saved cookie works while signed in');

  await page.getByRole('button', { name: '退出登录' }).click();
  await page.waitForURL(/#\/login/);
  const replayed = await fetch(`${BASE}/api/session`, { headers: { cookie: `${saved.name}=${saved.value}` } });
  assert.equal(replayed.status, 401, 'signed out on the server, not only in the page');
  await page.close();
});

test('an admin creates a school and a teacher, who then signs in; names stay text', { timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('dialog', (dialog) => { errors.push(`dialog: ${dialog.message()}`); dialog.dismiss(); });
  await page.goto(`${BASE}/#/login`);
  await page.getByLabel('用户名').fill(USER);
  await page.getByLabel('密码').fill(PASSWORD);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL((url) => !url.hash.startsWith('#/login'));

  // A school whose name is markup: stored and shown verbatim, never run.
  const schoolName = `<img src=x onerror=alert(1)>第${Date.now() % 1000}中学`;
  await page.getByRole('link', { name: '学校' }).click();
  await page.getByRole('button', { name: '新建学校' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('学校名称').fill(schoolName);
  await dialog.getByRole('button', { name: '新建学校' }).click();
  await page.locator('.school-name', { hasText: schoolName }).waitFor();
  assert.equal(await page.locator('.school-list img').count(), 0, 'the name was not parsed as HTML');
  // A second school of the same name under the same parent: refused, in words.
  await page.getByRole('button', { name: '新建学校' }).click();
  await dialog.getByLabel('学校名称').fill(schoolName);
  await dialog.getByRole('button', { name: '新建学校' }).click();
  await dialog.getByRole('alert').filter({ hasText: '同一上级下已有同名学校' }).waitFor();
  await dialog.getByRole('button', { name: '取消' }).click();

  await page.getByRole('link', { name: '用户' }).click();
  const teacher = `wang${Date.now() % 100000}`;
  const form = page.locator('.admin-form');
  await form.getByLabel('用户名').fill(teacher);
  await form.getByLabel('姓名').fill('<b>王老师</b>');
  await form.getByLabel('密码').fill('teacher-password-1');
  await choose(page, form, '角色', '教师');
  await choose(page, form, '学校', schoolName);
  await form.getByRole('button', { name: '新建用户' }).click();
  const row = page.locator('.users-table tr', { hasText: teacher });
  await row.waitFor();
  assert.match(await row.innerText(), /<b>王老师<\/b>/);
  assert.match(await row.innerText(), /教师/);
  assert.equal(await row.locator('b').count(), 0);

  // The audit log shows who did it.
  await page.getByRole('link', { name: '审计日志' }).click();
  await page.locator('.audit-table td', { hasText: '创建用户' }).first().waitFor();

  await page.getByRole('button', { name: '退出登录' }).click();
  await page.waitForURL(/#\/login/);
  await page.getByLabel('用户名').fill(teacher);
  await page.getByLabel('密码').fill('teacher-password-1');
  await page.getByRole('button', { name: '登录' }).click();
  await page.locator('#user-name', { hasText: teacher }).waitFor();
  // A teacher is no administrator: no admin links, no classroom form.
  assert.equal(await page.getByRole('link', { name: '用户' }).isVisible(), false);
  assert.equal(await page.getByRole('link', { name: '教室管理' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: '新建教室' }).count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a teacher signs in through the unified identity platform (OpenID Connect)', { timeout: 60_000 }, async () => {
  // The platform's school code must be known here: an admin registers it.
  const admin = await fetch(`${BASE}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: USER, password: PASSWORD }),
  });
  const cookie = admin.headers.get('set-cookie').split(';')[0];
  const { csrf_token: csrf } = await admin.json();
  const created = await fetch(`${BASE}/api/schools`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
    body: JSON.stringify({ name: '第一中学', external_id: 'SCH-001' }),
  });
  assert.equal(created.status, 201);
  const school = await created.json();

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${BASE}/#/login`);
  await page.getByRole('link', { name: '使用统一身份认证登录' }).click();
  // The platform's own pages: sign in, then allow classcast.
  await page.locator('input[name=login]').fill('zhang.san');
  await page.locator('input[name=password]').fill('anything');
  await page.locator('button[type=submit]').click();
  // Someone else's browser given a callback for this sign-in (login CSRF)
  // is refused: the pending sign-in is bound to the browser that began it.
  const state = (await context.cookies(`${BASE}/api/sso/callback`)).find((c) => c.name === 'classcast_sso_state');
  assert.ok(state, 'the sign-in in flight is bound to this browser by a cookie');
  const victim = await browser.newContext();
  const victimPage = await victim.newPage();
  await victimPage.goto(`${BASE}/api/sso/callback?code=stolen&state=${encodeURIComponent(state.value)}`);
  await victimPage.getByRole('alert').filter({ hasText: '请在发起登录的同一浏览器中完成' }).waitFor();
  assert.equal(await victimPage.evaluate(async () => (await fetch('/api/session')).status), 401);
  await victim.close();
  await page.locator('button[type=submit]', { hasText: /continue/i }).click();
  await page.waitForURL((url) => url.origin === BASE && !url.hash.startsWith('#/login'));
  await page.locator('#user-name', { hasText: 'zhang.san' }).waitFor();

  // Created on first sign-in with the school and role the claims say.
  const users = await (await fetch(`${BASE}/api/users`, { headers: { cookie } })).json();
  const zhang = users.find((u) => u.username === 'zhang.san');
  assert.equal(zhang.school_id, school.id);
  assert.deepEqual(zhang.roles.map((r) => r.role), ['teacher']);
  assert.equal(zhang.display_name, '张三');
  assert.equal(zhang.has_password, false);

  // A school the platform knows but classcast does not: a clear refusal.
  await context.clearCookies();
  await page.goto(`${BASE}/#/login`);
  await page.getByRole('link', { name: '使用统一身份认证登录' }).click();
  await page.locator('input[name=login]').fill('li.si');
  await page.locator('input[name=password]').fill('anything');
  await page.locator('button[type=submit]').click();
  await page.locator('button[type=submit]', { hasText: /continue/i }).click();
  await page.getByRole('alert').filter({ hasText: '您所在的学校尚未在本系统登记' }).waitFor();
  await context.close();
});
