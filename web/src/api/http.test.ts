import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, cancelRefresh, getAccessToken, onAccessToken, refreshAccessToken, REFRESH_RETRY_SECONDS, setAccessToken } from './http';

const tokens = { access_token: 'new.token.x', token_type: 'bearer', expires_in: 900, refresh_expires_in: 86400 };
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': status < 400 ? 'application/json' : 'application/problem+json' } });
// What nginx answers while the service behind it is down or restarting.
const badGateway = () => new Response('<html><body><h1>502 Bad Gateway</h1></body></html>', { status: 502, statusText: 'Bad Gateway', headers: { 'content-type': 'text/html' } });
const unauthorized = () => json({ title: 'Unauthorized', status: 401, detail: 'Invalid refresh token' }, 401);

const refreshes = (fetch: ReturnType<typeof vi.fn>) => fetch.mock.calls.filter(([url]) => String(url) === '/api/identity/token/refresh').length;

beforeEach(() => setAccessToken('old.token.x'));
afterEach(() => {
  cancelRefresh();
  vi.useRealTimers();
  vi.unstubAllGlobals();
  setAccessToken(null);
});

describe('refreshAccessToken', () => {
  it('keeps the session when identity is down for a moment, and asks again shortly', async () => {
    vi.useFakeTimers();
    const fetch = vi.fn(async () => badGateway());
    vi.stubGlobal('fetch', fetch);
    const loggedOut = vi.fn();
    const off = onAccessToken((token) => token === null && loggedOut());

    await expect(refreshAccessToken()).resolves.toBe('old.token.x');
    expect(getAccessToken()).toBe('old.token.x');
    expect(loggedOut).not.toHaveBeenCalled();

    fetch.mockImplementation(async () => json(tokens));
    await vi.advanceTimersByTimeAsync(REFRESH_RETRY_SECONDS * 1000);
    expect(refreshes(fetch)).toBe(2);
    expect(getAccessToken()).toBe('new.token.x');
    expect(loggedOut).not.toHaveBeenCalled();
    off();
  });

  it('keeps the session when the network fails, or identity says to slow down', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(refreshAccessToken()).resolves.toBe('old.token.x');
    vi.stubGlobal('fetch', vi.fn(async () => json({ title: 'Too Many Requests', status: 429 }, 429)));
    await expect(refreshAccessToken()).resolves.toBe('old.token.x');
    expect(getAccessToken()).toBe('old.token.x');
  });

  it('ends the session when identity refuses the refresh', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => unauthorized()));
    await expect(refreshAccessToken()).resolves.toBeNull();
    expect(getAccessToken()).toBeNull();
  });
});

describe('api', () => {
  it('an expired token while identity is down: the call fails, the session stays', async () => {
    const fetch = vi.fn(async (url: string) =>
      url === '/api/identity/token/refresh' ? badGateway() : json({ title: 'Unauthorized', status: 401, detail: 'Missing or invalid access token' }, 401),
    );
    vi.stubGlobal('fetch', fetch);
    const failure = await api('/api/pocs/pocs', { method: 'POST', body: { name: 'x' } }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(401);
    expect(getAccessToken()).toBe('old.token.x');
    // one try, one refresh, no second try with the same token
    expect(fetch.mock.calls.map(([url]) => url)).toEqual(['/api/pocs/pocs', '/api/identity/token/refresh']);
  });

  it('an expired token is refreshed once and the call made again with the new one', async () => {
    const fetch = vi.fn(async (url: string, init: RequestInit = {}) => {
      if (url === '/api/identity/token/refresh') return json(tokens);
      const auth = (init.headers as Record<string, string>).authorization;
      return auth === 'Bearer new.token.x' ? json({ ok: true }) : json({ title: 'Unauthorized', status: 401 }, 401);
    });
    vi.stubGlobal('fetch', fetch);
    await expect(api('/api/pocs/pocs')).resolves.toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(3);
  });
});
