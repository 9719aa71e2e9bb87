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
