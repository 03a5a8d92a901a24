import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { Route } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AccountPage } from './AccountPage';
import type { Member } from './api';
import { TeamPage } from './TeamPage';
import { renderApp } from '../test-utils';

const tenant = { tenant_id: 't-1', name: 'Quokka Labs', slug: 'quokka-labs' };
const person = (n: number, role: Member['role'], extra: Partial<Member> = {}): Member => ({
  user_id: `00000000-0000-4000-8000-00000000000${n}`,
  email: `p${n}@quokka.dev`,
  full_name: `Person ${n}`,
  role,
  status: 'active',
  created_at: '2026-01-01T10:00:00Z',
  last_login_at: null,
  two_factor: false,
  recovery_codes_left: 0,
  ...extra,
});
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const problem = (status: number, detail: string) =>
  new Response(JSON.stringify({ title: 'Conflict', status, detail }), { status, headers: { 'content-type': 'application/problem+json' } });
const typed = (type: string, status: number, detail: string) =>
  new Response(JSON.stringify({ type, title: 'Refused', status, detail }), { status, headers: { 'content-type': 'application/problem+json' } });
const tokens = { access_token: 'a.b.c', token_type: 'bearer', expires_in: 900, refresh_expires_in: 86400 };

type Handler = (url: URL, init: RequestInit) => Response | undefined;

/** The browser's view of identity: signed in as `me`, these members and no invitation. */
function stubApi(me: Member, members: Member[], handler: Handler = () => undefined) {
  const fetch = vi.fn(async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, 'http://localhost');
    const answer = handler(url, init);
    if (answer) return answer;
    if (url.pathname === '/api/identity/token/refresh') return json(tokens);
    if (url.pathname === '/api/identity/me') return json({ user: me, tenant });
    if (url.pathname === '/api/identity/users') return json({ items: members, next_cursor: null });
    if (url.pathname === '/api/identity/invitations' && (init.method ?? 'GET') === 'GET') return json({ items: [], next_cursor: null });
    return json({ title: 'Not Found', status: 404 }, 404);
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}
const sent = (fetch: ReturnType<typeof stubApi>, method: string, path: string) =>
  fetch.mock.calls
    .filter(([url, init]) => new URL(url, 'http://localhost').pathname === path && ((init as RequestInit | undefined)?.method ?? 'GET') === method)
    .map(([, init]) => JSON.parse(String((init as RequestInit).body ?? 'null')));


