import { render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { I18nProvider } from '../i18n';
import { api, ApiError, NetworkError } from './http';

// What nginx answers while the service behind it is down or restarting.
const badGateway = () => new Response('<html><body><h1>502 Bad Gateway</h1></body></html>', { status: 502, statusText: 'Bad Gateway', headers: { 'content-type': 'text/html' } });

/** The app's language provider, as the app renders it (it tells the client what to say). */
function inLanguage(locale: 'pt-BR' | 'en') {
  render(
    <I18nProvider initial={locale}>
      <p>ready</p>
    </I18nProvider>,
  );
  screen.getByText('ready');
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('failures the API did not describe', () => {
  it('a gateway error page is said in the reader’s language, not as its English status line', async () => {
    inLanguage('pt-BR');
    vi.stubGlobal('fetch', vi.fn(async () => badGateway()));
    const error = await api('/api/search/search').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(502);
    expect((error as ApiError).message).toBe('O serviço não está disponível agora. Tente de novo em instantes.');
  });

  it('no answer at all (offline, refused) is said in the reader’s language', async () => {
    inLanguage('en');
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const error = await api('/api/pocs/pocs').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toBe('The server cannot be reached. Check your connection and try again.');
  });

  it('a call given up on stays an AbortError', async () => {
    inLanguage('en');
    const controller = new AbortController();
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new DOMException('The operation was aborted.', 'AbortError'))));
    controller.abort();
    const error = await api('/api/pocs/pocs', { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
  });

  it('a problem the API did describe keeps its own words', async () => {
    inLanguage('pt-BR');
    const body = { title: 'Serviço indisponível', status: 503, detail: 'O banco de dados está ocupado; tente de novo' };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(body), { status: 503, headers: { 'content-type': 'application/problem+json' } })));
    const error = await api('/api/pocs/pocs').catch((e: unknown) => e);
    expect((error as ApiError).message).toBe('O banco de dados está ocupado; tente de novo');
  });
});
