import { fireEvent, screen, waitFor } from '@testing-library/react';
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


const renderAt = (path: string) =>
  renderApp(
    path,
    <>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/password/forgotten" element={<PasswordForgottenPage />} />
      <Route path="/reset" element={<PasswordResetPage />} />
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
