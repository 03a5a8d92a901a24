// The one HTTP client of the app. Everything goes to the same origin (`/api/<service>/…`),
// as behind the production load balancer.
//
// Tokens: the access token (15 minutes) lives only in this module's memory — never in
// localStorage or sessionStorage, where any injected script could read it and keep it. The
// refresh token is an httpOnly, SameSite=Strict cookie scoped to `/api/identity/token`: page
// scripts cannot read it, other sites cannot make the browser send it, and it only travels to
// the two token endpoints. We ask identity (header `X-Token-Delivery: cookie`) to leave it out
// of the response body, so it never enters JavaScript at all. On load, and shortly before the
// access token expires, the app calls POST /token/refresh with an empty body: the cookie proves
// the session, and the rotation gives a fresh access token. A 401 triggers one refresh and
// one retry.

export type Problem = {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { loc: (string | number)[]; msg: string; type: string }[];
  [extra: string]: unknown;
};

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.status = problem.status;
    this.problem = problem;
  }

  /** Field name → message, from a 422's `errors` list (`loc` = ["body", field, …]). */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const error of this.problem.errors ?? []) {
      const loc = error.loc[0] === 'body' ? error.loc.slice(1) : error.loc;
      const field = String(loc.find((part) => typeof part === 'string') ?? '_');
      out[field] ??= error.msg;
    }
    return out;
  }
}

type TokenListener = (token: string | null) => void;

let accessToken: string | null = null;
let refreshing: Promise<string | null> | null = null;
const listeners = new Set<TokenListener>();

export function getAccessToken(): string | null {
  return accessToken;
}

export function setAccessToken(token: string | null): void {
  accessToken = token;
  for (const listener of listeners) listener(token);
}

export function onAccessToken(listener: TokenListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export type TokenOut = {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string | null;
  refresh_expires_in: number;
};

/** A refresh identity refused: the session is over (no cookie, expired, revoked, the
 * organization no longer active). A timeout or a rate limit (408, 429) is not a refusal. */
const sessionOver = (status: number) => status >= 400 && status < 500 && status !== 408 && status !== 429;
/** How long to wait before asking again after a refresh that failed for a passing reason. */
export const REFRESH_RETRY_SECONDS = 10;

/** Rotate the refresh cookie; resolves to the new access token, or null when logged out.
 * A failure that says nothing about the session (identity restarting, a gateway error, the
 * network) keeps the token there is and asks again shortly: it does not log anyone out. */
export function refreshAccessToken(): Promise<string | null> {
  refreshing ??= (async () => {
    try {
      const response = await fetch('/api/identity/token/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-token-delivery': 'cookie' },
        body: '{}',
      });
      if (sessionOver(response.status)) {
        setAccessToken(null);
        return null;
      }
      if (!response.ok) return retryLater();
      const tokens = (await response.json()) as TokenOut;
      setAccessToken(tokens.access_token);
      scheduleRefresh(tokens.expires_in);
      return tokens.access_token;
    } catch {
      return retryLater(); // offline: keep what we have, try again later
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** Keep the session there is (if any) and refresh it again in a few seconds. */
function retryLater(): string | null {
  if (accessToken) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void refreshAccessToken(), REFRESH_RETRY_SECONDS * 1000);
  }
  return accessToken;
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;

/** Refresh one minute before expiry (or at 80% of short lifetimes). */
export function scheduleRefresh(expiresIn: number): void {
  clearTimeout(refreshTimer);
  const lead = Math.min(60, expiresIn * 0.2);
  refreshTimer = setTimeout(() => void refreshAccessToken(), Math.max(5, expiresIn - lead) * 1000);
}

export function cancelRefresh(): void {
  clearTimeout(refreshTimer);
}

/** A call that never got an answer (offline, refused, cut off): its message in the reader's
 * language. Not an ApiError: the API said nothing. */
export class NetworkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

async function toError(response: Response): Promise<ApiError> {
  let problem: Problem = { title: response.statusText || 'Error', status: response.status };
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      problem = { ...problem, ...((await response.json()) as Problem) };
    } catch {
      /* a broken body keeps the status line */
    }
  } else if (response.status >= 500 && said) {
    // Not the API's answer but the gateway's (a service down or restarting): its status line
    // is English and says nothing to the reader.
    problem = { ...problem, title: said.unavailable, detail: said.unavailable };
  }
  // A rate limit says when to try again (seconds): kept with the problem for the reader.
  const retryAfter = Number(response.headers.get('retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter > 0) problem = { ...problem, retry_after: retryAfter };
  return new ApiError(problem);
}

export type RequestOptions = {
  method?: string;
  body?: unknown;
  raw?: BodyInit;
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  anonymous?: boolean;
};

let language: string | null = null;
/** What the client says itself, when no API answer says it: in the reader's language. */
export type ClientWords = { unavailable: string; offline: string };
let said: ClientWords | null = null;

/** The language the services should answer problems in (the app's, not the browser's: the
 * reader may have chosen another); sent as Accept-Language. `words`: what to say, in that
 * language, when a call gets no answer from the API (its gateway's, or none at all). */
export function setApiLanguage(locale: string, words?: ClientWords): void {
  language = locale;
  if (words) said = words;
}

/** Call the API; JSON in and out; problem+json failures become ApiError. */
export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const send = (token: string | null) => {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(language ? { 'accept-language': language } : {}),
      ...options.headers,
    };
    if (token && !options.anonymous) headers.authorization = `Bearer ${token}`;
    let body: BodyInit | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    } else if (options.contentType) headers['content-type'] = options.contentType;
    return fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body,
      credentials: 'same-origin',
      signal: options.signal,
    }).catch((error: unknown) => {
      if (options.signal?.aborted || (error instanceof Error && error.name === 'AbortError') || !said) throw error;
      throw new NetworkError(said.offline, { cause: error });
    });
  };
  const used = accessToken;
  let response = await send(used);
  if (response.status === 401 && !options.anonymous) {
    const token = await refreshAccessToken();
    // (the same token back: the refresh failed for a passing reason, and the 401 stands)
    if (token && token !== used) response = await send(token);
  }
  if (!response.ok) throw await toError(response);
  return response;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await request(path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** The claims of our own access token (for display only: the server verifies it). */
export function tokenClaims(token: string | null): Record<string, unknown> | null {
  if (!token) return null;
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(payload))));
  } catch {
    return null;
  }
}
