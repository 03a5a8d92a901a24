// Two users of one tenant in one dojo room (the second joins with the facilitator's invite link),
// a colleague without an invite, and someone from another tenant who cannot enter; the lobby's
// search finds the dojo by a misspelled word.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiAvailable, apiLogin, axe, BASE, launch, newPage, shot, signUp, unique, until } from './helpers.mjs';

let browser;
const id = unique();
const password = 'correct-horse-battery-staple';
const owner = { organization: `Dojo Org ${id}`, name: 'Dora Driver', email: `dora-${id}@example.com`, password };
const member = { name: 'Nico Navigator', email: `nico-${id}@example.com` };
const colleague = { name: 'Cora Colleague', email: `cora-${id}@example.com` };
let dojoPath;
let driver; // page of the owner (facilitator, first driver), Portuguese
let navigator; // page of the invited member, English

before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const editorText = (page) => page.locator('[data-testid=editor] .cm-content').innerText();
const readOnly = (page) => page.getByTestId('role-banner').getAttribute('data-readonly');
/** The editor's code as shown, without the other people's cursors and names. */
const code = (page) =>
  page.locator('[data-testid=editor] .cm-content').evaluate((content) =>
    [...content.querySelectorAll('.cm-line')]
      .map((line) => {
        const copy = line.cloneNode(true);
        copy.querySelectorAll('.cm-ySelectionCaret, .cm-ySelectionInfo').forEach((widget) => widget.remove());
        return copy.textContent;
      })
      .join('\n'),
  );

/** A new member of the owner's organization (identity invitation), logged in on a new page. */
async function addMember(person, locale) {
  const token = await apiLogin(owner.email, owner.password);
  const invitation = await fetch(`${BASE}/api/identity/invitations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ email: person.email, role: 'member' }),
  }).then((r) => r.json());
  const page = await newPage(browser, locale);
  await page.goto(`/invite#${invitation.token}`);
  await page.fill('input[name=full_name]', person.name);
  await page.fill('input[name=password]', password);
  await page.click('form button[type=submit]');
  await page.getByTestId('who').waitFor();
  return page;
}

test('the owner signs up, invites a member who accepts, and creates a dojo', async () => {
  driver = await newPage(browser, 'pt-BR');
  await signUp(driver, owner);
  assert.equal(await driver.locator('html').getAttribute('lang'), 'pt-BR');
  navigator = await addMember(member, 'en-US');

  await driver.goto('/dojos');
  await driver.getByTestId('no-dojos').waitFor();
  await driver.fill('input[name=name]', `Kata FizzBuzz ${id}`);
  await driver.selectOption('select[name=language]', 'python');
  await driver.fill('input[name=rotation]', '10');
  await shot(driver, 'dojo-lobby');
  assert.deepEqual(await axe(driver), [], 'axe: lobby');
  await driver.click('form button[type=submit]');
  await driver.waitForURL(/\/dojos\/[0-9a-f-]{36}$/);
  dojoPath = new URL(driver.url()).pathname;
  await driver.getByTestId('role-banner').waitFor();
  await driver.getByRole('button', { name: /Iniciar o dojo|Start the dojo/ }).click();
  await until(async () => (await driver.getByTestId('timer').innerText()) !== '--:--', 5000, 'the rotation timer runs');
});

test('the facilitator makes an invite link; the member opens it and enters the room', async () => {
  await driver.getByRole('button', { name: /Link de convite \(copiloto\)|Invite link \(navigator\)/ }).click();
  const link = new URL(await driver.getByTestId('invite-link').innerText());
  assert.equal(link.pathname, '/dojos/join');
  assert.ok(link.hash.length > 10, 'the link carries the invite code');
  await navigator.goto(link.pathname + link.hash);
  await navigator.waitForURL((url) => url.pathname === dojoPath, { timeout: 5000 });
  // A made-up code is refused with a clear message.
  const other = await navigator.context().newPage();
  await other.goto('/dojos/join#not-a-real-code');
  assert.match(await other.getByTestId('join-error').innerText(), /not valid/);
  await other.close();
});

test('what the driver types appears for the navigator within a second; roles and cursors show', async () => {
  await navigator.getByTestId('role-banner').waitFor();
  await until(async () => (await navigator.getByTestId('connection-status').getAttribute('data-status')) === 'connected', 10000, 'navigator connected');
  await until(async () => (await driver.getByTestId('connection-status').getAttribute('data-status')) === 'connected', 10000, 'driver connected');
  assert.equal(await readOnly(driver), 'false');
  assert.equal(await readOnly(navigator), 'true');
  // Both see each other in the participant list, with roles.
  await until(async () => (await driver.getByTestId('participants').innerText()).includes(member.name), 5000, 'member listed');

  await driver.click('[data-testid=editor] .cm-content');
  const line = `def fizzbuzz(n):  # ${id}`;
  await driver.keyboard.type(line);
  const took = await until(async () => (await editorText(navigator)).includes(line), 3000, 'text reaches the navigator');
  assert.ok(took < 1000, `the navigator saw the text after ${took} ms`);

  // The navigator cannot type...
  await navigator.click('[data-testid=editor] .cm-content');
  await navigator.keyboard.press('End');
  await navigator.keyboard.type('XYZ');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!(await editorText(navigator)).includes('XYZ'), 'navigator typed into a read-only editor');
  assert.ok(!(await editorText(driver)).includes('XYZ'));
  // ...but their cursor (awareness) shows on the driver's screen, with their name.
  await until(async () => (await driver.locator('.cm-ySelectionInfo', { hasText: member.name }).count()) > 0, 3000, "navigator's cursor on the driver's screen");
  await until(async () => (await navigator.locator('.cm-ySelectionInfo', { hasText: owner.name }).count()) > 0, 3000, "driver's cursor on the navigator's screen");
  await shot(driver, 'dojo-room-driver');
  await shot(navigator, 'dojo-room-navigator');
  assert.deepEqual(await axe(navigator), [], 'axe: room');
});

