// The media ledger and audit log pages in Debian's headless Chromium
// (playwright-core). An operator (Japanese browser) finds the agent's
// unregistered stick, registers it from the page, sees it listed, and has a
// CSV with a bad line refused with its line number; an admin (English
// browser) finds the registration in the audit log. Started by
// ledger_browser_test.cc with a real collector and agent:
//   MAMORI_URL, MAMORI_OPERATOR, MAMORI_OPERATOR_PASSWORD,
//   MAMORI_OPERATOR_TOTP_SECRET, MAMORI_ADMIN, MAMORI_ADMIN_PASSWORD,
//   MAMORI_ADMIN_TOTP_SECRET (base32), MAMORI_SERIAL, MAMORI_ARTIFACT_DIR.
// Exits non-zero with a message on the first failed check.
import { join } from 'node:path';
import { artifacts, check, checkNoProblems, env, launchBrowser, loginAs, watch } from './session.mjs';

const serial = env('MAMORI_SERIAL');

const browser = await launchBrowser();
try {
  // The operator, in Japanese.
  const ja = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', viewport: { width: 1280, height: 900 } });
  const page = await ja.newPage();
  watch(page, 'operator');
  await loginAs(page, 'MAMORI_OPERATOR');
  check(await page.isHidden('#pages button[data-page="audit"]'), 'audit log hidden from operators');
  await page.click('#pages button[data-page="ledger"]');
  await page.waitForSelector('#ledger-view:not([hidden])');
  check((await page.textContent('#ledger-view h2')) === '外部記録媒体管理台帳', 'Japanese ledger heading');
  await page.waitForSelector('#ledger-empty:not([hidden])');

  // The stick the agent reported, not yet in the ledger.
  await page.click('#ledger-tab-unregistered');
  const unregRow = `#ledger-unreg-body tr[data-serial="${serial}"]`;
  await page.waitForSelector(unregRow);
  const product = await page.textContent(`${unregRow} td.product`);
  check(product.includes('<img'), 'hostile product shown as text: ' + product);
  check(await page.$$eval('#ledger-unreg-body img, #ledger-unreg-body script', (els) => els.length) === 0, 'no element injected');

  // Register it from that row: the form comes prefilled.
  await page.click(`${unregRow} button`);
  await page.waitForSelector('#ledger-media-panel:not([hidden])');
  check((await page.inputValue('#ledger-serial')) === serial, 'serial prefilled');
  check((await page.inputValue('#ledger-vidpid')) === '0781:5581', 'vid:pid prefilled');
  check((await page.inputValue('#ledger-group')) === 'osaka/suita', 'group prefilled');
  await page.fill('#ledger-group', 'osaka');
  await page.fill('#ledger-owner', '山田太郎');
  await page.fill('#ledger-department', '保険課');
  await page.fill('#ledger-expires', '2099-12-31');
  await page.click('#ledger-add-submit');
  const row = `#ledger-body tr[data-serial="${serial}"]`;
  await page.waitForSelector(row);
  const cells = await page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));
  check(cells.includes('山田太郎') && cells.includes('2099-12-31') && cells.includes('有効'), 'listed: ' + JSON.stringify(cells));
  const result = await page.textContent('#ledger-result');
  check(/osaka v\d+/.test(result), 'new policy version reported: ' + result);

  // A CSV with a bad third line: nothing imported, the line named.
  await page.setInputFiles('#ledger-import-file', {
    name: 'media.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('\ufeffserial,vendor_id,product_id,owner,department,group,expires,note\r\n' +
      'CSV-OK,0781,5581,佐藤花子,情報政策課,osaka,,\r\n' +
      'CSV-BAD,0781,5581,佐藤花子,情報政策課,osaka,2027-02-30,\r\n'),
  });
  await page.click('#ledger-import-submit');
  await page.waitForSelector('#ledger-import-errors li');
  const errors = await page.$$eval('#ledger-import-errors li', (lis) => lis.map((li) => li.textContent));
  check(errors.length === 1 && errors[0].startsWith('行 3:'), 'line 3 reported: ' + JSON.stringify(errors));
  check(await page.$$eval('#ledger-body tr', (trs) => trs.length) === 1, 'nothing imported');

  // The export a spreadsheet opens.
  const csv = await page.evaluate(async () => {
    const res = await fetch('/api/media/export');
    return new Uint8Array(await res.arrayBuffer()).slice(0, 3).join(',') + '|' + (await (await fetch('/api/media/export')).text());
  });
  check(csv.startsWith('239,187,191|'), 'export starts with a UTF-8 BOM: ' + csv.slice(0, 20));
  check(csv.includes(serial + ',0781,5581,山田太郎,保険課,osaka,2099-12-31,'), 'export row: ' + csv);
  await page.screenshot({ path: join(artifacts, 'ledger-ja.png'), fullPage: true });

  // The admin, in English, finds it in the audit log.
  const en = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US', viewport: { width: 1280, height: 900 } });
  const admin = await en.newPage();
  watch(admin, 'admin');
  await loginAs(admin, 'MAMORI_ADMIN');
  await admin.click('#pages button[data-page="audit"]');
  await admin.waitForSelector('#audit-view:not([hidden])');
  check((await admin.textContent('#audit-view h2')) === 'Audit log', 'English audit heading');
  await admin.selectOption('#audit-action', 'ledger.add');
  await admin.click('#audit-apply');
  // The unfiltered list already holds the ledger.add row: wait for the
  // filtered one to replace it.
  await admin.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#audit-body tr')];
    return rows.length > 0 && rows.every((tr) => tr.dataset.action === 'ledger.add');
  });
  const entries = await admin.$$eval('#audit-body tr', (trs) => trs.map((tr) => Array.from(tr.children).map((td) => td.textContent)));
  check(entries.length === 1, 'one ledger.add entry: ' + JSON.stringify(entries));
  check(entries[0][1] === 'web:' + env('MAMORI_OPERATOR') && entries[0][4] === 'ok', 'actor and outcome: ' + JSON.stringify(entries[0]));
  check(entries[0][5].includes('serial=' + serial), 'detail names the serial: ' + entries[0][5]);
  check(/^\d{2}\/\d{2}\/\d{4}, \d{2}:\d{2}:\d{2}$/.test(entries[0][0]), 'time in JST format: ' + entries[0][0]);
  await admin.selectOption('#audit-action', 'ledger.import');
  await admin.click('#audit-apply');
  await admin.waitForSelector('#audit-body tr[data-action="ledger.import"]');
  check((await admin.textContent('#audit-body tr td:nth-child(5)')) === 'failed', 'failed import audited');
  await admin.screenshot({ path: join(artifacts, 'audit-en.png'), fullPage: true });

  // Only expected console noise: the 401 of /api/me before login.
  checkNoProblems(/status of 401/);
  console.log('ledger browser checks passed; screenshots in ' + artifacts);
} finally {
  await browser.close();
}
