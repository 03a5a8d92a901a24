import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { Link, MemoryRouter, Route, Routes } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { I18nProvider } from '../i18n';
import { PocListPage } from './PocListPage';

const hit = (n: number) => ({
  poc_id: `7d1c0000-0000-4000-8000-0000000000${String(n).padStart(2, '0')}`,
  owner_id: 'u-1',
  name: `POC ${n}`,
  description: null,
  language: 'Go',
  frameworks: [],
  tags: [],
  repository_url: null,
  status: 'idea',
  visibility: 'tenant',
  created_at: '2026-01-01T10:00:00Z',
  updated_at: '2026-01-01T10:00:00Z',
});
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': status < 400 ? 'application/json' : 'application/problem+json' } });
const firstPage = { items: [hit(1), hit(2)], total: 4, facets: { language: [], tags: [], status: [] }, next_cursor: 'c2' };

function renderList(handler: (url: URL) => Response, at = '/pocs') {
  const fetch = vi.fn(async (input: string) => handler(new URL(input, 'http://localhost')));
  vi.stubGlobal('fetch', fetch);
  render(
    <I18nProvider initial="en">
      <MemoryRouter initialEntries={[at]}>
        <Link to="/pocs">All POCs</Link>
        <Routes>
          <Route path="/pocs" element={<PocListPage />} />
        </Routes>
      </MemoryRouter>
    </I18nProvider>,
  );
  return fetch;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('PocListPage', () => {
  it('says so when the next page cannot be had, keeps what is shown, and can try again', async () => {
    let down = true;
    renderList((url) => {
      if (!url.searchParams.get('cursor')) return json(firstPage);
      if (down) return json({ title: 'Service Unavailable', status: 503, detail: 'The search index is busy; try again' }, 503);
      return json({ ...firstPage, items: [hit(3), hit(4)], next_cursor: null });
    });
    fireEvent.click(await screen.findByRole('button', { name: 'Load more' }));
    expect((await screen.findByRole('alert')).textContent).toBe('The search index is busy; try again');
    expect(screen.getAllByRole('listitem').map((li) => li.querySelector('h3')?.textContent)).toEqual(['POC 1', 'POC 2']);

    down = false;
    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await screen.findByRole('link', { name: 'POC 4' });
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
  });

  it('says why an export failed', async () => {
    renderList((url) =>
      url.pathname === '/api/pocs/pocs/export'
        ? json({ title: 'Too Many Requests', status: 429, detail: 'Your organization has 2 exports under way; try again when one ends' }, 429)
        : json(firstPage),
    );
    fireEvent.click(await screen.findByRole('button', { name: 'Export CSV' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Your organization has 2 exports under way; try again when one ends');
    await waitFor(() => expect((screen.getByRole('button', { name: 'Export CSV' }) as HTMLButtonElement).disabled).toBe(false));
  });

  it('the search box follows words changed without typing (the header’s link to the list)', async () => {
    const fetch = renderList(() => json({ ...firstPage, next_cursor: null }), '/pocs?q=rust&language=Go');
    const box = (await screen.findByRole('combobox')) as HTMLInputElement;
    expect(box.value).toBe('rust');
    fireEvent.click(screen.getByRole('link', { name: 'All POCs' }));
    await waitFor(() => expect(box.value).toBe(''));
    const last = new URL(String(fetch.mock.calls.at(-1)![0]), 'http://localhost');
    expect(last.searchParams.get('q')).toBeNull();
  });

  it('says there is no POC yet, not that none matches, when nothing was asked', async () => {
    const none = { items: [], total: 0, facets: { language: [], tags: [], status: [] }, next_cursor: null };
    renderList(() => json(none));
    expect((await screen.findByTestId('no-pocs')).textContent).toBe('No POC yet: register your first one, or import a file of them.');
  });

  it('says that nothing matches a search that finds nothing', async () => {
    const none = { items: [], total: 0, facets: { language: [], tags: [], status: [] }, next_cursor: null };
    renderList(() => json(none), '/pocs?q=quokka');
    expect((await screen.findByTestId('no-pocs')).textContent).toBe('No POC matches.');
  });
});
