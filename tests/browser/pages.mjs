// The events and policies pages and the overview's trend chart in Debian's
// headless Chromium (playwright-core). Started by pages_test.cc with a real
// collector and an agent whose simulated stick is blocked:
//   MAMORI_URL, MAMORI_VIEWER, MAMORI_VIEWER_PASSWORD, MAMORI_VIEWER_TOTP_SECRET,
//   MAMORI_OPERATOR, MAMORI_OPERATOR_PASSWORD, MAMORI_OPERATOR_TOTP_SECRET
//   (base32), MAMORI_TERMINAL, MAMORI_SERIAL, MAMORI_ARTIFACT_DIR.
// A viewer finds applying impossible (no editor, and a forged POST with the
// viewer's own CSRF token is refused); an operator dry-runs and applies a
// new version and sees it in the history; the events CSV download holds the
// blocked stick; both pages switch language.
// Exits non-zero with a message on the first failed check.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, check, checkNoProblems, env, launchBrowser, loginAs, watch } from './session.mjs';

const terminal = env('MAMORI_TERMINAL');
const serial = env('MAMORI_SERIAL');

async function openPolicies(page, group) {
  await page.click('#pages button[data-page="policies"]');
  await page.waitForSelector('#policies-view:not([hidden])');
  await page.fill('#policies-group', group);
  await page.click('#policies-load');
  await page.waitForSelector('#policies-current:not([hidden])');
}

const newPolicy = [
  'name: browser-applied',
  'rules:',
  '  - name: keyboards',
  '    match: {class: hid}',
  '    action: allow',
  '  - name: no-sticks',
  '    match: {class: mass_storage}',
  '    action: block',
  '',
].join('\n');

