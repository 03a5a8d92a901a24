import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthProvider } from '../auth/AuthContext';
import { I18nProvider } from '../i18n';
import { DojoLobbyPage } from './DojoLobbyPage';

const dojo = {
  dojo_id: '3f1c2a4e-0000-4000-8000-000000000001',
  creator_id: '3f1c2a4e-0000-4000-8000-0000000000aa',
  name: 'Kata FizzBuzz',
  description: '',
  language: 'python',
  format: 'randori',
  status: 'active',
  participant_count: 2,
  scheduled_start_time: null,
  started_at: '2026-01-01T10:00:00Z',
  created_at: '2026-01-01T09:00:00Z',
  ended_at: null,
};
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** The browser's view of the API for this page: not signed in, one dojo listed, one found. */
function stubApi() {
  const fetch = vi.fn(async (input: string) => {
    const url = new URL(input, 'http://localhost');
    if (url.pathname === '/api/identity/token/refresh') return json({ title: 'Unauthorized', status: 401 }, 401);
    if (url.pathname === '/api/dojos/dojos') return json({ items: [dojo], next_cursor: null });
    if (url.pathname === '/api/search/suggest/dojos') return json({ names: [], tags: [] });
    if (url.pathname === '/api/search/search/dojos')
      return json({
        items: [{ ...dojo, is_private: false, tags: [], score: 1, highlights: { name: 'Kata <mark>FizzBuzz</mark>', description: null } }],
        total: 1,
        facets: { status: [{ value: 'active', count: 1 }], language: [{ value: 'python', count: 1 }], tags: [] },
        next_cursor: null,
      });
    return json({ title: 'Not Found', status: 404 }, 404);
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.search}</output>;
}

function renderLobby() {
  return render(
    <I18nProvider initial="en">
      <AuthProvider>
        <MemoryRouter initialEntries={['/dojos']}>
          <Routes>
            <Route
              path="/dojos"
              element={
                <>
                  <DojoLobbyPage />
                  <Where />
                </>
              }
            />
          </Routes>
        </MemoryRouter>
      </AuthProvider>
    </I18nProvider>,
  );
}

const searches = (fetch: ReturnType<typeof stubApi>) =>
  fetch.mock.calls.map(([input]) => new URL(input, 'http://localhost')).filter((url) => url.pathname === '/api/search/search/dojos');

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('DojoLobbyPage', () => {
  it('lists the dojo service’s dojos until one searches; the debounced words keep a facet ticked meanwhile', async () => {
    const fetch = stubApi();
    renderLobby();
    await screen.findByRole('link', { name: 'Kata FizzBuzz' });
    expect(searches(fetch)).toHaveLength(0);

    // Type, then tick "Live" (counted over the listed dojos) before the typing is applied.
    fireEvent.change(screen.getByRole('combobox', { name: 'Search dojos' }), { target: { value: 'fizbuz' } });
    fireEvent.click(screen.getByRole('checkbox', { name: 'Live (1)' }));
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('?status=active&q=fizbuz'));
    await waitFor(() => expect(screen.getByTestId('dojo-results').textContent).toBe('1 dojo found'));
    const last = searches(fetch).at(-1)!;
    expect(last.searchParams.get('q')).toBe('fizbuz');
    expect(last.searchParams.getAll('status')).toEqual(['active']);
    expect(screen.getByTestId('dojo-card').querySelector('h3 mark')?.textContent).toBe('FizzBuzz');

    // No words and no filters: the plain list again, without a search.
    const before = searches(fetch).length;
    fireEvent.click(screen.getByRole('checkbox', { name: 'Live (1)' }));
    fireEvent.change(screen.getByRole('combobox', { name: 'Search dojos' }), { target: { value: '' } });
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe(''));
    expect(screen.getByTestId('dojo-results').textContent).toBe('');
    expect(screen.getByTestId('dojo-card').querySelector('mark')).toBeNull();
    expect(searches(fetch).length).toBe(before + 1); // only the one for ?q=fizbuz alone
  });
});