test('after the facilitator rotates, the roles swap', async () => {
  await driver.getByRole('button', { name: /Trocar agora|Rotate now/ }).click();
  await until(async () => (await readOnly(navigator)) === 'false', 5000, 'the navigator drives');
  await until(async () => (await readOnly(driver)) === 'true', 5000, 'the driver navigates');
  await driver.getByTestId('rotation-cue').waitFor({ timeout: 5000 });
  // Her undo (what she typed as the driver) changes nothing now that she navigates.
  await driver.click('[data-testid=editor] .cm-content');
  const before = await code(driver);
  await driver.keyboard.press('Control+z');
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await code(driver), before);
  assert.equal(await driver.getByTestId('editor').getAttribute('data-restarts'), null, 'nothing to start again from');
  await navigator.click('[data-testid=editor] .cm-content');
  await navigator.keyboard.press('Control+End');
  await navigator.keyboard.type('\n    return n');
  await until(async () => (await editorText(driver)).includes('return n'), 3000, "the new driver's text reaches the old one");
  // The rotation took a snapshot of the first driver's code: the timeline shows it, diffed.
  await until(async () => (await driver.getByTestId('snapshot-diff').innerText().catch(() => '')).includes('def fizzbuzz'), 5000, 'the rotation snapshot in the diff');
  assert.match(await navigator.getByTestId('participants').innerText(), /Nico Navigator \(you\) — driver/);
  await shot(driver, 'dojo-room-after-rotation');
});

test('the facilitator pauses and resumes the rotation timer', async () => {
  await driver.getByRole('button', { name: /^(Pausar|Pause)$/ }).click();
  await until(async () => (await navigator.getByTestId('timer').getAttribute('data-state')) === 'paused', 5000, 'paused for everyone');
  const frozen = await navigator.getByTestId('timer').innerText();
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(await navigator.getByTestId('timer').innerText(), frozen, 'a paused timer does not count down');
  await driver.getByRole('button', { name: /^(Retomar|Resume)$/ }).click();
  await until(async () => (await navigator.getByTestId('timer').getAttribute('data-state')) === 'running', 5000, 'running again');
});