const browser = await launchBrowser();
try {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, locale: 'en-US', acceptDownloads: true, viewport: { width: 1200, height: 900 },
  });
  const page = await context.newPage();
  watch(page, 'en');

  // --- Viewer -------------------------------------------------------------
  await loginAs(page, 'MAMORI_VIEWER');
  // The overview's trend: an SVG with a text alternative, and its figures.
  await page.waitForSelector('#trend-figure svg[role="img"]');
  const label = await page.getAttribute('#trend-figure svg', 'aria-label');
  check(/Compliance rate/.test(label), 'trend chart labelled in English: ' + label);
  check(await page.$$eval('#trend-body tr', (rows) => rows.length) >= 1, 'trend figures listed');
  check((await page.textContent('#overview-table thead')).includes('Not reporting'), 'stale column shown');

  await openPolicies(page, 'osaka');
  check(!(await page.isVisible('#policies-editor')), 'no editor for a viewer');
  check(await page.isVisible('#policies-readonly'), 'viewer told the page is read-only');
  check(await page.isDisabled('#policies-apply'), 'apply disabled for a viewer');
  // The server is the real guard: a forged apply with the viewer's own
  // session and CSRF token is refused, and nothing is stored.
  const forged = await page.evaluate(async (yaml) => {
    const me = await (await fetch('/api/me')).json();
    const res = await fetch('/api/policies/apply', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrfToken },
      body: JSON.stringify({ group: 'osaka', policyYaml: yaml }),
    });
    const history = await (await fetch('/api/policies/history?group=osaka')).json();
    return { status: res.status, versions: (history.entries || []).length };
  }, newPolicy);
  check(forged.status === 403, 'viewer apply answered 403, got ' + forged.status);
  check(forged.versions === 0, 'nothing stored by the refused apply: ' + forged.versions);
  await page.screenshot({ path: join(artifacts, 'policies-viewer-en.png'), fullPage: true });

  // The events page lists the blocked stick; its hostile product is text.
  await page.click('#pages button[data-page="events"]');
  await page.waitForSelector('#events-view:not([hidden])');
  await page.waitForSelector(`#events-body tr[data-terminal="${terminal}"]`);
  const rowTexts = await page.$$eval('#events-body tr', (rows) => rows.map((r) => r.textContent));
  check(rowTexts.some((r) => r.includes(serial) && r.includes('blocked')), 'blocked stick listed: ' + JSON.stringify(rowTexts));
  check(await page.$$eval('#events-body script, #events-body img, #events-body b', (els) => els.length) === 0,
    'no element injected by device strings');

  // The CSV download carries the current filter and the stick's row.
  await page.fill('#events-terminal', terminal);
  await page.click('#events-apply');
  await page.waitForSelector(`#events-body tr[data-terminal="${terminal}"]`);
  const href = await page.getAttribute('#events-csv', 'href');
  check(href.includes('terminal=' + encodeURIComponent(terminal)), 'CSV link has the filter: ' + href);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#events-csv')]);
  const csv = readFileSync(await download.path(), 'utf8');
  check(csv.charCodeAt(0) === 0xfeff, 'CSV starts with a BOM');
  check(csv.includes('"time (JST)","terminal","group"'), 'English CSV header: ' + csv.slice(0, 120));
  const line = csv.split('\r\n').find((l) => l.includes(serial));
  check(line !== undefined, 'CSV has the stick row: ' + csv);
  check(line.includes(`"${terminal}","osaka/suita"`) && line.includes('"device_blocked","block","0781:5581"'),
    'CSV row content: ' + line);
  check(/^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00"/.test(line), 'CSV time in JST: ' + line);
  check(line.includes('"<script>alert(\'x\')</script>"'), 'hostile product quoted as text: ' + line);
  await page.screenshot({ path: join(artifacts, 'events-en.png'), fullPage: true });

  // Language switch on the events page keeps the page.
  await page.click('#lang-ja');
  await page.waitForFunction(() => document.querySelector('#events-view h2').textContent === 'ブロックされた接続と制御の失敗');
  check(await page.isVisible('#events-view'), 'events page kept over a language switch');
  check((await page.textContent('#events-csv')) === 'CSV出力', 'export link in Japanese');
  // The page reloads its rows after the switch; the link follows.
  await page.waitForFunction(() => document.getElementById('events-csv').href.includes('lang=ja'));
  await page.waitForFunction(() => [...document.querySelectorAll('#events-body td')].some((td) => td.textContent === 'ブロック'));
  await page.screenshot({ path: join(artifacts, 'events-ja.png'), fullPage: true });
  await page.click('#lang-en');
  await page.waitForFunction(() => document.querySelector('#events-view h2').textContent.startsWith('Blocked'));

  await page.click('#logout');
  await page.waitForSelector('#login-view:not([hidden])');

  // --- Operator -----------------------------------------------------------
  await loginAs(page, 'MAMORI_OPERATOR');
  await openPolicies(page, 'osaka');
  check(await page.isVisible('#policies-editor'), 'editor shown to an operator');
  check(!(await page.isDisabled('#policies-apply')), 'apply enabled for an operator');

  // A broken document: the dry run lists problems with line and column.
  await page.fill('#policies-new', 'name: broken\nrules:\n  - name: r\n    action: explode\n');
  await page.click('#policies-dry-run');
  await page.waitForSelector('#policies-problems li');
  const problemsShown = await page.$$eval('#policies-problems li', (lis) => lis.map((li) => li.textContent));
  check(problemsShown.some((p) => /dashboard:4:\d+:/.test(p)), 'problem with line:column: ' + JSON.stringify(problemsShown));

  // A good one: dry run, then apply with confirmation.
  await page.fill('#policies-new', newPolicy);
  await page.click('#policies-dry-run');
  await page.waitForFunction(() => document.getElementById('policies-result-summary').textContent.startsWith('Valid'));
  check((await page.textContent('#policies-dry-diff')).includes('+name: browser-applied'), 'dry run shows the diff');
  check(await page.$$eval('#policies-problems li', (lis) => lis.length) === 0, 'no problems for a valid document');
  await page.click('#policies-apply');
  await page.waitForSelector('#policies-confirm:not([hidden])');
  check((await page.textContent('#policies-confirm-text')).includes('osaka'), 'confirmation names the group');
  await page.click('#policies-confirm-yes');
  await page.waitForSelector('#policies-history tr[data-version]');
  const history = await page.$$eval('#policies-history tr', (rows) => rows.map((r) => r.textContent));
  check(history.length === 1 && history[0].includes('browser-applied') && history[0].includes('web:' + env('MAMORI_OPERATOR')),
    'history shows the new version by web:<user>: ' + JSON.stringify(history));
  check((await page.textContent('#policies-yaml')).includes('name: browser-applied'), 'current YAML is the new version');
  check((await page.textContent('#policies-result-summary')).startsWith('Version'), 'applied message');
  await page.click('#policies-history tr button.diff-previous');
  await page.waitForSelector('#policies-diff:not([hidden])');
  check((await page.textContent('#policies-diff')).includes('+  - name: no-sticks'), 'diff against previous');
  await page.screenshot({ path: join(artifacts, 'policies-en.png'), fullPage: true });

  // Language switch on the policies page.
  await page.click('#lang-ja');
  await page.waitForFunction(() => document.querySelector('#policies-view h2').textContent === 'ポリシー');
  // The page redraws its history after the switch.
  await page.waitForFunction(() => {
    const b = document.querySelector('#policies-history button.diff-previous');
    return b && b.textContent === '前の版との差分';
  });
  check(await page.isVisible('#policies-history tr[data-version]'), 'history kept over a language switch');
  await page.screenshot({ path: join(artifacts, 'policies-ja.png'), fullPage: true });

  // And the overview's chart follows the language.
  await page.click('#pages button[data-page="overview"]');
  await page.waitForFunction(() => {
    const svg = document.querySelector('#trend-figure svg[role="img"]');
    return svg && svg.getAttribute('aria-label').includes('準拠率');
  });
  check((await page.textContent('#trend-table thead')).includes('報告途絶'), 'trend figures in Japanese');
  await page.screenshot({ path: join(artifacts, 'overview-trend-ja.png'), fullPage: true });

  checkNoProblems(/status of 40[013]/);
  console.log('events, policies and trend checks passed; screenshots in ' + artifacts);
} finally {
  await browser.close();
}
