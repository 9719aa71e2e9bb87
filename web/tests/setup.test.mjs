// The very first visit, with nothing but the UI: the one-time link the
// server printed creates the first administrator, who then creates a
// school, a teacher and a classroom with an RTMP source, copies the server
// URL and stream key, and an ffmpeg publisher using exactly those values
// goes live: the card says 直播中 and the watch page decodes frames. Then
// the same on a 390×844 phone, where no page scrolls sideways. Runs before
// any other account exists.
//
//   CLASSCAST_URL=… CLASSCAST_SETUP_CODE=… node --test tests/setup.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BASE, PHONE, assertNoSidewaysScroll, assertPlaying, choose, launch, openPage, screenshot } from './lib.mjs';

const CODE = process.env.CLASSCAST_SETUP_CODE;
if (!BASE || !CODE) throw new Error('CLASSCAST_URL and CLASSCAST_SETUP_CODE must be set');
const ADMIN = '信息中心';
const ADMIN_PASSWORD = 'a long passphrase 2026';

let browser;
let cookie = null; // the admin's, once made
const publishers = [];
before(async () => {
  browser = await launch();
});
after(async () => {
  for (const p of publishers) p.kill('SIGKILL');
  if (browser) await browser.close();
});

/** An encoder stand-in: ffmpeg pushing a test picture and tone to `url`. */
function publish(url) {
  const ffmpeg = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  ffmpeg.stderr.on('data', (d) => process.stderr.write(`ffmpeg: ${d}`));
  publishers.push(ffmpeg);
  return ffmpeg;
}

/** Goes to a header item: the links on a desktop, the menu on a phone. */
async function navigate(page, name, phone) {
  if (phone) {
    await page.getByRole('button', { name: '菜单' }).click();
    await page.locator('.drawer-nav').getByRole('link', { name, exact: true }).click();
    await page.locator('.nav-drawer').waitFor({ state: 'hidden' });
  } else {
    await page.locator('.topnav').getByRole('link', { name, exact: true }).click();
  }
}

async function onboard(page, { phone, suffix }) {
  const shot = async (name) => {
    if (phone) await assertNoSidewaysScroll(page, name);
    await screenshot(page, `onboarding-${name}-${phone ? 'phone' : 'desktop'}`);
  };
  const school = `实验中学${suffix}`;
  const teacher = `teacher${suffix}`;
  const room = `初二(${suffix})班`;

  await navigate(page, '学校', phone);
  await page.locator('.school-list').waitFor();
  await page.getByRole('button', { name: '新建学校' }).click();
  const schoolDialog = page.getByRole('dialog');
  await schoolDialog.getByLabel('学校名称').fill(school);
  await schoolDialog.getByRole('button', { name: '新建学校' }).click();
  await page.locator('.school-name', { hasText: school }).waitFor();
  await shot('schools');

  await navigate(page, '用户', phone);
  await page.locator('.users-table').waitFor();
  const form = page.locator('.admin-form');
  await form.getByLabel('用户名').fill(teacher);
  await form.getByLabel('姓名').fill(`王老师${suffix}`);
  await form.getByLabel('密码').fill('teacher-password-1');
  await choose(page, form, '角色', '教师');
  await choose(page, form, '学校', school);
  await form.getByRole('button', { name: '新建用户' }).click();
  await page.locator('.users-table tr', { hasText: teacher }).waitFor();
  await shot('users');

  await navigate(page, '教室管理', phone);
  await page.getByRole('button', { name: '新建教室' }).click();
  const roomDialog = page.getByRole('dialog');
  await roomDialog.getByLabel('教室名称').fill(room);
  await choose(page, roomDialog, '学校', school);
  await choose(page, roomDialog, '任课教师', `王老师${suffix}`);
  await roomDialog.getByRole('button', { name: '创建' }).click();
  await page.locator('h1', { hasText: room }).waitFor();

  await page.getByRole('button', { name: '添加信号源' }).click();
  const sourceDialog = page.getByRole('dialog');
  await sourceDialog.getByRole('radio', { name: 'RTMP 推流' }).check();
  await sourceDialog.getByRole('button', { name: '添加' }).click();
  const card = page.locator('.source-card[data-kind="rtmp"]');
  await card.waitFor();
  await card.locator('.source-health', { hasText: '等待推流' }).waitFor();
  await shot('classroom');

  // What OBS asks for, copied with the buttons, then used as they are.
  await card.getByRole('button', { name: '复制服务器' }).click();
  const server = await page.evaluate(() => navigator.clipboard.readText());
  await card.getByRole('button', { name: '复制推流密钥' }).click();
  const key = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(server, /^rtmp:\/\/127\.0\.0\.1:\d+\/live$/);
  assert.match(key, /^[a-z0-9]{24}$/);
  await card.getByRole('button', { name: '复制完整推流地址（ffmpeg 用）' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${server}/${key}`);
  const ffmpeg = publish(`${server}/${key}`);

  // The source says it is connected, with what it receives.
  await card.locator('.source-health[data-connected="true"]', { hasText: '已连接' }).waitFor({ timeout: 30_000 });
  await card.locator('.health-figures', { hasText: /\d+ kbps · \d+ 帧\/秒 · H\.264 · \d+×\d+/ }).waitFor({ timeout: 15_000 })
    .catch(async (error) => {
      throw new Error(`source health: ${await card.locator('.source-health').innerText()} (${error.message})`);
    });

  await navigate(page, '直播墙', phone);
  const wallCard = page.locator('.classroom-card', { hasText: room });
  await wallCard.locator('.state-badge', { hasText: '直播中' }).waitFor({ timeout: 30_000 });
  await shot('wall');
  await wallCard.getByRole('link', { name: `观看直播：${room}` }).click();
  await assertPlaying(page);
  await shot('watch');
  ffmpeg.kill('SIGINT');
}

test('a mistyped setup code says so, not that the link was used', { timeout: 60_000 }, async (t) => {
  const page = await openPage(browser, t, `/#/setup?code=${CODE.slice(0, -2)}`);
  await page.getByLabel('用户名').fill(ADMIN);
  await page.getByLabel('密码').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: '创建并登录' }).click();
  await page.getByRole('alert').filter({ hasText: '设置码不正确' }).waitFor();
  assert.equal(await page.getByText('已经用过').count(), 0);
  assert.equal(await page.getByRole('link', { name: '去登录' }).count(), 0);
});

