// Signing in and out in Chromium against a server that requires sign-in.
//
//   CLASSCAST_AUTH_URL=http://127.0.0.1:8081 CLASSCAST_ADMIN=root \
//   CLASSCAST_ADMIN_PASSWORD=… node --test tests/sign_in.test.mjs
//
// scripts/browser-tests.sh starts that server and creates the admin with
// `classcast admin create`.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE = (process.env.CLASSCAST_AUTH_URL || '').replace(/\/+$/, '');
const USER = process.env.CLASSCAST_ADMIN;
const PASSWORD = process.env.CLASSCAST_ADMIN_PASSWORD;
if (!BASE || !USER || !PASSWORD) {
  throw new Error('CLASSCAST_AUTH_URL, CLASSCAST_ADMIN and CLASSCAST_ADMIN_PASSWORD must be set');
}

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
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

  await page.getByRole('button', { name: '退出登录' }).click();
  await page.waitForURL(/#\/login/);
  const after = await page.evaluate(async () => (await fetch('/api/session')).status);
  assert.equal(after, 401, 'signed out on the server, not only in the page');
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
  await page.getByLabel('学校名称').fill(schoolName);
  await page.getByRole('button', { name: '新建学校' }).click();
  await page.locator('.school-name', { hasText: schoolName }).waitFor();
  assert.equal(await page.locator('.school-list img').count(), 0, 'the name was not parsed as HTML');

  await page.getByRole('link', { name: '用户' }).click();
  const teacher = `wang${Date.now() % 100000}`;
  await page.getByLabel('用户名').fill(teacher);
  await page.getByLabel('姓名').fill('<b>王老师</b>');
  await page.getByLabel('密码').fill('teacher-password-1');
  await page.locator('select[name=school_id]').selectOption({ label: schoolName });
  await page.locator('select[name=role]').selectOption('teacher');
  await page.getByRole('button', { name: '新建用户' }).click();
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
  // A teacher is no administrator: no admin links.
  assert.equal(await page.getByRole('link', { name: '用户' }).isVisible(), false);
  assert.deepEqual(errors, []);
  await context.close();
});
