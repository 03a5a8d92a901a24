// Reports and yearly videos: a new organization registers a POC, asks for its PDF report and its
// yearly video from the web app, follows them until they are ready, downloads the PDF and
// watches the video.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { BASE, apiAvailable, apiLogin, axe, launch, newPage, shot, signUp, unique } from './helpers.mjs';

let browser;
let page;
const id = unique();
const user = { organization: `Lynx Reports ${id}`, name: 'Lia Lynx', email: `lia-${id}@example.com`, password: 'correct-horse-battery-staple' };
const available = (await apiAvailable('content')) && (await apiAvailable('pocs'));

before(async () => {
  browser = await launch();
  page = await newPage(browser, 'en-US');
});
after(async () => {
  await browser?.close();
});

test('ask for a PDF report and a yearly video, follow them, download and watch', { skip: !available && 'no content service in this stack' }, async () => {
  await signUp(page, user);
  const token = await apiLogin(user.email, user.password);
  const created = await fetch(`${BASE}/api/pocs/pocs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: `Lynx tracker ${id}`, language: 'python', tags: ['vision'], status: 'done' }),
  });
  assert.equal(created.status, 201);

  await page.getByRole('link', { name: 'Reports & videos' }).click();
  await page.waitForURL('**/reports');
  await page.getByTestId('no-content').waitFor();
  assert.deepEqual(await axe(page), [], 'axe: reports');

  // An end before the start is said at the end's field; a rule of the API about the period
  // as a whole comes back from it and is shown as the form's error.
  await page.getByLabel('Period').selectOption('range');
  await page.getByLabel('From').fill('2026-05-01');
  await page.getByLabel('To').fill('2026-01-01');
  await page.getByRole('button', { name: 'Make it' }).click();
  await page.getByRole('alert').filter({ hasText: 'Must not be before the first day.' }).waitFor();
  assert.equal(await page.getByLabel('To').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('From').fill('2020-01-01');
  await page.getByRole('button', { name: 'Make it' }).click();
  await page.getByRole('alert').filter({ hasText: 'The period may span at most three years' }).waitFor();
  await shot(page, 'reports-validation');

  await page.getByLabel('Period').selectOption('year');
  await page.getByLabel('Year', { exact: true }).fill(String(new Date().getFullYear()));
  await page.getByRole('button', { name: 'Make it' }).click();
  const report = page.getByTestId('content-card').first();
  await report.getByText('1 POC', { exact: true }).waitFor();
  await page.locator('[data-testid=content-card][data-status=succeeded]').first().waitFor({ timeout: 90_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), report.getByRole('button', { name: 'Download PDF' }).click()]);
  assert.match(download.suggestedFilename(), /\.pdf$/);
  const pdf = await readFile(await download.path());
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  assert.ok(pdf.length > 1000, `a real PDF (${pdf.length} bytes)`);

  await page.getByLabel('Yearly video').check();
  await page.getByRole('button', { name: 'Make it' }).click();
  await page.getByText(/is on its way \(1 POC\)/).waitFor();
  const video = page.getByTestId('content-card').first();
  assert.match(await video.innerText(), /Yearly video/);
  await page.locator('[data-testid=content-card]:first-child[data-status=succeeded]').waitFor({ timeout: 120_000 });
  await video.getByRole('button', { name: 'Watch' }).click();
  const player = video.locator('video');
  await player.waitFor();
  // The browser fetched the file and read its first frame's worth: a playable H.264 MP4.
  await page.waitForFunction(() => (document.querySelector('[data-testid=content-card] video')?.readyState ?? 0) >= 1, null, { timeout: 20_000 });
  const { width, height, duration } = await player.evaluate((v) => ({ width: v.videoWidth, height: v.videoHeight, duration: v.duration }));
  assert.deepEqual([width, height], [1280, 720]);
  assert.ok(duration > 1, `duration ${duration}`);
  // Its poster (the title card) loads under the page's Content-Security-Policy too.
  const poster = await player.getAttribute('poster');
  assert.ok(poster, 'a poster');
  const loaded = await page.evaluate(
    (src) => new Promise((resolve) => Object.assign(new Image(), { onload: () => resolve(true), onerror: () => resolve(false), src })),
    poster,
  );
  assert.equal(loaded, true, `the poster ${poster} loads`);
  await shot(page, 'reports');

  // Deleting takes a confirmation, and the file goes with it.
  await video.getByRole('button', { name: 'Delete' }).click();
  await video.getByText('Delete it and its file?').waitFor();
  await video.getByRole('button', { name: 'Delete' }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=content-card]').length === 1);
});
