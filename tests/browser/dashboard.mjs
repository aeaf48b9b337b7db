// Drives the dashboard in Debian's headless Chromium (playwright-core, no
// browser download). Started by browser_test.cc, which runs a real
// collector and agent and passes everything through the environment:
//   MAMORI_URL, MAMORI_USER, MAMORI_PASSWORD, MAMORI_TOTP_SECRET (base32),
//   MAMORI_TERMINAL, MAMORI_ARTIFACT_DIR.
// Exits non-zero with a message on the first failed check.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { base32Decode, totp } from './totp.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = env('MAMORI_URL');
const artifacts = env('MAMORI_ARTIFACT_DIR');
mkdirSync(artifacts, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error('check failed: ' + message);
}

const problems = [];
function watch(page, label) {
  // A hostile device string that executed would open a dialog or throw.
  page.on('dialog', async (d) => { problems.push(`${label}: dialog "${d.message()}"`); await d.dismiss(); });
  page.on('pageerror', (e) => problems.push(`${label}: page error ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${label}: console error ${m.text()}`); });
}

const browser = await chromium.launch({
  executablePath: process.env.MAMORI_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Running as root in CI containers needs --no-sandbox.
  args: ['--no-sandbox'],
});
try {
  // English browser: the page follows Accept-Language.
  const en = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US', viewport: { width: 1100, height: 700 } });
  const page = await en.newPage();
  watch(page, 'en');
  const response = await page.goto(url);
  const headers = response.headers();
  check(headers['content-security-policy']?.includes("default-src 'self'"), 'CSP header');
  check(headers['x-frame-options'] === 'DENY', 'X-Frame-Options');
  await page.waitForSelector('#login-view:not([hidden])');
  check((await page.textContent('#login-view h2')) === 'Log in', 'English login heading');

  // A wrong code is refused with a message, not a session.
  await page.fill('#login-name', env('MAMORI_USER'));
  await page.fill('#login-password', env('MAMORI_PASSWORD'));
  await page.fill('#login-code', '000000' === totp(base32Decode(env('MAMORI_TOTP_SECRET')), Date.now() / 1000) ? '111111' : '000000');
  await page.click('#login-submit');
  await page.waitForFunction(() => document.getElementById('login-error').textContent.length > 0);

  await page.fill('#login-password', env('MAMORI_PASSWORD'));
  await page.fill('#login-code', totp(base32Decode(env('MAMORI_TOTP_SECRET')), Date.now() / 1000));
  await page.click('#login-submit');
  await page.waitForSelector('#overview-view:not([hidden])');
  await page.waitForSelector('#overview-body tr');
  const groups = await page.$$eval('#overview-body tr td:first-child', (tds) => tds.map((td) => td.textContent));
  check(groups.includes('osaka/suita'), 'overview lists osaka/suita: ' + JSON.stringify(groups));
  check((await page.textContent('#overview-time')).length > 0, 'JST time shown');

  // The terminal with the hostile device: its strings appear as text only.
  await page.click('#overview-body tr[data-group="osaka/suita"] td:first-child');
  await page.waitForSelector('#terminals-body tr');
  // The pager counts the group's terminals; a failing-check filter the
  // terminal passes empties the list, and clearing it brings it back.
  const range = await page.textContent('#terminals-range');
  check(range === '1–1 of 1', 'pager shows 1–1 of 1: ' + JSON.stringify(range));
  await page.selectOption('#terminals-check', 'reporting');
  await page.waitForFunction(() => document.querySelector('#terminals-range').textContent === 'No terminal matches.');
  check((await page.$$('#terminals-body tr')).length === 0, 'filtered list is empty');
  await page.selectOption('#terminals-check', '');
  await page.waitForSelector('#terminals-body tr');
  // The agent sends its events apart from its state report: wait until the
  // collector holds the blocked attempt of the hostile device.
  const terminal = env('MAMORI_TERMINAL');
  const fetchDetail = () => page.evaluate(async (id) =>
    (await fetch('/api/terminals/' + encodeURIComponent(id), { headers: { Accept: 'application/json' } })).json(), terminal);
  const blockedKind = 'EVENT_KIND_DEVICE_BLOCKED';
  let detail = await fetchDetail();
  for (let i = 0; i < 100 && !(detail.recentEvents || []).some((e) => e.kind === blockedKind); ++i) {
    await page.waitForTimeout(200);
    detail = await fetchDetail();
  }
  check((detail.recentEvents || []).some((e) => e.kind === blockedKind),
    'collector holds the blocked event: ' + JSON.stringify(detail.recentEvents));
  await page.click(`#terminals-body tr[data-terminal="${terminal}"] td:first-child`);
  await page.waitForSelector('#devices-body tr');
  const products = await page.$$eval('#devices-body td.product', (tds) => tds.map((td) => td.textContent));
  check(products.some((p) => p.includes('<script>')), 'hostile product shown as text: ' + JSON.stringify(products));
  // The composite keyboard is blocked but keeps its HID interface.
  const decisions = await page.$$eval('#devices-body td.decision', (tds) => tds.map((td) => td.textContent));
  check(decisions.includes('blockkeeps: HID'), 'kept interface classes shown: ' + JSON.stringify(decisions));
  check((await page.textContent('#detail-id')) === terminal, 'detail heading names the terminal');
  check((await page.textContent('#detail-group')) === 'osaka/suita', 'detail shows the group');
  check((await page.textContent('#detail-enforcement')).includes('simulated'), 'detail shows the enforcement backend');

  // Every check the API returns, with a result label and its evidence.
  const readChecks = () => page.$$eval('#checks-body tr', (rows) => rows.map((r) => ({
    name: r.dataset.check, label: r.children[0].textContent, result: r.children[1].textContent,
    evidence: r.children[2].textContent })));
  const checks = await readChecks();
  const wantedChecks = ['reporting', 'policy_current', 'enforcement_active', 'no_unapproved_storage', 'clock_skew'];
  check(checks.length === detail.checks.length && checks.length >= wantedChecks.length,
    'checks table lists every check: ' + JSON.stringify(checks));
  for (const name of wantedChecks) {
    const row = checks.find((c) => c.name === name);
    const fromApi = detail.checks.find((c) => c.name === name);
    check(row && fromApi, 'check ' + name + ' listed: ' + JSON.stringify(checks));
    check(/^. (pass|fail|unknown)$/.test(row.result), 'check ' + name + ' has a result label: ' + JSON.stringify(row));
    // Evidence may name times ("last report 2.2 s ago at ..."), which move
    // between the page's request and this one: compare without the numbers.
    const shape = (text) => text.replace(/[0-9]+(\.[0-9]+)?/g, '#');
    check(row.evidence.length > 0 && shape(row.evidence) === shape(fromApi.evidence),
      'check ' + name + ' shows its evidence: ' + JSON.stringify(row));
  }
  check(checks.find((c) => c.name === 'no_unapproved_storage').label === 'no unapproved storage', 'check names translated');

  // Applied against assigned policy version.
  const versions = await page.textContent('#detail-policy-versions');
  check(/^applied v\d+ \/ assigned v\d+$/.test(versions), 'policy versions line: ' + JSON.stringify(versions));

  // The blocked attempt of the hostile device among the recent events, inert.
  const blocked = await page.$$eval('#detail-events-body tr[data-kind="EVENT_KIND_DEVICE_BLOCKED"]', (rows) => rows.map((r) => ({
    kind: r.children[1].textContent,
    vidPid: r.querySelector('td.device .vidpid')?.textContent,
    product: r.querySelector('td.device .product')?.textContent })));
  check(blocked.some((e) => e.kind === 'blocked' && e.vidPid === '0781:5581' && e.product === "<script>alert('x')</script>"),
    'blocked event of the hostile device shown as text: ' + JSON.stringify(blocked));
  check(await page.$$eval('#detail script, #detail img, #detail b', (els) => els.length) === 0, 'no element injected');
  await page.screenshot({ path: join(artifacts, 'terminal-en.png'), fullPage: true });

  // A language switch redraws the open detail in place.
  await page.click('#lang-ja');
  await page.waitForFunction(() => document.querySelector('#checks-body tr[data-check="reporting"] td').textContent === '定期報告');
  check(!(await page.isHidden('#detail')), 'detail stays open after a language switch');
  check(/^適用中 v\d+ \/ 割り当て v\d+$/.test(await page.textContent('#detail-policy-versions')), 'policy line in Japanese');
  check((await readChecks()).every((c) => /^. (合格|不合格|不明)$/.test(c.result)), 'check results in Japanese');
  check((await page.$$('#detail-events-body tr[data-kind="EVENT_KIND_DEVICE_BLOCKED"]')).length > 0, 'events kept after a language switch');
  await page.screenshot({ path: join(artifacts, 'terminal-ja.png'), fullPage: true });
  await page.click('#lang-en');
  await page.waitForFunction(() => document.querySelector('#checks-body tr[data-check="reporting"] td').textContent === 'reporting');
  await page.click('#back-overview');
  await page.waitForSelector('#overview-view:not([hidden])');
  await page.screenshot({ path: join(artifacts, 'overview-en.png'), fullPage: true });

  // Language switch.
  await page.click('#lang-ja');
  await page.waitForFunction(() => document.querySelector('#overview-view h2').textContent === 'グループ別の準拠状況');
  await page.screenshot({ path: join(artifacts, 'overview-ja.png'), fullPage: true });

  // A state-changing request without the CSRF header is refused.
  const status = await page.evaluate(async () => (await fetch('/api/logout', { method: 'POST' })).status);
  check(status === 403, 'POST without CSRF token refused, got ' + status);

  await page.click('#logout');
  await page.waitForSelector('#login-view:not([hidden])');
  const after = await page.evaluate(async () => (await fetch('/api/me')).status);
  check(after === 401, 'session ended after logout, got ' + after);

  // A Japanese browser gets the Japanese page first.
  const ja = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP' });
  const jaPage = await ja.newPage();
  watch(jaPage, 'ja');
  await jaPage.goto(url);
  await jaPage.waitForSelector('#login-view:not([hidden])');
  check((await jaPage.textContent('#login-view h2')) === 'ログイン', 'Japanese login heading');

  // The browser logs a 401 /api/me and the failed login as console errors;
  // those are expected, anything else is not.
  const unexpected = problems.filter((p) => !/status of 40[13]/.test(p));
  check(unexpected.length === 0, 'no dialogs or script errors: ' + JSON.stringify(unexpected));
  console.log('browser checks passed; screenshots in ' + artifacts);
} finally {
  await browser.close();
}
