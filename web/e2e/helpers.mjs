// Shared helpers of the browser tests: Debian's Chromium driven by playwright-core (no browser
// download), the stack's base URL, screenshots and axe-core checks.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.MRBILL_E2E_BASE_URL ?? 'http://localhost:18080';
export const ARTIFACTS = process.env.MRBILL_E2E_ARTIFACTS ?? path.resolve(import.meta.dirname, '../../test-artifacts/web');
mkdirSync(ARTIFACTS, { recursive: true });

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export async function launch() {
  // launch() gives every run a fresh, throw-away profile (its own --user-data-dir).
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

export async function newPage(browser, locale = 'pt-BR') {
  // The pages run under the app's Content-Security-Policy, as for users (axe-core is evaluated
  // through the DevTools protocol, which the policy does not govern).
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 860 }, baseURL: BASE });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  return page;
}

export const unique = () => Math.random().toString(36).slice(2, 8);

export async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** axe-core on the current page: the serious and critical violations (empty when fine). */
export async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const out = await window.axe.run(document, { resultTypes: ['violations'] });
    return out.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function signUp(page, { organization, name, email, password }) {
  await page.goto('/signup');
  await page.fill('input[name=organization]', organization);
  await page.fill('input[name=full_name]', name);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('form button[type=submit]');
  await page.waitForURL('**/pocs');
  await page.getByTestId('who').waitFor();
}

export async function apiLogin(email, password) {
  const response = await fetch(`${BASE}/api/identity/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw new Error(`login ${response.status}`);
  return (await response.json()).access_token;
}

export async function apiAvailable(service) {
  const response = await fetch(`${BASE}/api/${service}/healthz`).catch(() => null);
  // A service missing from the stack falls through to the web app's index.html (or a 404).
  return response?.status === 200 && (response.headers.get('content-type') ?? '').includes('json');
}

/** Poll `check` until it returns truthy or `ms` pass; returns how long it took. */
export async function until(check, ms, what) {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