test("edits refused as the turn passes leave the former driver's screen, and stay refused", async () => {
  // Nico drives. His page learns of the next rotation only after the collab node does (its
  // reads of the dojo API are held, as on a slow network): what he deletes meanwhile is refused.
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const hold = async (route) => {
    if (route.request().method() === 'GET') await held;
    await route.continue();
  };
  await navigator.route('**/api/dojos/**', hold);
  let room;
  try {
    await driver.getByRole('button', { name: /Trocar agora|Rotate now/ }).click();
    await until(async () => (await readOnly(driver)) === 'false', 5000, 'Dora drives');
    room = await code(driver);
    assert.ok(room.endsWith('return n'), room);
    assert.equal(await readOnly(navigator), 'false', "Nico's page has not heard of the rotation yet");
    await navigator.click('[data-testid=editor] .cm-content');
    await navigator.keyboard.press('Control+End');
    for (let i = 0; i < 4; i += 1) await navigator.keyboard.press('Backspace');
    assert.ok((await code(navigator)).endsWith('retu'), 'the deletion is on his screen');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await code(driver), room, 'the node refused it');
  } finally {
    release();
  }
  await until(async () => (await readOnly(navigator)) === 'true', 5000, 'his page learns he navigates');
  await until(async () => (await code(navigator)) === room, 5000, "the room's code is back on his screen");
  assert.equal(await navigator.getByTestId('editor').getAttribute('data-restarts'), '1');
  await until(
    async () => (await navigator.getByTestId('connection-status').getAttribute('data-status')) === 'connected',
    5000,
    'connected again',
  );
  await shot(navigator, 'dojo-room-refused-edits-gone');

  // The keyboard comes back to him: what was refused does not come back with it.
  await driver.getByRole('button', { name: /Trocar agora|Rotate now/ }).click();
  await until(async () => (await readOnly(navigator)) === 'false', 5000, 'he drives again');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(await code(driver), room);
  assert.equal(await code(navigator), room);
  await navigator.unrouteAll({ behavior: 'ignoreErrors' });
});

test('chat messages appear on both sides', async () => {
  await driver.fill('#chat-input', `olá ${id}`);
  await driver.keyboard.press('Enter');
  await navigator.fill('#chat-input', `hello ${id}`);
  await navigator.keyboard.press('Enter');
  for (const page of [driver, navigator]) {
    await until(async () => {
      const text = await page.getByTestId('chat-messages').innerText();
      return text.includes(`olá ${id}`) && text.includes(`hello ${id}`);
    }, 5000, 'both messages on both sides');
  }
  await shot(navigator, 'dojo-room-chat');
});

