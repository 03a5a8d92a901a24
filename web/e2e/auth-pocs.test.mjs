// Sign up, log out, log in, silent refresh; then POCs: create, find by a misspelled name, filter
// by a tag (when the POC and search services run in this stack).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiAvailable, axe, launch, newPage, shot, signUp, unique, until } from './helpers.mjs';

let browser;
let page;
const id = unique();
const user = { organization: `Quokka Labs ${id}`, name: 'Quinn Quokka', email: `quinn-${id}@example.com`, password: 'correct-horse-battery-staple' };

before(async () => {
  browser = await launch();
  page = await newPage(browser, 'en-US');
});
after(async () => {
  await browser?.close();
});

test('sign up, log out, log in; a reload keeps the session through the refresh cookie', async () => {
  await page.goto('/signup');
  assert.deepEqual(await axe(page), [], 'axe: sign-up');
  // The API's validation messages show next to the fields.
  await page.fill('input[name=organization]', user.organization);
  await page.fill('input[name=full_name]', user.name);
  await page.fill('input[name=email]', user.email);
  await page.fill('input[name=password]', 'short');
  await page.click('form button[type=submit]');
  await page.locator('.field-error').first().waitFor();
  await shot(page, 'signup-validation');
  await signUp(page, user);

  await page.reload();
  await page.getByTestId('who').waitFor();
  assert.match(await page.getByTestId('who').innerText(), /Quinn Quokka/);
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!stored.includes('eyJ'), 'no token in web storage or script-readable cookies');

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL('**/login');
  await page.reload();
  await page.waitForURL('**/login');
  assert.deepEqual(await axe(page), [], 'axe: login');
  await shot(page, 'login');
  await page.fill('input[name=email]', user.email);
  await page.fill('input[name=password]', 'wrong-password-123');
  await page.click('form button[type=submit]');
  await page.getByRole('alert').waitFor();
  await page.fill('input[name=password]', user.password);
  await page.click('form button[type=submit]');
  await page.waitForURL('**/pocs');
  await page.getByTestId('who').waitFor();
});

test('create a POC, find it by a misspelled name, filter by a tag', async (t) => {
  if (!(await apiAvailable('pocs')) || !(await apiAvailable('search'))) {
    t.skip('the POC and search services are not part of this stack yet');
    return;
  }
  const tag = `quokka${id}`;
  await page.goto('/pocs/new');
  await page.fill('input[name=name]', '');
  await page.click('form button[type=submit]');
  await page.locator('.field-error').first().waitFor();
  await shot(page, 'poc-form-validation');
  assert.deepEqual(await axe(page), [], 'axe: POC form');
  await page.fill('input[name=name]', `Marsupial telemetry ${id}`);
  await page.fill('textarea[name=description]', 'Tracks **quokkas** on Rottnest Island.');
  await page.fill('input[name=language]', 'Python');
  await page.fill('input[name=tags]', `${tag}, iot`);
  await page.selectOption('select[name=status]', 'in_progress');
  await page.click('form button[type=submit]');
  await page.waitForURL(/\/pocs\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { name: `Marsupial telemetry ${id}` }).waitFor();
  await shot(page, 'poc-detail');

  await page.goto('/pocs');
  const box = page.getByRole('combobox', { name: 'Search POCs' });
  // Misspelled: "marsupail" for "marsupial" (the index is eventually consistent: keep looking).
  await until(async () => {
    await box.fill('');
    await box.fill('marsupail telemetry');
    await page.waitForTimeout(700);
    return (await page.locator('.cards .card', { hasText: id }).count()) > 0;
  }, 15000, 'the POC is found by a misspelled name');
  await shot(page, 'poc-search-typo');

  await box.fill('');
  await page.waitForURL((url) => !url.searchParams.has('q'));
  await page.locator(`fieldset[data-facet=tags] label`, { hasText: tag }).locator('input').check();
  await until(async () => {
    const cards = page.locator('.cards .card');
    return (await cards.count()) === 1 && (await cards.first().innerText()).includes(id);
  }, 5000, 'only the tagged POC remains');
  assert.ok(new URL(page.url()).searchParams.getAll('tags').includes(tag));
  assert.deepEqual(await axe(page), [], 'axe: POC list');
  await shot(page, 'poc-list-filtered');
});