const renderAt = (path: string) =>
  renderApp(
    path,
    <>
      <Route path="/team" element={<TeamPage />} />
      <Route path="/account" element={<AccountPage />} />
      <Route path="/login" element={null} />
    </>,
  );

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('TeamPage', () => {
  it('lets an owner invite someone and shows the link once', async () => {
    const owner = person(1, 'owner');
    const fetch = stubApi(owner, [owner, person(2, 'member')], (url, init) => {
      if (url.pathname === '/api/identity/invitations' && init.method === 'POST')
        return json(
          {
            invitation_id: 'inv-1',
            email: 'new@quokka.dev',
            role: 'admin',
            created_at: '2026-01-02T10:00:00Z',
            expires_at: '2026-01-09T10:00:00Z',
            token: 'tok',
            accept_url: 'http://localhost:8080/invite#tok',
          },
          201,
        );
      if (url.pathname === '/api/identity/invitations/inv-1') return problem(409, 'The invitation was already accepted or revoked');
    });
    renderAt('/team');
    expect(await screen.findByRole('heading', { name: 'The people of Quokka Labs' })).toBeTruthy();
    await waitFor(() => expect(screen.getAllByTestId('member')).toHaveLength(2));
    expect(screen.getByText('No invitation waiting.')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('E-mail'), { target: { value: ' new@quokka.dev ' } });
    fireEvent.change(screen.getByLabelText('Role'), { target: { value: 'admin' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create the invitation' }));
    const link = (await screen.findByLabelText('Invitation link')) as HTMLInputElement;
    expect(link.value).toBe('http://localhost:8080/invite#tok');
    expect(sent(fetch, 'POST', '/api/identity/invitations')).toEqual([{ email: 'new@quokka.dev', role: 'admin' }]);
    expect(within(screen.getByTestId('invitation')).getByText('new@quokka.dev · Admin')).toBeTruthy();
    // Accepted meanwhile: the refusal says so (not the role change's 'last owner').
    fireEvent.click(screen.getByRole('button', { name: 'Revoke the invitation of new@quokka.dev' }));
    expect(await screen.findByText('This invitation was already accepted or revoked: reload the page.')).toBeTruthy();
  });

  it('changes a role, keeps it when the API refuses, and deactivates someone', async () => {
    const owner = person(1, 'owner');
    const other = person(2, 'member');
    let refuse = false;
    const fetch = stubApi(owner, [owner, other], (url, init) => {
      if (url.pathname.endsWith('/role')) return refuse ? problem(409, 'A tenant needs at least one active owner') : json({ ...other, ...JSON.parse(String(init.body)) });
      if (url.pathname.endsWith('/deactivate')) return json({ ...other, role: 'admin', status: 'deactivated' });
    });
    renderAt('/team');
    const role = (await screen.findByLabelText('Role of Person 2')) as HTMLSelectElement;
    // The only owner cannot step down, and nobody changes their own status.
    expect(screen.queryByLabelText('Role of Person 1')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Deactivate Person 1' })).toBeNull();
    // Choosing (arrow keys go through every option) changes nothing until asked.
    fireEvent.change(role, { target: { value: 'owner' } });
    fireEvent.change(role, { target: { value: 'admin' } });
    expect(sent(fetch, 'PUT', `/api/identity/users/${other.user_id}/role`)).toEqual([]);
    fireEvent.click(screen.getByRole('button', { name: 'Make Person 2 an admin' }));
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Make Person 2 an admin' })).toBeNull());
    expect(role.value).toBe('admin');
    expect(sent(fetch, 'PUT', `/api/identity/users/${other.user_id}/role`)).toEqual([{ role: 'admin' }]);
    refuse = true;
    fireEvent.change(role, { target: { value: 'member' } });
    fireEvent.click(screen.getByRole('button', { name: 'Make Person 2 a member' }));
    expect(await screen.findByText('The organization needs at least one active owner: make someone else an owner first.')).toBeTruthy();
    expect(sent(fetch, 'PUT', `/api/identity/users/${other.user_id}/role`)).toHaveLength(2);
    fireEvent.click(screen.getByRole('button', { name: 'Deactivate Person 2' }));
    await waitFor(() => expect(screen.getAllByTestId('member')[1].getAttribute('data-status')).toBe('deactivated'));
    expect(screen.getByRole('button', { name: 'Reactivate Person 2' })).toBeTruthy();
  });

  it('lets an owner step down while another owner is active, then asks for a new log-in', async () => {
    const owner = person(1, 'owner');
    const partner = person(3, 'owner');
    const fetch = stubApi(owner, [owner, partner], (url, init) => {
      if (url.pathname.endsWith('/role')) return json({ ...owner, ...JSON.parse(String(init.body)) });
      if (url.pathname === '/api/identity/token/logout') return new Response(null, { status: 204 });
    });
    renderAt('/team');
    const mine = (await screen.findByLabelText('Role of Person 1')) as HTMLSelectElement;
    fireEvent.change(mine, { target: { value: 'admin' } });
    expect(screen.queryByRole('button', { name: 'Make Person 1 an admin' })).toBeNull(); // (said as a step down)
    fireEvent.click(screen.getByRole('button', { name: 'Step down: become an admin' }));
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/login {"flash":"team.steppedDown"}'));
    expect(sent(fetch, 'PUT', `/api/identity/users/${owner.user_id}/role`)).toEqual([{ role: 'admin' }]);
    expect(sent(fetch, 'POST', '/api/identity/token/logout')).toHaveLength(1);
  });

  it('does not offer the only active owner to step down, unless others are still to load', async () => {
    const owner = person(1, 'owner');
    const members = [owner, person(3, 'owner', { status: 'deactivated' })];
    stubApi(owner, members);
    const { unmount } = renderAt('/team');
    await screen.findByLabelText('Role of Person 3');
    expect(screen.queryByLabelText('Role of Person 1')).toBeNull();
    unmount();
    vi.unstubAllGlobals();
    stubApi(owner, members, (url) => (url.pathname === '/api/identity/users' && !url.searchParams.get('cursor') ? json({ items: members, next_cursor: 'more' }) : undefined));
    renderAt('/team');
    expect(await screen.findByLabelText('Role of Person 1')).toBeTruthy(); // (another owner may be further down)
  });

  it('pages through the pending invitations', async () => {
    const owner = person(1, 'owner');
    const invitation = (n: number) => ({
      invitation_id: `inv-${n}`,
      email: `new${n}@quokka.dev`,
      role: 'member',
      created_at: '2026-01-02T10:00:00Z',
      expires_at: '2026-01-09T10:00:00Z',
    });
    stubApi(owner, [owner], (url, init) => {
      if (url.pathname !== '/api/identity/invitations' || (init.method ?? 'GET') !== 'GET') return undefined;
      return url.searchParams.get('cursor') === 'page-2'
        ? json({ items: [invitation(2)], next_cursor: null })
        : json({ items: [invitation(1)], next_cursor: 'page-2' });
    });
    renderAt('/team');
    await waitFor(() => expect(screen.getAllByTestId('invitation')).toHaveLength(1));
    fireEvent.click(screen.getByRole('button', { name: 'More invitations' }));
    await waitFor(() => expect(screen.getAllByTestId('invitation')).toHaveLength(2));
    expect(screen.getByText('new2@quokka.dev · Member')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'More invitations' })).toBeNull();
  });

  it('offers an admin what an admin may do, and no more', async () => {
    const admin = person(2, 'admin');
    stubApi(admin, [person(1, 'owner'), admin, person(3, 'admin'), person(4, 'member')]);
    renderAt('/team');
    await waitFor(() => expect(screen.getAllByTestId('member')).toHaveLength(4));
    expect(screen.queryByRole('combobox', { name: /Role of/ })).toBeNull(); // only owners change roles
    expect(screen.queryByRole('button', { name: 'Deactivate Person 1' })).toBeNull(); // an owner
    expect(screen.queryByRole('button', { name: 'Deactivate Person 2' })).toBeNull(); // oneself
    expect(screen.getByRole('button', { name: 'Deactivate Person 3' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Deactivate Person 4' })).toBeTruthy();
    const inviteAs = screen.getByLabelText('Role') as HTMLSelectElement;
    expect([...inviteAs.options].map((o) => o.value)).toEqual(['member']); // only owners invite admins
    expect(await screen.findByText('No invitation waiting.')).toBeTruthy();
  });

  it('marks who has two-step verification on, and resets it for someone who lost their phone once confirmed', async () => {
    const owner = person(1, 'owner', { two_factor: true, recovery_codes_left: 10 });
    const lost = person(2, 'member', { two_factor: true, recovery_codes_left: 7 });
    const plain = person(3, 'member');
    const demoted = person(4, 'admin', { two_factor: true, recovery_codes_left: 10 });
    const fetch = stubApi(owner, [owner, lost, plain, demoted], (url) => {
      if (url.pathname === `/api/identity/users/${lost.user_id}/two-factor/reset`) return json({ ...lost, two_factor: false, recovery_codes_left: 0 });
      if (url.pathname === `/api/identity/users/${demoted.user_id}/two-factor/reset`) return problem(403, 'Only an owner or an admin does this');
    });
    renderAt('/team');
    await waitFor(() => expect(screen.getAllByTestId('member')).toHaveLength(4));
    const [mine, theirs, third, fourth] = screen.getAllByTestId('member');
    expect(within(mine).getByText('2-step')).toBeTruthy();
    expect(within(theirs).getByText('2-step')).toBeTruthy();
    expect(within(third).queryByText('2-step')).toBeNull();
    // Offered only for those who have it on, and not for oneself (that is the account page's).
    expect(screen.queryByRole('button', { name: 'Reset two-step verification of Person 1' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Reset two-step verification of Person 3' })).toBeNull();
    const path = `/api/identity/users/${lost.user_id}/two-factor/reset`;

    fireEvent.click(within(theirs).getByRole('button', { name: 'Reset two-step verification of Person 2' }));
    expect(within(theirs).getByText(/^Turn off the two-step verification of Person 2\? Their password alone/)).toBeTruthy();
    fireEvent.click(within(theirs).getByRole('button', { name: 'Cancel' }));
    expect(sent(fetch, 'POST', path)).toHaveLength(0);
    fireEvent.click(within(theirs).getByRole('button', { name: 'Reset two-step verification of Person 2' }));
    fireEvent.click(within(theirs).getByRole('button', { name: 'Reset' }));
    await waitFor(() => expect(within(theirs).queryByText('2-step')).toBeNull());
    expect(within(theirs).queryByRole('button', { name: /Reset two-step verification/ })).toBeNull();
    expect(sent(fetch, 'POST', path)).toHaveLength(1);

    // Refused (the role changed meanwhile): said in the row, the marker stays.
    fireEvent.click(within(fourth).getByRole('button', { name: 'Reset two-step verification of Person 4' }));
    fireEvent.click(within(fourth).getByRole('button', { name: 'Reset' }));
    expect(await within(fourth).findByText('Your role does not allow this (it may have changed: reload the page).')).toBeTruthy();
    expect(within(fourth).getByText('2-step')).toBeTruthy();
  });

  it('shows a member the team without the owners’ tools', async () => {
    const member = person(2, 'member');
    // (whether others have two-step verification on is not a member's to know: null)
    const fetch = stubApi(member, [person(1, 'owner', { two_factor: null, recovery_codes_left: null }), member]);
    renderAt('/team');
    await waitFor(() => expect(screen.getAllByTestId('member')).toHaveLength(2));
    expect(screen.queryByText('2-step')).toBeNull();
    expect(screen.queryByRole('button', { name: /Reset two-step verification/ })).toBeNull();
    expect(screen.getByText('Owners and admins invite people and manage their access.')).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'Invite someone' })).toBeNull();
    expect(screen.queryByRole('combobox')).toBeNull();
    expect(screen.queryByRole('button', { name: /Deactivate/ })).toBeNull();
    expect(sent(fetch, 'GET', '/api/identity/invitations')).toHaveLength(0);
  });
});

describe('AccountPage', () => {
  it('changes the password and carries on with the session it brings', async () => {
    const me = person(1, 'owner');
    let answer: 'wrong' | 'limited' | 'ok' = 'wrong';
    const fetch = stubApi(me, [], (url) => {
      if (url.pathname !== '/api/identity/me/password') return undefined;
      if (answer === 'wrong') return problem(403, 'The current password is wrong');
      if (answer === 'limited')
        return new Response(JSON.stringify({ title: 'Too Many Requests', status: 429, detail: 'Too many password attempts' }), {
          status: 429,
          headers: { 'content-type': 'application/problem+json', 'retry-after': '42' },
        });
      return json({ ...tokens, access_token: 'd.e.f' });
    });
    renderAt('/account');
    fireEvent.change(await screen.findByLabelText('Current password'), { target: { value: 'old-password-1' } });
    fireEvent.change(screen.getByLabelText('New password'), { target: { value: 'new-password-22' } });
    fireEvent.click(screen.getByRole('button', { name: 'Change the password' }));
    expect(await screen.findByText('This is not your current password.')).toBeTruthy();
    expect(screen.getByLabelText('Current password').getAttribute('aria-invalid')).toBe('true');
    answer = 'limited'; // password checks share the log-in budget
    fireEvent.click(screen.getByRole('button', { name: 'Change the password' }));
    expect(await screen.findByText('Too many attempts: wait a minute and try again.')).toBeTruthy();
    answer = 'ok';
    fireEvent.click(screen.getByRole('button', { name: 'Change the password' }));
    expect(await screen.findByText('Password changed. Your sessions on other devices end within 15 minutes.')).toBeTruthy();
    expect(sent(fetch, 'POST', '/api/identity/me/password')[1]).toEqual({ current_password: 'old-password-1', new_password: 'new-password-22' });
    // The session the answer brought is the one this page goes on with (no new log-in).
    const lastMe = fetch.mock.calls.filter(([url]) => String(url) === '/api/identity/me').at(-1)!;
    expect(((lastMe[1] as RequestInit).headers as Record<string, string>).authorization).toBe('Bearer d.e.f');
    expect(sent(fetch, 'POST', '/api/identity/login')).toEqual([]);
  });

  it('with two-step verification on, asks for a code as well', async () => {
    const me = { ...person(1, 'owner'), two_factor: true, recovery_codes_left: 10 };
    const fetch = stubApi(me, [], (url, init) => {
      if (url.pathname !== '/api/identity/me/password') return undefined;
      const { code } = JSON.parse(String(init.body)) as { code?: string };
      if (!code) return typed('https://mrbill.dev/problems/two-factor-code-required', 403, 'Enter the code from your authenticator app');
      if (code !== '246810') return typed('https://mrbill.dev/problems/invalid-code', 403, 'The code is wrong or expired');
      return json({ ...tokens, access_token: 'g.h.i' });
    });
    renderAt('/account');
    fireEvent.change(await screen.findByLabelText('Current password'), { target: { value: 'old-password-1' } });
    fireEvent.change(screen.getByLabelText('New password'), { target: { value: 'new-password-22' } });
    const code = within(screen.getByRole('region', { name: 'Password' })).getByLabelText('Code from the app');
    fireEvent.change(code, { target: { value: '111111' } });
    fireEvent.click(screen.getByRole('button', { name: 'Change the password' }));
    expect(await screen.findByText('The code is wrong or expired.')).toBeTruthy();
    expect(code.getAttribute('aria-invalid')).toBe('true');
    fireEvent.change(code, { target: { value: ' 246810 ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Change the password' }));
    expect(await screen.findByText('Password changed. Your sessions on other devices end within 15 minutes.')).toBeTruthy();
    expect(sent(fetch, 'POST', '/api/identity/me/password').map((b) => (b as { code: string }).code)).toEqual(['111111', '246810']);
  });

  it('asks for a code to delete the account once it learns two-step verification is on (another tab)', async () => {
    const me = person(1, 'member');
    let state = { two_factor: false, recovery_codes_left: 0 };
    const fetch = stubApi(me, [], (url, init) => {
      if (url.pathname === '/api/identity/me') return json({ user: { ...me, ...state }, tenant });
      if (url.pathname !== '/api/identity/me/delete') return undefined;
      const { code } = JSON.parse(String(init.body)) as { code?: string };
      return code === '135790'
        ? new Response(null, { status: 204 })
        : typed('https://mrbill.dev/problems/two-factor-code-required', 403, 'Enter the code from your authenticator app');
    });
    renderAt('/account');
    const zone = within(await screen.findByRole('region', { name: 'Delete your account' }));
    expect(zone.queryByLabelText('Code from the app')).toBeNull();
    state = { two_factor: true, recovery_codes_left: 10 }; // (turned on elsewhere)
    fireEvent.change(zone.getByLabelText('Your password, to confirm'), { target: { value: 'my-password-1' } });
    fireEvent.click(zone.getByRole('button', { name: 'Delete my account' }));
    expect(await zone.findByText('With two-step verification on, this takes a code from your app (or a recovery code) too.')).toBeTruthy();
    fireEvent.change(await zone.findByLabelText('Code from the app'), { target: { value: '135790' } });
    fireEvent.click(zone.getByRole('button', { name: 'Delete my account' }));
    await waitFor(() => expect(sent(fetch, 'POST', '/api/identity/me/delete')).toHaveLength(2));
    expect(sent(fetch, 'POST', '/api/identity/me/delete')).toEqual([{ password: 'my-password-1' }, { password: 'my-password-1', code: '135790' }]);
  });

  it('says why a deletion is refused, and signs out once the account is gone', async () => {
    const me = person(1, 'member');
    let answer = problem(403, 'The password is wrong');
    stubApi(me, [], (url) => {
      if (url.pathname === '/api/identity/me/delete') return answer;
      if (url.pathname === '/api/identity/token/logout') return new Response(null, { status: 204 });
    });
    renderAt('/account');
    fireEvent.change(await screen.findByLabelText('Your password, to confirm'), { target: { value: 'nope' } });
    fireEvent.click(screen.getByRole('button', { name: 'Delete my account' }));
    expect(await screen.findByText('This is not your current password.')).toBeTruthy();
    answer = new Response(
      JSON.stringify({ type: 'https://mrbill.dev/problems/account-deactivated', title: 'Forbidden', status: 403, detail: 'This account is deactivated' }),
      { status: 403, headers: { 'content-type': 'application/problem+json' } },
    );
    fireEvent.click(screen.getByRole('button', { name: 'Delete my account' }));
    expect(await screen.findByText('Your account was deactivated: ask an owner or admin of your organization.')).toBeTruthy();
    expect(screen.queryByText('This is not your current password.')).toBeNull();
    answer = problem(409, 'Make another member an owner before deleting your account');
    fireEvent.click(screen.getByRole('button', { name: 'Delete my account' }));
    expect(await screen.findByText('You are the only owner: make another member an owner on the Team page first, or delete the organization below.')).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'Delete the organization' })).toBeNull(); // (owners only)
    answer = new Response(null, { status: 204 });
    fireEvent.click(screen.getByRole('button', { name: 'Delete my account' }));
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/login {"flash":"account.deleted"}'));
  });

  it('lets an owner delete the organization, confirmed with its name and a password', async () => {
    const me = person(1, 'owner');
    let answer = typed('https://mrbill.dev/problems/confirmation-mismatch', 422, "Type the organization's name as it is to confirm");
    const fetch = stubApi(me, [], (url) => {
      if (url.pathname === '/api/identity/tenant/delete') return answer;
      if (url.pathname === '/api/identity/token/logout') return new Response(null, { status: 204 });
    });
    renderAt('/account');
    const section = within((await screen.findByRole('heading', { name: 'Delete the organization' })).closest('section')!);
    expect(section.getByText(/Every account of Quokka Labs, deactivated ones too/)).toBeTruthy();
    const name = section.getByLabelText('The organization’s name, typed as it is: Quokka Labs');
    const password = section.getByLabelText('Your password, to confirm');
    const submit = section.getByRole('button', { name: 'Delete the organization and every account' });
    fireEvent.change(name, { target: { value: 'Quokka' } });
    fireEvent.change(password, { target: { value: 'my-password-1' } });
    fireEvent.click(submit);
    expect(await section.findByText('This is not the organization’s name: type it exactly as shown.')).toBeTruthy();
    expect(name.getAttribute('aria-invalid')).toBe('true');
    answer = problem(403, 'The password is wrong');
    fireEvent.click(submit);
    expect(await section.findByText('This is not your current password.')).toBeTruthy();
    expect(password.getAttribute('aria-invalid')).toBe('true');
    answer = typed('https://mrbill.dev/problems/not-an-owner', 403, 'Only an owner deletes the organization');
    fireEvent.click(submit); // (demoted meanwhile: not a password problem)
    expect(await section.findByText('Your role does not allow this (it may have changed: reload the page).')).toBeTruthy();
    expect(password.getAttribute('aria-invalid')).toBeNull();
    answer = new Response(null, { status: 204 });
    fireEvent.change(name, { target: { value: 'Quokka Labs' } });
    fireEvent.click(submit);
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/login {"flash":"org.deleted"}'));
    expect(sent(fetch, 'POST', '/api/identity/tenant/delete').at(-1)).toEqual({ password: 'my-password-1', organization: 'Quokka Labs' });
    expect(sent(fetch, 'POST', '/api/identity/token/logout')).toHaveLength(1);
  });
});

describe('AccountPage: two-step verification', () => {
  const wrongPassword = () => typed('https://mrbill.dev/problems/wrong-password', 403, 'The password is wrong');
  const codes = Array.from({ length: 10 }, (_, i) => `abcd${i}-fghij`);
  const section = async () => within((await screen.findByRole('heading', { name: 'Two-step verification' })).closest('section')!);
  const withPassword = (area: Awaited<ReturnType<typeof section>>, password: string, button: string, code?: string) => {
    fireEvent.change(area.getByLabelText('Your password'), { target: { value: password } });
    if (code !== undefined) fireEvent.change(area.getByLabelText('Code from the app'), { target: { value: code } });
    fireEvent.click(area.getByRole('button', { name: button }));
  };
  const body = (init: RequestInit) => JSON.parse(String(init.body));
  afterEach(() => {
    Reflect.deleteProperty(navigator, 'clipboard');
  });

  it('is turned on with the password, the QR code or the key, and a code; the recovery codes are shown once', async () => {
    const me = person(1, 'member');
    let state = { two_factor: false, recovery_codes_left: 0 };
    const uri = 'otpauth://totp/Mr%20Bill:p1%40quokka.dev%20%28Quokka%20Labs%29?secret=JBSWY3DPEHPK3PXP&issuer=Mr%20Bill';
    const fetch = stubApi(me, [], (url, init) => {
      if (url.pathname === '/api/identity/me') return json({ user: { ...me, ...state }, tenant });
      if (url.pathname === '/api/identity/me/two-factor')
        return body(init).password === 'my-password-1' ? json({ secret: 'JBSWY3DPEHPK3PXP', otpauth_uri: uri }) : wrongPassword();
      if (url.pathname === '/api/identity/me/two-factor/confirm') {
        if (body(init).code !== '123456') return typed('https://mrbill.dev/problems/invalid-code', 400, 'The code is wrong or expired');
        state = { two_factor: true, recovery_codes_left: 10 };
        return json({ recovery_codes: codes, session: { ...tokens, access_token: 'after-two-factor' } });
      }
    });
    const writeText = vi.fn(async (_text: string) => undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    renderAt('/account');
    const area = await section();
    expect(area.getByText(/^Off: your password alone opens your account/)).toBeTruthy();
    fireEvent.click(area.getByRole('button', { name: 'Turn on two-step verification' }));
    withPassword(area, 'nope', 'Continue');
    expect(await area.findByText('This is not your current password.')).toBeTruthy();
    withPassword(area, 'my-password-1', 'Continue');

    const qr = await area.findByRole('img', { name: 'QR code of the key, for your authenticator app' });
    const src = qr.getAttribute('src')!;
    expect(src).toMatch(/^data:image\/svg\+xml;charset=utf-8,/);
    expect(decodeURIComponent(src.slice(src.indexOf(',') + 1))).toMatch(/^<svg[\s\S]*<path/);
    expect(area.getByTestId('two-factor-secret').textContent).toBe('JBSWY3DPEHPK3PXP'); // (to type, when scanning fails)
    const code = area.getByLabelText('Code from the app');
    expect(code.getAttribute('autocomplete')).toBe('one-time-code');
    fireEvent.change(code, { target: { value: '000000' } });
    fireEvent.click(area.getByRole('button', { name: 'Turn it on' }));
    expect(await area.findByText('The code is wrong or expired')).toBeTruthy();
    expect(code.getAttribute('aria-invalid')).toBe('true');
    fireEvent.change(code, { target: { value: '123456' } });
    fireEvent.click(area.getByRole('button', { name: 'Turn it on' }));

    const list = await area.findByTestId('recovery-codes');
    expect(within(list).getAllByRole('listitem').map((li) => li.textContent)).toEqual(codes);
    expect(area.getByText(/^Keep these codes somewhere safe.*Each works once.*They are shown only now\.$/)).toBeTruthy();
    await waitFor(() => expect(document.activeElement).toBe(area.getByRole('heading', { name: 'Your recovery codes' })));
    fireEvent.click(area.getByRole('button', { name: 'Copy the codes' }));
    expect(await area.findByRole('button', { name: 'Copied' })).toBeTruthy();
    const copied = writeText.mock.calls[0][0];
    expect(copied.split('\n').filter((line) => /^abcd\d-fghij$/.test(line))).toEqual(codes);
    expect(copied).toContain('p1@quokka.dev (Quokka Labs)');
    expect(area.getByRole('button', { name: 'Download as text' })).toBeTruthy();

    fireEvent.click(area.getByRole('button', { name: 'Done' }));
    expect(await area.findByText('Recovery codes left: 10')).toBeTruthy(); // (the account read again)
    expect(area.queryByTestId('recovery-codes')).toBeNull(); // once
    expect(area.getByRole('button', { name: 'Turn off' })).toBeTruthy();
    expect(sent(fetch, 'POST', '/api/identity/me/two-factor')).toEqual([{ password: 'nope' }, { password: 'my-password-1' }]);
    expect(sent(fetch, 'POST', '/api/identity/me/two-factor/confirm')).toEqual([{ code: '000000' }, { code: '123456' }]);
    // Every other session ended: the browser asked for its new refresh token in the cookie
    // alone, and goes on with the new access token.
    const confirms = fetch.mock.calls.filter(([input]) => String(input).endsWith('/two-factor/confirm'));
    expect(confirms.map(([, init]) => (init?.headers as Record<string, string>)['x-token-delivery'])).toEqual(['cookie', 'cookie']);
    const last = fetch.mock.calls.at(-1)!;
    expect(new URL(String(last[0]), 'http://localhost').pathname).toBe('/api/identity/me');
    expect((last[1]?.headers as Record<string, string>).authorization).toBe('Bearer after-two-factor');
  });

  it('makes new recovery codes and turns it off, each with the password and a code; says when another tab changed it', async () => {
    const me = person(1, 'member');
    let state = { two_factor: true, recovery_codes_left: 2 };
    let disable = () => {
      state = { two_factor: false, recovery_codes_left: 0 };
      return new Response(null, { status: 204 });
    };
    const fetch = stubApi(me, [], (url, init) => {
      if (url.pathname === '/api/identity/me') return json({ user: { ...me, ...state }, tenant });
      if (url.pathname === '/api/identity/me/two-factor/recovery-codes') {
        if (body(init).password !== 'my-password-1') return wrongPassword();
        if (body(init).code !== '654321') return typed('https://mrbill.dev/problems/invalid-code', 403, 'The code is wrong or expired');
        state = { two_factor: true, recovery_codes_left: 10 };
        return json({ recovery_codes: codes });
      }
      if (url.pathname === '/api/identity/me/two-factor/disable') return disable();
    });
    const { unmount } = renderAt('/account');
    const area = await section();
    expect(area.getByText('Recovery codes left: 2')).toBeTruthy();
    expect(area.getByText('Few recovery codes left: make new ones before you run out.')).toBeTruthy();

    fireEvent.click(area.getByRole('button', { name: 'New recovery codes' }));
    expect(area.getByText('Ten new recovery codes replace the ones you have: those stop working.')).toBeTruthy();
    withPassword(area, 'my-password-1', 'Make new recovery codes', '000000');
    expect(await area.findByText('The code is wrong or expired.')).toBeTruthy();
    expect(area.getByLabelText('Code from the app').getAttribute('aria-invalid')).toBe('true');
    withPassword(area, 'my-password-1', 'Make new recovery codes', '654321');
    expect(within(await area.findByTestId('recovery-codes')).getAllByRole('listitem')).toHaveLength(10);
    fireEvent.click(area.getByRole('button', { name: 'Done' }));
    expect(await area.findByText('Recovery codes left: 10')).toBeTruthy();
    expect(area.queryByText('Few recovery codes left: make new ones before you run out.')).toBeNull();

    fireEvent.click(area.getByRole('button', { name: 'Turn off' }));
    fireEvent.click(area.getByRole('button', { name: 'Cancel' }));
    expect(area.queryByLabelText('Your password')).toBeNull();
    fireEvent.click(area.getByRole('button', { name: 'Turn off' }));
    withPassword(area, 'my-password-1', 'Turn off two-step verification', 'abcde-fghij');
    expect(await area.findByText('Two-step verification is off.')).toBeTruthy();
    expect(area.getByRole('button', { name: 'Turn on two-step verification' })).toBeTruthy();
    expect(sent(fetch, 'POST', '/api/identity/me/two-factor/disable')).toEqual([{ password: 'my-password-1', code: 'abcde-fghij' }]);

    // Turned off in another tab while this one still shows it on: this one catches up.
    state = { two_factor: true, recovery_codes_left: 10 };
    unmount();
    renderAt('/account');
    const again = await section();
    fireEvent.click(again.getByRole('button', { name: 'Turn off' }));
    state = { two_factor: false, recovery_codes_left: 0 };
    disable = () => typed('https://mrbill.dev/problems/two-factor-off', 409, 'Two-step verification is already off');
    withPassword(again, 'my-password-1', 'Turn off two-step verification', '123456');
    expect(await again.findByText(/^Two-step verification was changed meanwhile/)).toBeTruthy();
    expect(again.getByRole('button', { name: 'Turn on two-step verification' })).toBeTruthy();
  });
});
