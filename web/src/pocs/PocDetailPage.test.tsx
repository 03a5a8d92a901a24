import { fireEvent, screen, waitFor } from '@testing-library/react';
import { Route } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderApp, samplePoc } from '../test-utils';
import { PocDetailPage } from './PocDetailPage';
import { PocListPage } from './PocListPage';

const me = { user_id: 'u-1', email: 'q@quokka.dev', full_name: 'Quinn', role: 'member', status: 'active', two_factor: false, recovery_codes_left: 0 };
const tenant = { tenant_id: 't-1', name: 'Quokka Labs', slug: 'quokka-labs' };
const tokens = { access_token: 'a.b.c', token_type: 'bearer', expires_in: 900, refresh_expires_in: 86400 };
const poc = samplePoc;
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': status < 400 ? 'application/json' : 'application/problem+json' } });

const other = { ...poc, poc_id: '7d1c0000-0000-4000-8000-000000000002', name: 'Circuit breaker' };
// The search index a moment after the deletion: it has not heard of it yet.
const stale = {
  items: [poc, other].map(({ started_on: _s, finished_on: _f, version: _v, ...hit }) => hit),
  total: 2,
  facets: { language: [{ value: 'Go', count: 2 }], tags: [], status: [] },
  next_cursor: null,
};

/** Signed in as the POC's owner; `remove` answers the DELETE. */
function stubApi(remove: () => Response) {
  const fetch = vi.fn(async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, 'http://localhost');
    if (url.pathname === '/api/identity/token/refresh') return json(tokens);
    if (url.pathname === '/api/identity/me') return json({ user: me, tenant });
    if (url.pathname === `/api/pocs/pocs/${poc.poc_id}`) return init.method === 'DELETE' ? remove() : json(poc);
    if (url.pathname === '/api/search/search') return json(stale);
    return json({ title: 'Not Found', status: 404 }, 404);
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}
const deletes = (fetch: ReturnType<typeof stubApi>) => fetch.mock.calls.filter(([, init]) => (init as RequestInit | undefined)?.method === 'DELETE').length;

const renderDetail = () =>
  renderApp(
    `/pocs/${poc.poc_id}`,
    <>
      <Route path="/pocs/:id" element={<PocDetailPage />} />
      <Route path="/pocs" element={<PocListPage />} />
    </>,
  );

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('PocDetailPage', () => {
  it('asks before deleting: a stray click deletes nothing, and Cancel keeps the POC', async () => {
    const fetch = stubApi(() => new Response(null, { status: 204 }));
    renderDetail();
    fireEvent.click(await screen.findByRole('button', { name: 'Delete' }));
    expect(deletes(fetch)).toBe(0);
    expect(screen.getByText('Move this POC to the trash?')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByText('Move this POC to the trash?')).toBeNull();
    expect(deletes(fetch)).toBe(0);

    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(screen.getByTestId('where').textContent).toMatch(/^\/pocs .*"flash":"poc.deleted"/));
    expect(deletes(fetch)).toBe(1);
  });

  it('the list it goes back to leaves the deleted POC out while the index catches up', async () => {
    stubApi(() => new Response(null, { status: 204 }));
    renderDetail();
    fireEvent.click(await screen.findByRole('button', { name: 'Delete' }));
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    expect(await screen.findByRole('link', { name: 'Circuit breaker' })).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Rate limiter' })).toBeNull();
    expect(screen.getByRole('heading', { name: '1 POC' })).toBeTruthy();
    expect(screen.getByText('Moved to the trash.')).toBeTruthy();
  });

  it('says why a deletion failed, and stays on the POC', async () => {
    stubApi(() => json({ title: 'Service Unavailable', status: 503, detail: 'The database is busy; try again' }, 503));
    renderDetail();
    fireEvent.click(await screen.findByRole('button', { name: 'Delete' }));
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    expect((await screen.findByRole('alert')).textContent).toBe('The database is busy; try again');
    expect(screen.getByTestId('where').textContent).toMatch(new RegExp(`^/pocs/${poc.poc_id} `));
  });

  it('shows the days as the reader writes them', async () => {
    const dated = { ...poc, started_on: '2026-05-01', finished_on: '2026-11-28' };
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: string) => {
        const url = new URL(input, 'http://localhost');
        if (url.pathname === '/api/identity/token/refresh') return json(tokens);
        if (url.pathname === '/api/identity/me') return json({ user: me, tenant });
        return json(dated);
      }),
    );
    renderDetail();
    expect(await screen.findByText('5/1/2026')).toBeTruthy();
    expect(screen.getByText('11/28/2026')).toBeTruthy();
    expect(screen.queryByText('2026-05-01')).toBeNull();
  });
});
