// One lesson watched in Chromium, for a Rust test that made it the hard
// way (tests/a_2gb_upload_survives_a_cut_client_and_a_restart.rs): signs
// in as CLASSCAST_USER / CLASSCAST_PASSWORD, opens the lesson page of
// CLASSCAST_LESSON and asserts what a viewer sees: the player starts, and
// decoded frames and time advance. Run by `node --test` (not a file of
// scripts/browser-tests.sh: it needs the lesson the Rust test made).

import { after, before, test } from 'node:test';
import { assertPlaying, launch, openPage, signIn } from './lib.mjs';

const { CLASSCAST_USER: user, CLASSCAST_PASSWORD: password, CLASSCAST_LESSON: lesson } = process.env;
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the lesson plays in Chromium with frames advancing', async (t) => {
  const who = await signIn(user, password);
  const page = await openPage(browser, t, `/#/library/lessons/${lesson}`, { cookie: who.cookie });
  await page.locator('#player').waitFor({ timeout: 60_000 });
  await assertPlaying(page);
});