test('from the printed setup link to a classroom on air, with nothing but the UI', { timeout: 240_000 }, async (t) => {
  const page = await openPage(browser, t, `/#/setup?code=${CODE}`, { permissions: ['clipboard-read', 'clipboard-write'] });
  await page.getByLabel('用户名').fill(ADMIN);
  await page.getByLabel('密码').fill('short');
  await page.getByRole('button', { name: '创建并登录' }).click();
  // The server's reason, next to the field it concerns.
  await page.locator('.el-form-item.is-error', { hasText: '密码至少 10 个字符' }).waitFor();
  await page.getByLabel('密码').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: '创建并登录' }).click();
  await page.locator('#user-name', { hasText: ADMIN }).waitFor();
  await page.locator('.classroom-card', { hasText: '演示教室' }).waitFor();
  cookie = (await page.context().cookies()).find((c) => c.name === 'classcast_session');
  await onboard(page, { phone: false, suffix: '1' });
});

test('the same on a phone, with no page wider than the screen', { timeout: 240_000 }, async (t) => {
  assert.ok(cookie, 'the admin was made by the test before');
  const page = await openPage(browser, t, '/', { cookie: `${cookie.name}=${cookie.value}`, viewport: PHONE, permissions: ['clipboard-read', 'clipboard-write'] });
  await page.locator('.classroom-card').first().waitFor();
  await assertNoSidewaysScroll(page, 'wall');
  await onboard(page, { phone: true, suffix: '2' });
});

test('the setup link works once: used again, it says so and points to sign-in', { timeout: 60_000 }, async (t) => {
  const again = await openPage(browser, t, `/#/setup?code=${CODE}`);
  await again.getByLabel('用户名').fill('someone.else');
  await again.getByLabel('密码').fill('another long passphrase');
  await again.getByRole('button', { name: '创建并登录' }).click();
  await again.getByRole('alert').filter({ hasText: '该设置链接已经用过' }).waitFor();
  assert.equal(await again.getByText('设置码不正确').count(), 0);
  assert.match(again.url(), /#\/setup/);
  await again.getByRole('link', { name: '去登录' }).click();
  await again.waitForURL(/#\/login/);
});
