// Two-step verification: a new user turns it on from the account page with the key shown
// there (the test is the authenticator app: RFC 6238 below), then logs in with the password
// and a code, with a recovery code (once only), and turns it off again.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { axe, launch, newPage, shot, signUp, unique, until } from './helpers.mjs';

let browser;
let page;
const id = unique();
const user = { organization: `Numbat Keys ${id}`, name: 'Nia Numbat', email: `nia-${id}@example.com`, password: 'correct-horse-battery-staple' };

before(async () => {
  browser = await launch();
  page = await newPage(browser, 'en-US');
});
after(async () => {
  await browser?.close();
});

/** RFC 4648 base32 (the key as authenticator apps take it) to bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out = [];
  let bits = 0;
  let value = 0;
  for (const char of text.replace(/[\s=]/g, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

const STEP_SECONDS = 30;

/** RFC 6238 (TOTP, as RFC 4226 HOTP of the time step): HMAC-SHA1 of the 8-byte big-endian
 * step, dynamic truncation, 6 digits. */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** The code of a time step after `used` (the server takes a step's code once), with a few
 * seconds of the step left for it to travel; waits for the next step when needed. */
async function freshCode(secret, used = -1) {
  let step;
  await until(() => {
    const now = Date.now() / 1000;
    step = Math.floor(now / STEP_SECONDS);
    return step > used && now % STEP_SECONDS < STEP_SECONDS - 4;
  }, 2 * STEP_SECONDS * 1000, 'a time step not used yet');
  return { code: totp(secret, step), step };
}

/** Log out, then in with the password: the code step comes next. */
async function passwordAgain() {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL('**/login');
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
}

/** Send a code; the answer of POST /login/two-factor. */
async function verify(field, code) {
  await field.fill(code);
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/identity/login/two-factor')),
    page.getByRole('button', { name: 'Verify' }).click(),
  ]);
  return answer;
}

const twoStep = () => page.locator('section', { has: page.getByRole('heading', { name: 'Two-step verification' }) });

test('the authenticator code of this test is RFC 6238’s', () => {
  // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits), so 287082 in 6.
  assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', Math.floor(59 / STEP_SECONDS)), '287082');
  assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', Math.floor(1111111109 / STEP_SECONDS)), '081804');
});

test('two-step verification: turned on with a code of the key shown, then a log-in asks for a code or a recovery code', async () => {
  await signUp(page, user);
  await page.getByTestId('who').click();
  await page.waitForURL('**/account');
  const section = twoStep();
  await section.getByRole('button', { name: 'Turn on two-step verification' }).click();
  await section.getByLabel('Your password').fill(user.password);
  await section.getByRole('button', { name: 'Continue' }).click();

  // The key, as a QR code and as text: the test reads the text, as someone whose camera fails.
  const secret = (await section.getByTestId('two-factor-secret').innerText()).trim();
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  const qr = section.getByRole('img', { name: 'QR code of the key, for your authenticator app' });
  await qr.waitFor();
  assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml/);
  assert.ok((await qr.boundingBox()).width >= 150, 'the QR code is drawn large enough to scan');
  assert.deepEqual(await axe(page), [], 'axe: two-step verification set-up');
  await shot(page, 'two-factor-setup');
  const setup = await freshCode(secret);
  await section.getByLabel('Code from the app').fill(setup.code);
  await section.getByRole('button', { name: 'Turn it on' }).click();

  const list = section.getByTestId('recovery-codes');
  await list.waitFor();
  const codes = (await list.getByRole('listitem').allInnerTexts()).map((code) => code.trim());
  assert.equal(codes.length, 10);
  for (const code of codes) assert.match(code, /^[a-z0-9]{5}-[a-z0-9]{5}$/);
  await section.getByText('Each works once', { exact: false }).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), section.getByRole('button', { name: 'Download as text' }).click()]);
  assert.equal(download.suggestedFilename(), 'mrbill-recovery-codes.txt');
  const saved = await readFile(await download.path(), 'utf8');
  assert.deepEqual(saved.split('\n').filter((line) => codes.includes(line)), codes);
  assert.deepEqual(await axe(page), [], 'axe: recovery codes');
  await shot(page, 'two-factor-recovery-codes');
  await section.getByRole('button', { name: 'Done' }).click();
  await section.getByText('Recovery codes left: 10').waitFor();
  assert.equal(await list.count(), 0, 'the recovery codes are shown once');

  // The password, then a code. The one used to turn it on is refused (a code is good once).
  await passwordAgain();
  const field = page.getByLabel('Code from the app');
  assert.equal(await field.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await field.getAttribute('inputmode'), 'numeric');
  assert.deepEqual(await axe(page), [], 'axe: the code step');
  await shot(page, 'login-two-factor');
  assert.equal((await verify(field, setup.code)).status(), 401);
  await page.getByText('The code is wrong or expired').waitFor();
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  const next = await freshCode(secret, setup.step);
  const answer = await verify(field, next.code);
  assert.equal(answer.status(), 200);
  assert.ok(!(await answer.json()).refresh_token, 'the refresh token stays in its httpOnly cookie');
  await page.waitForURL('**/account'); // where the log-out was
  // A reload keeps the session: the log-in set the refresh cookie as a password-only one does.
  await page.reload();
  await twoStep().getByText('Recovery codes left: 10').waitFor();

  // A recovery code instead, typed in capitals: it works once.
  await passwordAgain();
  await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
  assert.equal((await verify(page.getByLabel('Recovery code'), codes[0].toUpperCase())).status(), 200);
  await page.waitForURL('**/account');
  await twoStep().getByText('Recovery codes left: 9').waitFor();
  await passwordAgain();
  await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
  const recovery = page.getByLabel('Recovery code');
  assert.equal((await verify(recovery, codes[0])).status(), 401);
  await page.getByText('The code is wrong or expired').waitFor();
  assert.equal((await verify(recovery, codes[1].replace('-', ''))).status(), 200);
  await page.waitForURL('**/account');
  await twoStep().getByText('Recovery codes left: 8').waitFor();

  // Turning it off takes the password and a code (here a recovery code: a lost phone);
  // then the password alone opens the account again.
  await twoStep().getByRole('button', { name: 'Turn off' }).click();
  await twoStep().getByLabel('Your password').fill(user.password);
  await twoStep().getByRole('button', { name: 'Turn off two-step verification' }).click();
  await twoStep().getByText('With two-step verification on, this takes a code from your app (or a recovery code) too.').waitFor();
  await twoStep().getByLabel('Code from the app').fill(codes[2]);
  await twoStep().getByRole('button', { name: 'Turn off two-step verification' }).click();
  await twoStep().getByText('Two-step verification is off.').waitFor();
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL('**/login');
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/account');
  await twoStep().getByRole('button', { name: 'Turn on two-step verification' }).waitFor();
});
