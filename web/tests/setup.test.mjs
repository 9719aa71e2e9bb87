// The very first visit: no account exists, and the one-time link the
// server printed creates the first administrator, who lands on the live
// wall with the demo classroom. Runs before any other account exists.
//
//   CLASSCAST_URL=… CLASSCAST_SETUP_CODE=… node --test tests/setup.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE = (process.env.CLASSCAST_URL || '').replace(/\/+$/, '');
const CODE = process.env.CLASSCAST_SETUP_CODE;
if (!BASE || !CODE) throw new Error('CLASSCAST_URL and CLASSCAST_SETUP_CODE must be set');

test('the printed setup link creates the first admin, once', { timeout: 60_000 }, async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${BASE}/#/setup?code=${CODE}`);
    await page.getByLabel('用户名').fill('信息中心');
    await page.getByLabel('密码').fill('a long passphrase 2026');
    await page.getByRole('button', { name: '创建并登录' }).click();
    await page.locator('#user-name', { hasText: '信息中心' }).waitFor();
    await page.locator('.classroom-card', { hasText: '演示教室' }).waitFor();

    // The same link again, in a fresh browser: refused.
    const again = await browser.newPage();
    await again.goto(`${BASE}/#/setup?code=${CODE}`);
    await again.getByLabel('用户名').fill('someone.else');
    await again.getByLabel('密码').fill('another long passphrase');
    await again.getByRole('button', { name: '创建并登录' }).click();
    await again.getByRole('alert').filter({ hasText: '没有权限' }).waitFor();
    assert.match(again.url(), /#\/setup/);
  } finally {
    await browser.close();
  }
});