test('a participant who leaves and joins again, the room still open, is let back in', async () => {
  const dojoId = dojoPath.split('/').pop();
  const api = async (token, method, path, body) => {
    const response = await fetch(`${BASE}/api/dojos/dojos${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body && JSON.stringify(body),
    });
    assert.ok(response.ok, `${method} ${path}: ${response.status}`);
    return response.status === 204 ? null : response.json();
  };
  const facilitator = await apiLogin(owner.email, owner.password);
  const him = await apiLogin(member.email, password);
  // He leaves (from another device, say): the room refuses his page at once...
  await api(him, 'POST', `/${dojoId}/leave`);
  await until(async () => (await navigator.getByTestId('connection-status').getAttribute('data-status')) === 'forbidden', 5000, 'his page is refused');
  // ...and he is back within a moment, with a new link, before his page has looked.
  const invite = await api(facilitator, 'POST', `/${dojoId}/invites`, { role: 'navigator' });
  await api(him, 'POST', '/join', { code: invite.code });
  await until(async () => (await navigator.getByTestId('connection-status').getAttribute('data-status')) === 'connected', 15000, 'his page is let back in');
  // The keyboard comes to him: what he types reaches the room.
  await until(async () => (await readOnly(driver)) === 'false', 5000, 'Dora drives since he left');
  await driver.getByRole('button', { name: /Trocar agora|Rotate now/ }).click();
  await until(async () => (await readOnly(navigator)) === 'false', 5000, 'he drives');
  await navigator.click('[data-testid=editor] .cm-content');
  await navigator.keyboard.press('Control+End');
  await navigator.keyboard.type(`  # back ${id}`);
  await until(async () => (await code(driver)).includes(`# back ${id}`), 3000, 'his text reaches the room');
});

test('a long line scrolls inside the editor; the room keeps the width of the window', async () => {
  // Nico drives (the test before gave him the keyboard).
  await navigator.click('[data-testid=editor] .cm-content');
  await navigator.keyboard.press('Control+End');
  const long = `\nnames = [${Array.from({ length: 40 }, (_, i) => `"name${i}"`).join(', ')}]`;
  await navigator.keyboard.insertText(long);
  await until(async () => (await code(driver)).includes('"name39"]'), 3000, 'the long line reaches the room');
  await driver.getByRole('button', { name: /Tirar um snapshot|Take a snapshot/ }).click();
  await until(async () => (await driver.getByTestId('snapshot-code').innerText()).includes('"name39"]'), 5000, 'the replay shows it');
  for (const page of [driver, navigator]) {
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    assert.ok(scroll <= client, `the page is ${scroll} px wide in a ${client} px window`);
    const timer = await page.getByTestId('timer').boundingBox();
    assert.ok(timer && timer.x + timer.width <= client, 'the timer is in the window');
  }
  await shot(driver, 'dojo-room-long-line');
});

test('a colleague without an invite is told to ask for one', async () => {
  const page = await addMember(colleague, 'en-US');
  // The lobby lists the dojo for everyone in the organization...
  await page.goto('/dojos');
  await page.getByRole('link', { name: `Kata FizzBuzz ${id}` }).waitFor();
  assert.match(await page.getByTestId('dojo-card').first().innerText(), /Live[\s\S]*2 participants/);
  assert.equal(await page.getByRole('button', { name: 'Invite link' }).count(), 0, 'only facilitators make invite links');
  await shot(page, 'dojo-lobby-list');
  // ...but its room takes an invite.
  await page.getByRole('link', { name: `Kata FizzBuzz ${id}` }).click();
  const message = page.getByTestId('dojo-not-member');
  await message.waitFor({ timeout: 5000 });
  assert.match(await message.innerText(), /Ask its facilitator for an invite link/);
  assert.equal(await page.locator('[data-testid=editor]').count(), 0);
  await page.close();
});

test('someone from another tenant cannot open the dojo', async () => {
  const stranger = await newPage(browser, 'en-US');
  await signUp(stranger, { organization: `Other Org ${id}`, name: 'Eve Outsider', email: `eve-${id}@example.com`, password });
  await stranger.goto(dojoPath);
  const message = stranger.getByTestId('dojo-forbidden');
  await message.waitFor({ timeout: 5000 });
  assert.match(await message.innerText(), /cannot open this dojo/);
  assert.equal(await stranger.locator('[data-testid=editor]').count(), 0);
  await shot(stranger, 'dojo-forbidden');
});

test('the lobby finds the dojo by a misspelled word of its name, and filters by status', async (t) => {
  if (!(await apiAvailable('search'))) {
    t.skip('the search service is not part of this stack');
    return;
  }
  await navigator.goto('/dojos');
  const box = navigator.getByRole('combobox', { name: 'Search dojos' });
  // "fizzbuz" for "FizzBuzz"; the index is eventually consistent: keep looking.
  await until(async () => {
    await box.fill('');
    await box.fill('fizzbuz');
    await navigator.waitForTimeout(700);
    return (await navigator.locator('.cards .card', { hasText: id }).count()) > 0;
  }, 15000, 'the dojo is found by a misspelled word');
  const card = navigator.getByTestId('dojo-card').filter({ hasText: id });
  assert.match(await card.locator('h3 mark').first().innerText(), /FizzBuzz/i, 'the matching word is highlighted');
  assert.match(await navigator.getByTestId('dojo-results').innerText(), /^1 dojo found$/);
  assert.equal(new URL(navigator.url()).searchParams.get('q'), 'fizzbuz');

  await navigator.locator('fieldset[data-facet=status] label', { hasText: 'Live' }).locator('input').check();
  await navigator.waitForURL((url) => url.searchParams.get('status') === 'active' && url.searchParams.get('q') === 'fizzbuz');
  await until(async () => (await navigator.locator('.cards .card', { hasText: id }).count()) === 1, 5000, 'the live dojo stays');
  assert.deepEqual(await axe(navigator), [], 'axe: lobby search');
  await shot(navigator, 'dojo-lobby-search');

  // A reload keeps the search.
  await navigator.reload();
  await until(async () => (await navigator.locator('.cards .card', { hasText: id }).count()) === 1, 5000, 'the search survives a reload');
  assert.equal(await navigator.getByRole('combobox', { name: 'Search dojos' }).inputValue(), 'fizzbuz');
  // An empty box and no filters: the plain list again.
  await navigator.getByRole('button', { name: 'Clear filters' }).click();
  await navigator.getByRole('combobox', { name: 'Search dojos' }).fill('');
  await navigator.waitForURL((url) => url.search === '');
  await navigator.getByRole('link', { name: `Kata FizzBuzz ${id}` }).waitFor();
  assert.equal(await navigator.getByTestId('dojo-results').innerText(), '');
});
