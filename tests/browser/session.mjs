// What the dashboard scenarios in Chromium share: their settings from the
// environment, checks, the browser, a watch for script that a hostile
// device string could run, and the login with a TOTP code.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { base32Decode, totp } from './totp.mjs';

// The environment variable `name`; throws when it is missing.
export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
export const url = env('MAMORI_URL');
export const artifacts = env('MAMORI_ARTIFACT_DIR');
mkdirSync(artifacts, { recursive: true });

export function check(condition, message) {
  if (!condition) throw new Error('check failed: ' + message);
}

// Dialogs, page errors and console errors of every watched page.
export const problems = [];
export function watch(page, label) {
  // A device string that executed would open a dialog or throw.
  page.on('dialog', async (d) => { problems.push(`${label}: dialog "${d.message()}"`); await d.dismiss(); });
  page.on('pageerror', (e) => problems.push(`${label}: page error ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${label}: console error ${m.text()}`); });
}

// Fails unless every problem is one `expected` (a RegExp) matches.
export function checkNoProblems(expected) {
  const unexpected = problems.filter((p) => !expected.test(p));
  check(unexpected.length === 0, 'no dialogs or script errors: ' + JSON.stringify(unexpected));
}

export async function login(page, name, password, base32Secret) {
  await page.goto(url);
  await page.waitForSelector('#login-view:not([hidden])');
  await page.fill('#login-name', name);
  await page.fill('#login-password', password);
  await page.fill('#login-code', totp(base32Decode(base32Secret), Date.now() / 1000));
  await page.click('#login-submit');
  await page.waitForSelector('#overview-view:not([hidden])');
}

// Logs in as the user in PREFIX, PREFIX_PASSWORD and PREFIX_TOTP_SECRET.
export async function loginAs(page, prefix) {
  await login(page, env(prefix), env(prefix + '_PASSWORD'), env(prefix + '_TOTP_SECRET'));
}

// Debian's headless Chromium (MAMORI_CHROMIUM overrides the path).
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.MAMORI_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
}
