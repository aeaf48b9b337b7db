// The enrollment page in Debian's headless Chromium (playwright-core). An
// admin (Japanese browser) creates a token, sees its text once with the copy
// hint, sees it listed and revokes it; a viewer (English browser) sees the
// list without the create form or revoke buttons. Started by
// enrollment_browser_test.cc with a real collector:
//   MAMORI_URL, MAMORI_ADMIN, MAMORI_ADMIN_PASSWORD, MAMORI_ADMIN_TOTP_SECRET,
//   MAMORI_VIEWER, MAMORI_VIEWER_PASSWORD, MAMORI_VIEWER_TOTP_SECRET,
//   MAMORI_ARTIFACT_DIR.
// Exits non-zero with a message on the first failed check.
import { join } from 'node:path';
import { artifacts, check, checkNoProblems, launchBrowser, loginAs, watch } from './session.mjs';

const browser = await launchBrowser();
try {
  const ja = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', viewport: { width: 1280, height: 900 } });
  const page = await ja.newPage();
  watch(page, 'admin');
  await loginAs(page, 'MAMORI_ADMIN');
  await page.click('#pages button[data-page="enrollment"]');
  await page.waitForSelector('#enrollment-view:not([hidden])');
  check((await page.textContent('#enrollment-view h2')) === '端末登録', 'Japanese enrollment heading');
  await page.waitForSelector('#enroll-create:not([hidden])');
  await page.fill('#enroll-group', 'osaka/suita');
  await page.fill('#enroll-uses', '25');
  await page.fill('#enroll-days', '14');
  await page.fill('#enroll-note', '<b>保険課</b> 入替');
  await page.click('#enroll-create-submit');
  await page.waitForSelector('#enroll-new:not([hidden])');
  const text = (await page.textContent('#enroll-new-text')).trim();
  check(/^mt_[a-z2-7]{8}_[a-z2-7]{52}$/.test(text), 'token shown once: ' + text);
  check((await page.textContent('#enroll-new p')).includes('今回だけ'), 'copy hint shown');
  const id = text.slice(3, 11);
  const row = `#enroll-tokens-body tr[data-id="${id}"]`;
  await page.waitForSelector(row);
  const cells = await page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));
  check(cells[1] === 'osaka/suita' && cells[2] === '25/25' && cells[4] === '有効', 'listed: ' + JSON.stringify(cells));
  check(cells[7] === '<b>保険課</b> 入替', 'note shown as text: ' + cells[7]);
  check(!(await page.content()).includes(text) || await page.isVisible('#enroll-new'), 'secret only in the panel');
  await page.click('#enroll-new-close');
  check(await page.isHidden('#enroll-new'), 'panel closed');
  check(!(await page.content()).includes(text.slice(12)), 'secret gone from the page');
  await page.screenshot({ path: join(artifacts, 'enrollment-ja.png'), fullPage: true });

  await page.click(`${row} button.revoke`);
  await page.waitForSelector(`${row}[data-state="revoked"]`);
  check((await page.textContent(`${row} td:nth-child(5)`)) === '失効', 'revoked state shown');
  check((await page.$$(`${row} button.revoke`)).length === 0, 'no revoke button on a revoked token');

  // A viewer reads, in English, and cannot create or revoke.
  const en = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US', viewport: { width: 1280, height: 900 } });
  const viewer = await en.newPage();
  watch(viewer, 'viewer');
  await loginAs(viewer, 'MAMORI_VIEWER');
  await viewer.click('#pages button[data-page="enrollment"]');
  await viewer.waitForSelector(`#enroll-tokens-body tr[data-id="${id}"]`);
  check((await viewer.textContent('#enrollment-view h2')) === 'Enrollment', 'English heading');
  check(await viewer.isHidden('#enroll-create'), 'no create form for viewers');
  check((await viewer.$$('#enroll-tokens-body button.revoke')).length === 0, 'no revoke for viewers');
  const refused = await viewer.evaluate(async () => {
    const csrf = state.csrf;
    const res = await fetch('/api/enroll-tokens', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: '{"group":"osaka"}' });
    return res.status;
  });
  check(refused === 403, 'server refuses a viewer: ' + refused);
  await viewer.screenshot({ path: join(artifacts, 'enrollment-en.png'), fullPage: true });

  checkNoProblems(/status of (401|403)/);
  console.log('enrollment browser checks passed; screenshots in ' + artifacts);
} finally {
  await browser.close();
}
