import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { I18nProvider } from '../i18n';
import { samplePoc } from '../test-utils';
import { PocFormPage } from './PocFormPage';

const poc = samplePoc;
const answer = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': status < 400 ? 'application/json' : 'application/problem+json', ...headers } });

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('PocFormPage', () => {
  it('shows the API’s field errors, and says so when someone else changed the POC meanwhile', async () => {
    let patch = answer({ title: 'Unprocessable Content', status: 422, errors: [{ loc: ['body', 'name'], msg: 'the name cannot be blank', type: 'value_error' }] }, 422);
    const fetch = vi.fn(async (_input: string, init: RequestInit = {}) => {
      if ((init.method ?? 'GET') === 'GET') return answer(poc, 200, { etag: '"3"' });
      return patch;
    });
    vi.stubGlobal('fetch', fetch);
    render(
      <I18nProvider initial="en">
        <MemoryRouter initialEntries={[`/pocs/${poc.poc_id}/edit`]}>
          <Routes>
            <Route path="/pocs/:id/edit" element={<PocFormPage />} />
          </Routes>
        </MemoryRouter>
      </I18nProvider>,
    );
    const name = await screen.findByLabelText('Name');
    fireEvent.change(name, { target: { value: ' ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('the name cannot be blank')).toBeTruthy();
    expect(name.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('Please fix the highlighted fields.')).toBeTruthy();

    patch = answer({ title: 'Precondition Failed', status: 412, detail: 'The POC changed since you read it' }, 412);
    fireEvent.change(name, { target: { value: 'Rate limiter v2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('Someone changed this POC meanwhile; reload to see their version.')).toBeTruthy();
    expect(name.getAttribute('aria-invalid')).toBeNull();
    const [, sent] = fetch.mock.calls.at(-1)!;
    expect((sent!.headers as Record<string, string>)['if-match']).toBe('"3"');
  });

  it('saves a new POC again after a lost answer with the same Idempotency-Key, a changed one with another', async () => {
    let lose = true;
    const fetch = vi.fn(async () => {
      if (lose) throw new TypeError('Failed to fetch'); // the answer never came back
      return answer(poc, 201);
    });
    vi.stubGlobal('fetch', fetch);
    render(
      <I18nProvider initial="en">
        <MemoryRouter initialEntries={['/pocs/new']}>
          <Routes>
            <Route path="/pocs/new" element={<PocFormPage />} />
            <Route path="/pocs/:id" element={<p>The POC</p>} />
          </Routes>
        </MemoryRouter>
      </I18nProvider>,
    );
    const keys = () => fetch.mock.calls.map((call) => ((call as unknown[])[1] as { headers: Record<string, string> }).headers['idempotency-key']);
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Rate limiter' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(fetch).toHaveBeenCalledTimes(1));
    await waitFor(() => expect((screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(fetch).toHaveBeenCalledTimes(2));
    await waitFor(() => expect((screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(false));
    expect(keys()[0]).toBeTruthy();
    expect(keys()[1]).toBe(keys()[0]);
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Rate limiter v2' } });
    lose = false;
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('The POC')).toBeTruthy();
    expect(keys()[2]).toBeTruthy();
    expect(keys()[2]).not.toBe(keys()[0]);
  });

  it('says at the “Finished on” field, in the reader’s words, that it is before the start', async () => {
    const fetch = vi.fn(async () => answer(poc, 201));
    vi.stubGlobal('fetch', fetch);
    render(
      <I18nProvider initial="pt-BR">
        <MemoryRouter initialEntries={['/pocs/new']}>
          <Routes>
            <Route path="/pocs/new" element={<PocFormPage />} />
          </Routes>
        </MemoryRouter>
      </I18nProvider>,
    );
    fireEvent.change(screen.getByLabelText('Nome'), { target: { value: 'Rate limiter' } });
    fireEvent.change(screen.getByLabelText('Início'), { target: { value: '2026-05-01' } });
    fireEvent.change(screen.getByLabelText('Fim'), { target: { value: '2026-01-01' } });
    fireEvent.click(screen.getByRole('button', { name: 'Salvar' }));
    const finished = screen.getByLabelText('Fim');
    await waitFor(() => expect(finished.getAttribute('aria-invalid')).toBe('true'));
    expect(document.getElementById(finished.getAttribute('aria-describedby')!)?.textContent).toBe('Não pode ser anterior à data de início.');
    expect(screen.getByText('Corrija os campos destacados.')).toBeTruthy();
    expect(fetch).not.toHaveBeenCalled();
  });

  it('Cancel on a form opened first in its tab goes to the list, not out of the app', async () => {
    vi.stubGlobal('fetch', vi.fn());
    render(
      <I18nProvider initial="en">
        <MemoryRouter initialEntries={['/pocs/new']}>
          <Routes>
            <Route path="/pocs/new" element={<PocFormPage />} />
            <Route path="/pocs" element={<p>The list</p>} />
          </Routes>
        </MemoryRouter>
      </I18nProvider>,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(await screen.findByText('The list')).toBeTruthy();
  });
});
