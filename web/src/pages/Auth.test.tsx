import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { Route } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoginPage, PasswordForgottenPage, PasswordResetPage } from './Auth';
import { renderApp } from '../test-utils';

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function stub(handler: (path: string, init: RequestInit) => Response | undefined) {
  const fetch = vi.fn(async (input: string, init: RequestInit = {}) => {
    const path = new URL(input, 'http://localhost').pathname;
    return handler(path, init) ?? (path === '/api/identity/token/refresh' ? json({ title: 'Unauthorized', status: 401 }, 401) : json({ title: 'Not Found', status: 404 }, 404));
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}
const body = (fetch: ReturnType<typeof stub>, path: string) =>
  fetch.mock.calls.filter(([url]) => new URL(url, 'http://localhost').pathname === path).map(([, init]) => JSON.parse(String((init as RequestInit).body)));
const problem = (type: string, status: number, detail: string, extra: Record<string, unknown> = {}) =>
  new Response(JSON.stringify({ type, title: 'Unauthorized', status, detail, ...extra }), { status, headers: { 'content-type': 'application/problem+json' } });


const renderAt = (path: string) =>
  renderApp(
    path,
    <>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/password/forgotten" element={<PasswordForgottenPage />} />
      <Route path="/reset" element={<PasswordResetPage />} />
      <Route path="/pocs" element={null} />
    </>,
  );

afterEach(() => {
  vi.unstubAllGlobals();
  window.location.hash = '';
});

describe('a forgotten password', () => {
  it('is a link away from the log-in page', async () => {
    stub(() => undefined);
    renderAt('/login');
    expect((await screen.findByRole('link', { name: 'Forgot your password?' })).getAttribute('href')).toBe('/password/forgotten');
  });

  it('asks for a link and says the same whoever has an account', async () => {
    const fetch = stub((path) => (path === '/api/identity/password/forgotten' ? new Response(null, { status: 202 }) : undefined));
    renderAt('/password/forgotten');
    fireEvent.change(await screen.findByLabelText('E-mail'), { target: { value: ' ana@quokka.dev ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Send me the link' }));
    expect(await screen.findByText(/^If an account uses ana@quokka.dev, a link/)).toBeTruthy();
    expect(body(fetch, '/api/identity/password/forgotten')).toEqual([{ email: 'ana@quokka.dev' }]);
  });

  it('is reset with the token of the link, which works once', async () => {
    window.location.hash = '#t1.secret';
    let answer = json({ title: 'Not Found', status: 404, detail: 'This password reset link is not valid' }, 404);
    const fetch = stub((path) => (path === '/api/identity/password/reset' ? answer : undefined));
    renderAt('/reset');
    fireEvent.change(await screen.findByLabelText('New password'), { target: { value: 'a brand new password' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save the new password' }));
    expect(await screen.findByText('This link is not valid: it expired, was used already, or is incomplete. Ask for a new one.')).toBeTruthy();
    answer = new Response(null, { status: 204 });
    fireEvent.click(screen.getByRole('button', { name: 'Save the new password' }));
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/login {"flash":"reset.done"}'));
    expect(body(fetch, '/api/identity/password/reset').at(-1)).toEqual({ token: 't1.secret', new_password: 'a brand new password' });
  });

  it('says a garbled link is not valid instead of failing', async () => {
    window.location.hash = '#%E0%A4%A';
    stub(() => undefined);
    renderAt('/reset');
    expect(await screen.findByText('This link is not valid: it expired, was used already, or is incomplete. Ask for a new one.')).toBeTruthy();
  });
});

describe('a log-in with two-step verification on', () => {
  const tokens = { access_token: 'a.b.c', token_type: 'bearer', expires_in: 900, refresh_expires_in: 86400 };
  const me = {
    user: { user_id: 'u-1', email: 'ana@quokka.dev', full_name: 'Ana', role: 'owner', status: 'active', two_factor: true, recovery_codes_left: 9 },
    tenant: { tenant_id: 't-1', name: 'Quokka Labs', slug: 'quokka-labs' },
  };
  const REQUIRED = 'https://mrbill.dev/problems/two-factor-required';
  const INVALID = 'https://mrbill.dev/problems/invalid-code';
  const EXPIRED = 'https://mrbill.dev/problems/two-factor-expired';
  /** Identity with the password right; `code` answers POST /login/two-factor. */
  const stubLogin = (code: (sent: { challenge: string; code: string }) => Response) => {
    let challenges = 0;
    return stub((path, init) => {
      if (path === '/api/identity/login')
        return problem(REQUIRED, 401, 'Enter the code from your authenticator app', { challenge: `ch-${++challenges}`, expires_in: 300 });
      if (path === '/api/identity/login/two-factor') return code(JSON.parse(String(init.body)));
      if (path === '/api/identity/me') return json(me);
    });
  };
  const password = async () => {
    fireEvent.change(await screen.findByLabelText('E-mail'), { target: { value: 'ana@quokka.dev' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'correct-horse-battery' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));
    return (await screen.findByLabelText('Code from the app')) as HTMLInputElement;
  };
  const verify = (field: HTMLElement, code: string) => {
    fireEvent.change(field, { target: { value: code } });
    fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
  };

  it('says how long to wait when the codes of the day are spent', async () => {
    stubLogin(() => new Response(JSON.stringify({ title: 'Too Many Requests', status: 429, detail: 'Too many codes tried' }), {
      status: 429,
      headers: { 'content-type': 'application/problem+json', 'retry-after': '7000' },
    }));
    renderAt('/login');
    verify(await password(), '654321');
    expect(await screen.findByText('Too many attempts: try again in 2 hours.')).toBeTruthy();
  });

  it('shows a wrong code under the field it was typed in only', async () => {
    stubLogin(() => problem(INVALID, 401, 'The code is wrong or expired'));
    renderAt('/login');
    verify(await password(), '654321');
    expect(await screen.findByText('The code is wrong or expired')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Use a recovery code instead' }));
    expect(screen.queryByText('The code is wrong or expired')).toBeNull();
  });

  it('asks for the code after the password, keeps the step on a wrong one, and logs in with the right one', async () => {
    const fetch = stubLogin((sent) => (sent.code === '123456' ? json(tokens) : problem(INVALID, 401, 'The code is wrong or expired')));
    renderAt('/login');
    const field = await password();
    expect(screen.getByRole('heading', { name: 'Two-step verification' })).toBeTruthy();
    expect(field.getAttribute('autocomplete')).toBe('one-time-code');
    expect(field.getAttribute('inputmode')).toBe('numeric');
    expect(document.activeElement).toBe(field);
    expect(screen.getByText('6 digits. A recovery code works here too.')).toBeTruthy();
    expect(screen.queryByLabelText('Password')).toBeNull();

    verify(field, '654321');
    // The API's words, under the field; the step stays, with its challenge.
    const error = await screen.findByText('The code is wrong or expired');
    expect(field.getAttribute('aria-describedby')).toContain(error.id);
    expect(field.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByTestId('where').textContent).toBe('/login null');

    verify(field, ' 123456 ');
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/pocs null'));
    expect(body(fetch, '/api/identity/login/two-factor')).toEqual([
      { challenge: 'ch-1', code: '654321' },
      { challenge: 'ch-1', code: '123456' },
    ]);
    // As a log-in with the password alone: the refresh token stays in its cookie, and the
    // access token it brought is the one the app goes on with.
    const [, sent] = fetch.mock.calls.find(([url]) => url === '/api/identity/login/two-factor')!;
    expect((sent as RequestInit).headers).toMatchObject({ 'x-token-delivery': 'cookie' });
    expect((sent as RequestInit).headers).not.toHaveProperty('authorization');
    const [, meCall] = fetch.mock.calls.find(([url]) => url === '/api/identity/me')!;
    expect(((meCall as RequestInit).headers as Record<string, string>).authorization).toBe('Bearer a.b.c');
  });

  it('takes a recovery code in the same field, and goes back to the password when asked', async () => {
    const fetch = stubLogin(() => json(tokens));
    renderAt('/login');
    await password();
    fireEvent.click(screen.getByRole('button', { name: 'Back to the password' }));
    expect(((await screen.findByLabelText('E-mail')) as HTMLInputElement).value).toBe('ana@quokka.dev'); // (kept)
    expect(screen.queryByLabelText('Code from the app')).toBeNull();

    await password();
    fireEvent.click(screen.getByRole('button', { name: 'Use a recovery code instead' }));
    const field = screen.getByLabelText('Recovery code');
    expect(field.getAttribute('inputmode')).toBe('text'); // letters: not the number pad
    expect(field.getAttribute('autocomplete')).toBe('off');
    expect(screen.getByText('Like abcde-fghij. Each code works once.')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Use the code from my app instead' })).toBeTruthy();
    verify(field, 'ABCDE-FGHIJ');
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/pocs null'));
    expect(body(fetch, '/api/identity/login/two-factor')).toEqual([{ challenge: 'ch-2', code: 'ABCDE-FGHIJ' }]);
  });

  it('goes back to the password step when the sign-in expired', async () => {
    let expired = true;
    const fetch = stubLogin(() => (expired ? problem(EXPIRED, 401, 'This sign-in expired: enter your password again') : json(tokens)));
    renderAt('/login');
    verify(await password(), '123456');
    const form = (await screen.findByRole('button', { name: 'Log in' })).closest('form')!;
    expect(within(form).getByRole('alert').textContent).toBe('This sign-in expired: enter your password again');
    expect(screen.getByRole('heading', { name: 'Log in to Mr Bill' })).toBeTruthy();
    expect(screen.queryByLabelText('Code from the app')).toBeNull();
    expect((screen.getByLabelText('E-mail') as HTMLInputElement).value).toBe('ana@quokka.dev');
    expect(document.activeElement).toBe(screen.getByLabelText('Password'));

    expired = false;
    verify(await password(), '654321'); // a new challenge
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/pocs null'));
    expect(body(fetch, '/api/identity/login/two-factor').map((sent) => sent.challenge)).toEqual(['ch-1', 'ch-2']);
  });
});
