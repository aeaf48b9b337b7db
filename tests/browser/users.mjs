// User management in Debian's headless Chromium (playwright-core): an admin
// adds a user on the Users page, the one-time panel shows the password,
// the otpauth URI and its QR code, and the new user logs in with them in a
// fresh browser. Started by browser_test.cc with a real collector:
//   MAMORI_URL, MAMORI_ADMIN, MAMORI_ADMIN_PASSWORD,
//   MAMORI_ADMIN_TOTP_SECRET (base32), MAMORI_ARTIFACT_DIR.
// Exits non-zero with a message on the first failed check.
import { join } from 'node:path';
import { secretOfUri } from './totp.mjs';
import { artifacts, check, checkNoProblems, env, launchBrowser, login, loginAs, watch } from './session.mjs';

const browser = await launchBrowser();
try {
  const adminContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US', viewport: { width: 1100, height: 900 } });
  const admin = await adminContext.newPage();
  watch(admin, 'admin');
  await loginAs(admin, 'MAMORI_ADMIN');

  // The Users page is in the navigation for admins.
  const nav = '#pages button[data-page="users"]';
  check(await admin.isVisible(nav), 'Users button visible to an admin');
  await admin.click(nav);
  await admin.waitForSelector('#users-view:not([hidden])');
  await admin.waitForSelector(`#users-body tr[data-user="${env('MAMORI_ADMIN')}"]`);

  // Add a user.
  await admin.fill('#users-add-name', 'nora');
  await admin.selectOption('#users-add-role', 'operator');
  await admin.click('#users-add-submit');
  await admin.waitForSelector('#users-credentials:not([hidden])');
  await admin.waitForFunction(() => {
    const img = document.getElementById('users-cred-qr');
    return img.complete && img.naturalWidth > 0;
  });
  const shown = await admin.evaluate(() => {
    const img = document.getElementById('users-cred-qr');
    return {
      width: img.naturalWidth,
      src: img.getAttribute('src') || '',
      password: document.getElementById('users-cred-password').textContent,
      uri: document.getElementById('users-cred-uri').textContent,
      warning: document.querySelector('#users-credentials .warning').textContent,
      name: document.getElementById('users-cred-name').textContent,
    };
  });
  check(shown.width > 0, 'QR image decoded, naturalWidth ' + shown.width);
  check(shown.src.startsWith('data:image/svg+xml'), 'QR image is a data: SVG: ' + shown.src.slice(0, 40));
  check(shown.uri.startsWith('otpauth://totp/Mamori:nora?secret='), 'otpauth URI shown: ' + shown.uri);
  check(shown.password.length === 20, 'one-time password shown');
  check(shown.warning.includes('Shown only now'), 'one-time warning in English: ' + shown.warning);
  check(shown.name.startsWith('nora'), 'panel names the user: ' + shown.name);
  await admin.waitForSelector('#users-body tr[data-user="nora"]');
  check(await admin.$eval('#users-body tr[data-user="nora"] select.role', (s) => s.value) === 'operator',
    'new user listed as operator');
  await admin.screenshot({ path: join(artifacts, 'users-en.png'), fullPage: true });

  // A language switch redraws the page but keeps the one-time panel.
  await admin.click('#lang-ja');
  await admin.waitForFunction(() => document.querySelector('#users-view h2').textContent === 'ユーザー管理');
  check(await admin.isVisible('#users-credentials'), 'panel kept over a language switch');
  const jaWarning = await admin.textContent('#users-credentials .warning');
  check(jaWarning.includes('表示は今回限り'), 'one-time warning in Japanese: ' + jaWarning);
  check((await admin.textContent('#users-cred-password')) === shown.password, 'password still shown');
  check((await admin.textContent('#users-cred-name')) === 'nora (運用者)', 'role named in Japanese');
  await admin.screenshot({ path: join(artifacts, 'users-ja.png'), fullPage: true });

  // Done clears the secrets from the page.
  await admin.click('#users-cred-done');
  check(!(await admin.isVisible('#users-credentials')), 'panel hidden after Done');
  check((await admin.textContent('#users-cred-password')) === '', 'password removed from the page');
  check(!(await admin.$eval('#users-cred-qr', (img) => img.hasAttribute('src'))), 'QR removed from the page');

  // The new user logs in in a fresh browser with what the panel showed.
  const userContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
  const user = await userContext.newPage();
  watch(user, 'nora');
  await login(user, 'nora', shown.password, secretOfUri(shown.uri));
  check((await user.textContent('#whoami')).startsWith('nora'), 'logged in as nora');
  check(!(await user.isVisible(nav)), 'Users button hidden from an operator');
  const forbidden = await user.evaluate(async () => (await fetch('/api/users')).status);
  check(forbidden === 403, 'operator gets 403 on /api/users, got ' + forbidden);

  // The admin disables her (two clicks: the button asks once more).
  await admin.click('#users-body tr[data-user="nora"] button.disable');
  await admin.click('#users-body tr[data-user="nora"] button.disable');
  await admin.waitForFunction(() => {
    const td = document.querySelector('#users-body tr[data-user="nora"] td.status');
    return td && td.textContent === '無効';
  });
  const after = await user.evaluate(async () => (await fetch('/api/me')).status);
  check(after === 401, 'a disabled user\'s session is refused, got ' + after);

  checkNoProblems(/status of 40[13]/);
  console.log('user management checks passed; screenshots in ' + artifacts);
} finally {
  await browser.close();
}
