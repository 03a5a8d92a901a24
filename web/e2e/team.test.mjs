// The organization's people and one's own account: an owner invites a colleague from the Team
// page, the colleague joins through the link, the owner makes them an admin; the colleague
// changes their password, downloads their data and deletes their account; the owner, in
// Portuguese, deletes the organization.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { axe, launch, newPage, shot, signUp, unique } from './helpers.mjs';

let browser;
let owner;
let colleague;
const id = unique();
const boss = { organization: `Otter Works ${id}`, name: 'Olga Otter', email: `olga-${id}@example.com`, password: 'correct-horse-battery-staple' };
const mate = { name: 'Theo Otter', email: `theo-${id}@example.com`, password: 'first-password-123', next: 'second-password-456' };

before(async () => {
  browser = await launch();
  owner = await newPage(browser, 'en-US');
  colleague = await newPage(browser, 'en-US');
});
after(async () => {
  await browser?.close();
});

test('an owner invites a colleague, who joins and becomes an admin', async () => {
  await signUp(owner, boss);
  await owner.getByRole('link', { name: 'Team' }).click();
  await owner.getByRole('heading', { name: `The people of ${boss.organization}` }).waitFor();
  await owner.getByTestId('member').first().waitFor(); // the heading comes before the list
  assert.equal(await owner.getByTestId('member').count(), 1);

  await owner.getByLabel('E-mail').fill(mate.email);
  await owner.getByRole('button', { name: 'Create the invitation' }).click();
  const link = await owner.getByLabel('Invitation link').inputValue();
  assert.match(link, /\/invite#.+/);
  await owner.getByTestId('invitation').filter({ hasText: mate.email }).waitFor();
  await shot(owner, 'team-invited');
  assert.deepEqual(await axe(owner), [], 'axe: team with an invitation');

  await colleague.goto(link.replace(/^https?:\/\/[^/]+/, ''));
  await colleague.getByLabel('Your name').fill(mate.name);
  await colleague.getByLabel('Password').fill(mate.password);
  await colleague.getByRole('button', { name: 'Accept the invitation' }).click();
  await colleague.waitForURL('**/pocs');
  assert.match(await colleague.getByTestId('who').innerText(), new RegExp(mate.name));

  await owner.reload();
  await owner.getByTestId('member').nth(1).waitFor();
  assert.equal(await owner.getByTestId('invitation').count(), 0, 'the accepted invitation is no longer pending');
  assert.deepEqual(await axe(owner), [], 'axe: team with two members');
  await owner.getByLabel(`Role of ${mate.name}`).selectOption('admin');
  const [changed] = await Promise.all([
    owner.waitForResponse((r) => r.url().endsWith('/role') && r.request().method() === 'PUT'),
    owner.getByRole('button', { name: `Make ${mate.name} an admin` }).click(),
  ]);
  assert.equal(changed.status(), 200);
  await owner.reload();
  assert.equal(await owner.getByLabel(`Role of ${mate.name}`).inputValue(), 'admin');
});

test('the colleague changes their password, downloads their data and deletes their account', async () => {
  // The role change ended the colleague's sessions: they sign in again.
  await colleague.goto('/login');
  await colleague.getByLabel('E-mail').fill(mate.email);
  await colleague.getByLabel('Password').fill(mate.password);
  await colleague.getByRole('button', { name: 'Log in' }).click();
  await colleague.waitForURL('**/pocs');
  await colleague.getByTestId('who').click();
  await colleague.waitForURL('**/account');
  assert.deepEqual(await axe(colleague), [], 'axe: account');

  await colleague.getByLabel('Current password').fill('not-my-password');
  await colleague.getByLabel('New password').fill(mate.next);
  await colleague.getByRole('button', { name: 'Change the password' }).click();
  await colleague.getByRole('alert').filter({ hasText: 'This is not your current password.' }).waitFor();
  await colleague.getByLabel('Current password').fill(mate.password);
  await colleague.getByRole('button', { name: 'Change the password' }).click();
  await colleague.getByText('Password changed. Your sessions on other devices end within 15 minutes.').waitFor();
  // Still signed in after a reload: this browser carries on with the session the change brought.
  await colleague.reload();
  await colleague.getByRole('heading', { name: 'Your account', exact: true }).waitFor();

  const [download] = await Promise.all([colleague.waitForEvent('download'), colleague.getByRole('button', { name: 'Download my data' }).click()]);
  const data = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.equal(data.user.email, mate.email);
  assert.equal(data.user.role, 'admin');
  assert.equal(data.organization.name, boss.organization);
  await shot(colleague, 'account');

  await colleague.getByLabel('Your password, to confirm').fill(mate.next);
  await colleague.getByRole('button', { name: 'Delete my account' }).click();
  await colleague.waitForURL('**/login');
  await colleague.getByText('Your account was deleted.').waitFor();
  await colleague.getByLabel('E-mail').fill(mate.email);
  await colleague.getByLabel('Password').fill(mate.next);
  await colleague.getByRole('button', { name: 'Log in' }).click();
  await colleague.locator('.form-error').waitFor();
  assert.match(colleague.url(), /\/login$/);

  await owner.reload();
  await owner.getByTestId('member').first().waitFor();
  assert.equal(await owner.getByTestId('member').count(), 1);
});

test('the owner deletes the organization, in Portuguese', async () => {
  const page = await newPage(browser, 'pt-BR');
  await page.goto('/login');
  await page.getByLabel('E-mail').fill(boss.email);
  await page.getByLabel('Senha').fill(boss.password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.waitForURL('**/pocs');
  await page.getByTestId('who').click();
  await page.waitForURL('**/account');
  const section = page.locator('section', { has: page.getByRole('heading', { name: 'Excluir a organização' }) });
  const name = section.getByLabel(`O nome da organização, digitado exatamente: ${boss.organization}`);
  const password = section.getByLabel('Sua senha, para confirmar');
  const submit = section.getByRole('button', { name: 'Excluir a organização e todas as contas' });
  await name.fill('Otter Works');
  await password.fill(boss.password);
  await submit.click();
  await section.getByRole('alert').filter({ hasText: 'Este não é o nome da organização: digite exatamente como aparece.' }).waitFor();
  await shot(page, 'account-delete-organization');
  assert.deepEqual(await axe(page), []);
  await name.fill(boss.organization);
  await submit.click();
  await page.waitForURL('**/login');
  await page.getByText('A organização foi excluída, com todas as contas.').waitFor();
  await page.getByLabel('E-mail').fill(boss.email);
  await page.getByLabel('Senha').fill(boss.password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.locator('.form-error').waitFor();
  assert.match(page.url(), /\/login$/);
});
