// Revoking and retiring a terminal from the dashboard in Debian's headless
// Chromium (playwright-core). An admin (Japanese browser) opens a terminal
// the agent reported, is asked for a reason, confirms, and sees 失効 in the
// detail and the list; then retires another and finds it only under the
// 廃止 filter. A viewer sees no revocation controls. Started by
// revocation_browser_test.cc with a real collector and agents:
//   MAMORI_URL, MAMORI_ADMIN(_PASSWORD, _TOTP_SECRET), MAMORI_VIEWER(...),
//   MAMORI_REVOKE, MAMORI_RETIRE (terminal ids), MAMORI_ARTIFACT_DIR.
// Exits non-zero with a message on the first failed check.
import { join } from 'node:path';
import { artifacts, check, checkNoProblems, env, launchBrowser, loginAs, watch } from './session.mjs';

const revokeId = env('MAMORI_REVOKE');
const retireId = env('MAMORI_RETIRE');

async function openTerminal(page, id) {
  await page.click('#overview-body tr[data-group="osaka/suita"] td:first-child');
  await page.waitForSelector(`#terminals-body tr[data-terminal="${id}"]`);
  await page.click(`#terminals-body tr[data-terminal="${id}"] td:first-child`);
  await page.waitForSelector('#detail:not([hidden])');
  await page.waitForFunction((want) => document.getElementById('detail-id').textContent === want, id);
}

const browser = await launchBrowser();
try {
  // A viewer: no controls.
  const viewerCtx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', viewport: { width: 1280, height: 900 } });
  const viewer = await viewerCtx.newPage();
  watch(viewer, 'viewer');
  await loginAs(viewer, 'MAMORI_VIEWER');
  await viewer.waitForSelector('#overview-body tr');
  await openTerminal(viewer, revokeId);
  check(await viewer.isHidden('#detail-revocation'), 'no revocation controls for viewers');
  const forbidden = await viewer.evaluate(async (id) => (await fetch('/api/terminals/' + id + '/revoke', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"reason":"x"}' })).status, revokeId);
  check(forbidden === 403, 'viewer POST refused: ' + forbidden);

  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watch(page, 'admin');
  await loginAs(page, 'MAMORI_ADMIN');
  await page.waitForSelector('#overview-body tr');
  await openTerminal(page, revokeId);
  check(await page.isVisible('#detail-revocation'), 'revocation controls for admins');
  check((await page.textContent('#detail-standing')) === '運用中', 'in service before');

  // No reason: refused in the page, nothing asked.
  await page.click('#revoke-terminal');
  check((await page.textContent('#revocation-error')).includes('理由'), 'reason required');
  check(await page.isHidden('#revocation-confirm'), 'no confirmation without a reason');

  // A reason, then the confirmation naming the terminal; cancel first.
  await page.fill('#revocation-reason', '盗難届 2026-12-07');
  await page.click('#revoke-terminal');
  await page.waitForSelector('#revocation-confirm:not([hidden])');
  check((await page.textContent('#revocation-question')).includes(revokeId), 'confirmation names the terminal');
  await page.click('#revocation-no');
  check(await page.isHidden('#revocation-confirm'), 'cancelled');
  check((await page.textContent('#detail-standing')) === '運用中', 'nothing done on cancel');
  await page.click('#revoke-terminal');
  await page.waitForSelector('#revocation-confirm:not([hidden])');
  await page.click('#revocation-yes');

  await page.waitForFunction(() => document.getElementById('detail-standing').textContent === '失効');
  check((await page.textContent('#detail-status')) === '非準拠', 'non-compliant: ' + await page.textContent('#detail-status'));
  const evidence = await page.textContent('#checks-body tr[data-check="not_revoked"] td.evidence');
  check(evidence.includes('盗難届 2026-12-07') && evidence.includes('web:' + env('MAMORI_ADMIN')), 'evidence: ' + evidence);
  await page.waitForFunction((id) => {
    const row = document.querySelector(`#terminals-body tr[data-terminal="${id}"]`);
    return row && row.dataset.standing === 'revoked' && row.textContent.includes('失効');
  }, revokeId);
  check(await page.isHidden('#revoke-terminal'), 'no second revoke');
  await page.screenshot({ path: join(artifacts, 'revoked-ja.png'), fullPage: true });

  // Retire the other one: it leaves the list, the filter shows it.
  await page.click(`#terminals-body tr[data-terminal="${retireId}"] td:first-child`);
  await page.waitForFunction((want) => document.getElementById('detail-id').textContent === want, retireId);
  await page.fill('#revocation-reason', '廃棄（リース返却）');
  await page.click('#retire-terminal');
  await page.waitForSelector('#revocation-confirm:not([hidden])');
  await page.click('#revocation-yes');
  await page.waitForFunction((want) => document.getElementById('detail-standing').textContent === want, '廃止');
  await page.waitForFunction((id) => !document.querySelector(`#terminals-body tr[data-terminal="${id}"]`), retireId);
  await page.selectOption('#terminals-standing', 'retired');
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('#terminals-body tr')];
    return rows.length === 1 && rows[0].dataset.terminal === id && rows[0].textContent.includes('廃止');
  }, retireId);

  // Both recorded in the audit log with the reason.
  const audit = await page.evaluate(async () => (await (await fetch('/api/audit', { headers: { Accept: 'application/json' } })).json()));
  const actions = (audit.entries || []).map((e) => e.action + ' ' + e.target + ' ' + e.detail);
  check(actions.some((a) => a === `terminal.revoke terminal:${revokeId} 盗難届 2026-12-07`), 'audit revoke: ' + JSON.stringify(actions));
  check(actions.some((a) => a === `terminal.retire terminal:${retireId} 廃棄（リース返却）`), 'audit retire: ' + JSON.stringify(actions));

  checkNoProblems(/status of (401|403)/);
  console.log('revocation browser checks passed; screenshots in ' + artifacts);
} finally {
  await browser.close();
}
