// The POC pages as a phone shows them: names and texts of any length stay within the screen.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE, apiAvailable, launch, shot, signUp, unique, until } from './helpers.mjs';

let browser;
let page;
const id = unique();
const user = { organization: `Wombat Works ${id}`, name: 'Wren Wombat', email: `wren-${id}@example.com`, password: 'correct-horse-battery-staple' };
// A hundred characters and no space: a pasted hash, a URL, a name in a script without spaces.
const longName = `Ação${'x'.repeat(90)}${id}`.slice(0, 100);

before(async () => {
  browser = await launch();
  const context = await browser.newContext({ locale: 'pt-BR', viewport: { width: 390, height: 844 }, baseURL: BASE });
  page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
});
after(async () => {
  await browser?.close();
});

/** How much wider than the screen the page is (0 when nothing sticks out). */
const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

test('a long name without spaces wraps on a phone instead of widening the page', async (t) => {
  if (!(await apiAvailable('pocs')) || !(await apiAvailable('search'))) {
    t.skip('the POC and search services are not part of this stack');
    return;
  }
  await signUp(page, user);
  const created = await page.evaluate(async ({ name, description }) => {
    // the page's own session: a refresh gives this script an access token
    const tokens = await (await fetch('/api/identity/token/refresh', { method: 'POST', headers: { 'content-type': 'application/json', 'x-token-delivery': 'cookie' }, body: '{}' })).json();
    const response = await fetch('/api/pocs/pocs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.access_token}` },
      body: JSON.stringify({ name, description, tags: ['long'], repository_url: `https://example.com/${'y'.repeat(120)}` }),
    });
    return response.json();
  }, { name: longName, description: 'z'.repeat(400) });
  assert.equal(created.name, longName);

  await until(async () => {
    await page.goto('/pocs');
    // (isVisible does not wait: the list is fetched after the page has loaded)
    return page.getByRole('link', { name: longName }).waitFor({ timeout: 3000 }).then(() => true, () => false);
  }, 30000, 'the POC is listed');
  await shot(page, 'pocs-phone-long-name');
  assert.equal(await overflow(), 0, 'the list fits the screen');
  // and the link to it is not covered by anything else
  await page.getByRole('link', { name: longName }).click({ timeout: 5000 });
  await page.waitForURL(/\/pocs\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { name: longName }).waitFor();
  await shot(page, 'poc-detail-phone-long-name');
  assert.equal(await overflow(), 0, 'the POC page fits the screen');
});

test('a CSV saved by a spreadsheet in Windows-1252 is imported with its accents', async (t) => {
  if (!(await apiAvailable('pocs'))) {
    t.skip('the POC service is not part of this stack');
    return;
  }
  await page.goto('/pocs/import');
  // "name,language\nAção e café,Go" as Windows-1252 (what "CSV (separado por vírgulas)" writes)
  const csv = Buffer.from(`name,language\nA\xe7\xe3o e caf\xe9 ${id},Go\n`, 'latin1');
  await page.setInputFiles('#import-file', { name: 'planilha.csv', mimeType: 'text/csv', buffer: csv });
  await page.getByRole('button', { name: 'Importar' }).click();
  await page.getByText('1 POC importada.').waitFor();
  await page.locator('.import-result a').first().click();
  await page.waitForURL(/\/pocs\/[0-9a-f-]{36}$/);
  assert.equal(await page.locator('h1').innerText(), `Ação e café ${id}`);
});
