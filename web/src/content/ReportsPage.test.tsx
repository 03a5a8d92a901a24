import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { I18nProvider } from '../i18n';
import type { ContentRequest } from './api';
import { ReportsPage } from './ReportsPage';

const base: ContentRequest = {
  request_id: '5b0c9a52-0000-4000-8000-000000000001',
  type: 'report',
  status: 'succeeded',
  progress: 100,
  title: 'POC report 2025',
  from: '2025-01-01',
  to: '2025-12-31',
  language: 'en',
  filter: { tags: [], language: null, status: null },
  poc_count: 4,
  error: null,
  size_bytes: 48_000,
  created_at: '2026-01-02T10:00:00Z',
  updated_at: '2026-01-02T10:00:05Z',
  started_at: '2026-01-02T10:00:01Z',
  completed_at: '2026-01-02T10:00:05Z',
};
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const problem = (status: number, errors: unknown[]) =>
  new Response(JSON.stringify({ title: 'Unprocessable Content', status, detail: 'The request does not match the expected schema', errors }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });

type Handler = (url: URL, init: RequestInit) => Response | undefined;

/** The browser's view of the content API: `listed` first, then whatever `handler` answers. */
function stubApi(listed: ContentRequest[], handler: Handler = () => undefined) {
  const fetch = vi.fn(async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, 'http://localhost');
    const answer = handler(url, init);
    if (answer) return answer;
    if (url.pathname === '/api/content/content-requests' && (init.method ?? 'GET') === 'GET') return json({ items: listed, next_cursor: null });
    return json({ title: 'Not Found', status: 404 }, 404);
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

const renderPage = () =>
  render(
    <I18nProvider initial="en">
      <MemoryRouter>
        <ReportsPage />
      </MemoryRouter>
    </I18nProvider>,
  );

const calls = (fetch: ReturnType<typeof stubApi>, method: string, path: string) =>
  fetch.mock.calls.filter(([url, init]) => new URL(url, 'http://localhost').pathname === path && ((init as RequestInit | undefined)?.method ?? 'GET') === method);

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('ReportsPage', () => {
  it('follows a request being made until it is ready, then offers the download', async () => {
    const running = { ...base, request_id: '5b0c9a52-0000-4000-8000-000000000002', status: 'running' as const, progress: 40, size_bytes: null };
    let polls = 0;
    const fetch = stubApi([running, base], (url) => {
      if (url.pathname.endsWith(running.request_id)) {
        polls += 1;
        return json(polls < 2 ? { ...running, progress: 70 } : { ...running, status: 'succeeded', progress: 100, size_bytes: 2048 });
      }
    });
    renderPage();
    const cards = await screen.findAllByTestId('content-card');
    expect(cards).toHaveLength(2);
    const bar = within(cards[0]).getByRole('progressbar', { name: 'Progress of POC report 2025' });
    expect(bar.getAttribute('value')).toBe('40');
    await waitFor(() => expect(within(cards[0]).getByRole('progressbar').getAttribute('value')).toBe('70'), { timeout: 3000 });
    await waitFor(() => expect(cards[0].getAttribute('data-status')).toBe('succeeded'), { timeout: 3000 });
    expect(within(cards[0]).queryByRole('progressbar')).toBeNull();
    expect(within(cards[0]).getByRole('button', { name: 'Download PDF' })).toBeTruthy();
    expect(within(cards[0]).getByText('2 kB')).toBeTruthy();
    // Only the running request was asked about, and no longer once it ended.
    await new Promise((r) => setTimeout(r, 1300));
    expect(polls).toBe(2);
    expect(calls(fetch, 'GET', `/api/content/content-requests/${base.request_id}`)).toHaveLength(0);
  });

  it('asks for a yearly video with one idempotency key per submission and lists it first', async () => {
    const made = { ...base, request_id: '5b0c9a52-0000-4000-8000-000000000003', type: 'video' as const, status: 'queued' as const, progress: 0, title: 'My year in POCs 2026', poc_count: 7 };
    const fetch = stubApi([base], (url, init) => {
      if (url.pathname === '/api/content/content-requests' && init.method === 'POST') return json(made, 201);
      if (url.pathname.endsWith(made.request_id)) return json(made);
    });
    renderPage();
    await screen.findAllByTestId('content-card');
    fireEvent.click(screen.getByLabelText('Yearly video'));
    fireEvent.change(screen.getByLabelText('Year'), { target: { value: '2026' } });
    fireEvent.change(screen.getByLabelText('Tags (comma-separated)'), { target: { value: ' rust, wasm ,' } });
    fireEvent.click(screen.getByRole('button', { name: 'Make it' }));
    expect(await screen.findByText('“My year in POCs 2026” is on its way (7 POCs).')).toBeTruthy();
    const [post] = calls(fetch, 'POST', '/api/content/content-requests');
    const init = post[1] as RequestInit & { headers: Record<string, string> };
    expect(JSON.parse(String(init.body))).toEqual({ type: 'video', year: 2026, language: 'en', filter: { language: null, tags: ['rust', 'wasm'], status: null } });
    const firstKey = init.headers['idempotency-key'];
    expect(firstKey).toMatch(/^[0-9a-f-]{36}$/);
    const cards = screen.getAllByTestId('content-card');
    expect(within(cards[0]).getByRole('heading').textContent).toBe('My year in POCs 2026');
    expect(within(cards[0]).getByText('Waiting')).toBeTruthy();
    // The next submission is another request: another key.
    fireEvent.click(screen.getByRole('button', { name: 'Make it' }));
    await waitFor(() => expect(calls(fetch, 'POST', '/api/content/content-requests')).toHaveLength(2));
    const second = calls(fetch, 'POST', '/api/content/content-requests')[1][1] as RequestInit & { headers: Record<string, string> };
    expect(second.headers['idempotency-key']).not.toBe(firstKey);
  });

  it('shows the API’s reasons: a field’s next to it, the period’s as the form’s', async () => {
    let answer = problem(422, [{ loc: ['body', 'year'], msg: 'Input should be greater than or equal to 2000', type: 'greater_than_equal' }]);
    const fetch = stubApi([], (_url, init) => (init.method === 'POST' ? answer : undefined));
    renderPage();
    expect(await screen.findByTestId('no-content')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Year'), { target: { value: '1999' } });
    fireEvent.click(screen.getByRole('button', { name: 'Make it' }));
    const year = screen.getByLabelText('Year');
    await waitFor(() => expect(year.getAttribute('aria-invalid')).toBe('true'));
    expect(screen.getByText('Input should be greater than or equal to 2000')).toBeTruthy();
    expect(screen.getByText('Please fix the highlighted fields.')).toBeTruthy();

    answer = problem(422, [{ loc: ['body'], msg: 'Value error, the period may span at most three years', type: 'value_error' }]);
    fireEvent.change(screen.getByLabelText('Period'), { target: { value: 'range' } });
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '2020-01-01' } });
    fireEvent.change(screen.getByLabelText('To'), { target: { value: '2026-01-01' } });
    fireEvent.click(screen.getByRole('button', { name: 'Make it' }));
    expect(await screen.findByText('The period may span at most three years')).toBeTruthy();
    const sent = calls(fetch, 'POST', '/api/content/content-requests').map(([, init]) => JSON.parse(String((init as RequestInit).body)));
    expect(sent[1]).toEqual({ type: 'report', from: '2020-01-01', to: '2026-01-01', language: 'en' });
  });

  it('says at the “To” field, in the reader’s words, that it is before “From”', async () => {
    const fetch = stubApi([]);
    renderPage();
    expect(await screen.findByTestId('no-content')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Period'), { target: { value: 'range' } });
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '2026-05-01' } });
    fireEvent.change(screen.getByLabelText('To'), { target: { value: '2026-01-01' } });
    fireEvent.click(screen.getByRole('button', { name: 'Make it' }));
    const to = screen.getByLabelText('To');
    await waitFor(() => expect(to.getAttribute('aria-invalid')).toBe('true'));
    expect(document.getElementById(to.getAttribute('aria-describedby')!.split(' ').at(-1)!)?.textContent).toBe('Must not be before the first day.');
    expect(calls(fetch, 'POST', '/api/content/content-requests')).toHaveLength(0);
  });

  it('stops a request being made and deletes one only once confirmed', async () => {
    const queued = { ...base, request_id: '5b0c9a52-0000-4000-8000-000000000004', status: 'queued' as const, progress: 0 };
    const fetch = stubApi([queued, base], (url, init) => {
      if (url.pathname.endsWith('/cancel')) return json({ ...queued, status: 'cancelled' });
      if (init.method === 'DELETE') return new Response(null, { status: 204 });
      if (url.pathname.endsWith(queued.request_id)) return json(queued);
    });
    renderPage();
    const [first, second] = await screen.findAllByTestId('content-card');
    fireEvent.click(within(first).getByRole('button', { name: 'Stop' }));
    await waitFor(() => expect(first.getAttribute('data-status')).toBe('cancelled'));
    expect(within(first).queryByRole('button', { name: 'Stop' })).toBeNull();

    fireEvent.click(within(second).getByRole('button', { name: 'Delete' }));
    expect(within(second).getByText('Delete it and its file?')).toBeTruthy();
    fireEvent.click(within(second).getByRole('button', { name: 'Cancel' }));
    expect(calls(fetch, 'DELETE', `/api/content/content-requests/${base.request_id}`)).toHaveLength(0);
    fireEvent.click(within(second).getByRole('button', { name: 'Delete' }));
    fireEvent.click(within(second).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(screen.getAllByTestId('content-card')).toHaveLength(1));
    expect(calls(fetch, 'DELETE', `/api/content/content-requests/${base.request_id}`)).toHaveLength(1);
  });
  it('sends a retried submission with its key, and a changed one with a new key', async () => {
    let fail = true;
    const made = { ...base, request_id: '5b0c9a52-0000-4000-8000-000000000005' };
    const fetch = stubApi([], (url, init) => {
      if (url.pathname === '/api/content/content-requests' && init.method === 'POST') {
        if (fail) throw new TypeError('Failed to fetch'); // the answer was lost: maybe it was made
        return json(made, 201);
      }
    });
    renderPage();
    await screen.findByTestId('no-content');
    const submit = () => fireEvent.click(screen.getByRole('button', { name: 'Make it' }));
    const keys = () =>
      calls(fetch, 'POST', '/api/content/content-requests').map(([, init]) => (init as RequestInit & { headers: Record<string, string> }).headers['idempotency-key']);
    submit();
    expect(await screen.findByText('Something went wrong')).toBeTruthy();
    submit();
    await waitFor(() => expect(keys()).toHaveLength(2));
    expect(keys()[1]).toBe(keys()[0]);
    fireEvent.change(screen.getByLabelText('Year'), { target: { value: '2024' } });
    submit();
    await waitFor(() => expect(keys()).toHaveLength(3));
    expect(keys()[2]).not.toBe(keys()[0]);
    fail = false;
    submit();
    await screen.findByTestId('content-card');
    expect(keys()[3]).toBe(keys()[2]);
  });

  it('shows the detail of a refusal that names no field, and checks the year before asking', async () => {
    const fetch = stubApi([], (_url, init) =>
      init.method === 'POST'
        ? new Response(JSON.stringify({ title: 'Unprocessable Content', status: 422, detail: 'Too many POCs (2500); narrow the period or the filter (max 2000)' }), {
            status: 422,
            headers: { 'content-type': 'application/problem+json' },
          })
        : undefined,
    );
    renderPage();
    await screen.findByTestId('no-content');
    fireEvent.change(screen.getByLabelText('Year'), { target: { value: '' } });
    fireEvent.click(screen.getByRole('button', { name: 'Make it' }));
    expect(screen.getByText('Required')).toBeTruthy();
    expect(calls(fetch, 'POST', '/api/content/content-requests')).toHaveLength(0);
    fireEvent.change(screen.getByLabelText('Year'), { target: { value: '2026' } });
    fireEvent.click(screen.getByRole('button', { name: 'Make it' }));
    expect(await screen.findByText('Too many POCs (2500); narrow the period or the filter (max 2000)')).toBeTruthy();
    expect(screen.queryByText('Please fix the highlighted fields.')).toBeNull();
  });

  it('downloads through a fresh link and plays a video in the page', async () => {
    const video = { ...base, request_id: '5b0c9a52-0000-4000-8000-000000000006', type: 'video' as const, title: 'My year in POCs 2025' };
    const link = (id: string, n: number) => ({
      url: `http://localhost/api/content/files/${id}-${n}.mp4`,
      expires_at: '2026-01-02T10:05:00Z',
      filename: 'mrbill-video-2025.mp4',
      content_type: 'video/mp4',
      thumbnail_url: `http://localhost/api/content/files/${id}.jpg`,
    });
    let links = 0;
    stubApi([video], (url) => (url.pathname.endsWith('/download') ? json(link(video.request_id, ++links)) : undefined));
    const clicked: string[] = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(`${this.download} ${this.href}`);
    });
    renderPage();
    const card = await screen.findByTestId('content-card');
    fireEvent.click(within(card).getByRole('button', { name: 'Download video' }));
    await waitFor(() => expect(clicked).toEqual([`mrbill-video-2025.mp4 ${link(video.request_id, 1).url}`]));
    click.mockRestore();
    fireEvent.click(within(card).getByRole('button', { name: 'Watch' }));
    const player = (await within(card).findByLabelText('My year in POCs 2025')) as HTMLVideoElement;
    expect(player.tagName).toBe('VIDEO');
    expect(player.getAttribute('src')).toBe(link(video.request_id, 2).url);
    expect(player.getAttribute('poster')).toBe(link(video.request_id, 2).thumbnail_url);
    expect(document.activeElement).toBe(player);
    expect(within(card).queryByRole('button', { name: 'Watch' })).toBeNull();
  });

  it('asks nothing more once the page is left', async () => {
    const running = { ...base, status: 'running' as const, progress: 10 };
    const fetch = stubApi([running], (url) => (url.pathname.endsWith(running.request_id) ? json(running) : undefined));
    const { unmount } = renderPage();
    await screen.findByTestId('content-card');
    await waitFor(() => expect(calls(fetch, 'GET', `/api/content/content-requests/${running.request_id}`)).toHaveLength(1), { timeout: 3000 });
    unmount();
    await new Promise((r) => setTimeout(r, 2300));
    expect(calls(fetch, 'GET', `/api/content/content-requests/${running.request_id}`)).toHaveLength(1);
  });
});
