// Time-limited exceptions in Debian's headless Chromium (playwright-core).
// An operator (Japanese browser) requests an exception for the agent's
// stick on its terminal; a viewer sees it but has no form and is refused by
// the API; an admin (English browser) approves it; the terminal's page shows
// it active, then ended once its short window is over. Started by
// exceptions_browser_test.cc with a real collector and agent:
//   MAMORI_URL, MAMORI_OPERATOR*, MAMORI_VIEWER*, MAMORI_ADMIN* (name,
//   _PASSWORD, _TOTP_SECRET), MAMORI_TERMINAL, MAMORI_SERIAL,
//   MAMORI_WINDOW_SECONDS, MAMORI_ARTIFACT_DIR.
// Exits non-zero with a message on the first failed check.
import { join } from 'node:path';
import { artifacts, check, checkNoProblems, env, launchBrowser, loginAs, watch } from './session.mjs';

const terminal = env('MAMORI_TERMINAL');
const serial = env('MAMORI_SERIAL');
const windowSeconds = Number(env('MAMORI_WINDOW_SECONDS'));
// A datetime-local value in JST, `offset` seconds from now. Chromium keeps a
// datetime-local value without its seconds when they are zero, and
// playwright's fill() refuses a value that does not read back the same, so
// ":00" seconds are left out the way the browser writes them.
const jst = (offset) => new Date(Date.now() + offset * 1000 + 9 * 3600 * 1000)
  .toISOString().slice(0, 19).replace(/:00$/, '');

const browser = await launchBrowser();
try {
  const ja = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', viewport: { width: 1400, height: 900 } });
  const op = await ja.newPage();
  watch(op, 'operator');
  await loginAs(op, 'MAMORI_OPERATOR');
  // The device is picked from the event that blocked it, on the terminal's page.
  await op.click('#overview-body tr[data-group="osaka/suita"]');
  await op.click(`#terminals-body tr[data-terminal="${terminal}"]`);
  await op.click('#detail-events-body tr[data-kind="EVENT_KIND_DEVICE_BLOCKED"] button.exception-from-event');
  await op.waitForSelector('#exceptions-view:not([hidden])');
  check((await op.textContent('#exceptions-view h2')) === '期間限定の例外', 'Japanese heading');
  await op.waitForSelector('#exceptions-request:not([hidden])');
  check((await op.inputValue('#exception-event')).startsWith(terminal + '#'), 'block event prefilled');
  check((await op.inputValue('#exception-serial')) === serial, 'serial shown from the event');
  await op.fill('#exception-until', jst(windowSeconds));
  await op.fill('#exception-reason', '監査資料の受け渡し');
  await op.fill('#exception-for', '山田太郎');
  await op.click('#exception-submit');
  await op.waitForSelector('#exceptions-body tr[data-state="requested"]');
  const id = await op.getAttribute('#exceptions-body tr[data-state="requested"]', 'data-exception');
  const requested = await op.$$eval('#exceptions-body tr[data-state="requested"] td', (tds) => tds.map((td) => td.textContent));
  check(requested.includes(serial) && requested.includes('0781:5581') && requested.includes(terminal),
    'the event\'s device and terminal: ' + JSON.stringify(requested));
  check((await op.textContent('#exceptions-result')).includes('EX-' + id), 'request confirmed');
  // Operators cannot approve.
  check(await op.$$eval('#exceptions-body button.exception-approve', (b) => b.length) === 0, 'no approve for operators');

  // A viewer sees the request, has no form, and the API refuses a request.
  const viewerCtx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP' });
  const viewer = await viewerCtx.newPage();
  watch(viewer, 'viewer');
  await loginAs(viewer, 'MAMORI_VIEWER');
  await viewer.click('#pages button[data-page="exceptions"]');
  await viewer.waitForSelector(`#exceptions-body tr[data-exception="${id}"]`);
  check(await viewer.isHidden('#exceptions-request'), 'no request form for viewers');
  const refused = await viewer.evaluate(async () => {
    const me = await (await fetch('/api/me')).json();
    const res = await fetch('/api/exceptions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrfToken },
      body: JSON.stringify({ terminalId: 'x', vidPid: '0781:5581', serial: 's', reason: 'r', requestedFor: 'f', until: '2099-01-01T00:00:00Z' }),
    });
    return res.status;
  });
  check(refused === 403, 'viewer request refused: ' + refused);

  // The admin, in English, approves.
  const en = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US', viewport: { width: 1400, height: 900 } });
  const admin = await en.newPage();
  watch(admin, 'admin');
  await loginAs(admin, 'MAMORI_ADMIN');
  await admin.click('#pages button[data-page="exceptions"]');
  const row = `#exceptions-body tr[data-exception="${id}"]`;
  await admin.waitForSelector(`${row} button.exception-approve`);
  await admin.fill(`${row} input.exception-note`, 'approved by the section chief');
  await admin.click(`${row} button.exception-approve`);
  await admin.waitForSelector(`#exceptions-body tr[data-exception="${id}"][data-state="active"]`);
  check(/osaka v\d+/.test(await admin.textContent('#exceptions-result')), 'new policy version reported');

  // The terminal's page: active now, ended after the window.
  const openTerminal = async () => {
    await admin.click('#pages button[data-page="overview"]');
    await admin.waitForSelector('#overview-body tr');
    await admin.click('#overview-body tr[data-group="osaka/suita"]');
    await admin.waitForSelector(`#terminals-body tr[data-terminal="${terminal}"]`);
    await admin.click(`#terminals-body tr[data-terminal="${terminal}"]`);
    await admin.waitForSelector(`#detail-exceptions-body tr[data-exception="${id}"]`);
    return admin.getAttribute(`#detail-exceptions-body tr[data-exception="${id}"]`, 'data-state');
  };
  check((await openTerminal()) === 'active', 'active on the terminal page');
  await admin.screenshot({ path: join(artifacts, 'exception-active-en.png'), fullPage: true });
  const deadline = Date.now() + (windowSeconds + 30) * 1000;
  let stateNow = 'active';
  while (stateNow !== 'ended' && Date.now() < deadline) {
    await admin.waitForTimeout(2000);
    stateNow = await openTerminal();
  }
  check(stateNow === 'ended', 'ended on the terminal page: ' + stateNow);
  await admin.screenshot({ path: join(artifacts, 'exception-ended-en.png'), fullPage: true });

  checkNoProblems(/status of (401|403)/);
  console.log('exception browser checks passed; screenshots in ' + artifacts);
} finally {
  await browser.close();
}
