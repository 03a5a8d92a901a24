import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import {
  api,
  ApiError,
  cancelRefresh,
  onAccessToken,
  refreshAccessToken,
  scheduleRefresh,
  setAccessToken,
  type TokenOut,
} from '../api/http';

export type User = {
  user_id: string;
  email: string;
  full_name: string;
  role: string;
  status: string;
  /** Two-step verification is on: a log-in asks for a code after the password. */
  two_factor: boolean;
  /** Unused recovery codes (0 when two-step verification is off). */
  recovery_codes_left: number;
};
export type Tenant = { tenant_id: string; name: string; slug: string };
export type Me = { user: User; tenant: Tenant };

/** A right password for an account with two-step verification on: a code finishes the log-in. */
export type TwoFactorChallenge = { challenge: string; expires_in: number };

/** The problems of a log-in in two steps (POST /login, then POST /login/two-factor). */
export const TWO_FACTOR_REQUIRED = 'https://mrbill.dev/problems/two-factor-required';
export const INVALID_CODE = 'https://mrbill.dev/problems/invalid-code';
export const TWO_FACTOR_EXPIRED = 'https://mrbill.dev/problems/two-factor-expired';

type Auth = {
  status: 'loading' | 'anonymous' | 'authenticated';
  me: Me | null;
  /** Log in; with two-step verification on, the challenge a code answers (`logInWithCode`). */
  logIn: (email: string, password: string) => Promise<TwoFactorChallenge | null>;
  /** The second step: the code from the app, or a recovery code. */
  logInWithCode: (challenge: string, code: string) => Promise<void>;
  /** Read the account again (after a change of its two-step verification, say). */
  reloadMe: () => Promise<void>;
  signUp: (input: { organization: string; full_name: string; email: string; password: string }) => Promise<void>;
  acceptInvitation: (input: { token: string; full_name: string; password: string }) => Promise<void>;
  logOut: () => Promise<void>;
  /** Carry on with a session the API handed over (a password change ends every other one). */
  adopt: (tokens: TokenOut) => Promise<void>;
};

const AuthContext = createContext<Auth | null>(null);
// Ask identity to keep the refresh token out of the body: the browser has it in a cookie.
export const COOKIE_ONLY = { 'x-token-delivery': 'cookie' };

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [status, setStatus] = useState<Auth['status']>('loading');

  const start = useCallback(async (tokens: TokenOut) => {
    setAccessToken(tokens.access_token);
    scheduleRefresh(tokens.expires_in);
    setMe(await api<Me>('/api/identity/me'));
    setStatus('authenticated');
  }, []);

  useEffect(() => {
    // Silent log-in on load: the refresh cookie, if any, buys an access token.
    let alive = true;
    void (async () => {
      const token = await refreshAccessToken();
      if (!alive) return;
      if (!token) return setStatus('anonymous');
      try {
        const current = await api<Me>('/api/identity/me');
        if (alive) {
          setMe(current);
          setStatus('authenticated');
        }
      } catch {
        if (alive) setStatus('anonymous');
      }
    })();
    const off = onAccessToken((token) => {
      if (token === null) {
        setMe(null);
        setStatus('anonymous');
      }
    });
    return () => {
      alive = false;
      off();
    };
  }, []);

  const value = useMemo<Auth>(
    () => ({
      status,
      me,
      logIn: async (email, password) => {
        let tokens: TokenOut;
        try {
          tokens = await api<TokenOut>('/api/identity/login', {
            method: 'POST',
            body: { email, password },
            headers: COOKIE_ONLY,
            anonymous: true,
          });
        } catch (e) {
          if (e instanceof ApiError && e.problem.type === TWO_FACTOR_REQUIRED && typeof e.problem.challenge === 'string')
            return { challenge: e.problem.challenge, expires_in: Number(e.problem.expires_in ?? 300) };
          throw e;
        }
        await start(tokens);
        return null;
      },
      logInWithCode: async (challenge, code) => {
        const tokens = await api<TokenOut>('/api/identity/login/two-factor', {
          method: 'POST',
          body: { challenge, code },
          headers: COOKIE_ONLY,
          anonymous: true,
        });
        await start(tokens);
      },
      reloadMe: async () => setMe(await api<Me>('/api/identity/me')),
      signUp: async (input) => {
        const out = await api<{ tokens: TokenOut }>('/api/identity/signup', {
          method: 'POST',
          body: input,
          headers: COOKIE_ONLY,
          anonymous: true,
        });
        await start(out.tokens);
      },
      acceptInvitation: async (input) => {
        const out = await api<{ tokens: TokenOut }>('/api/identity/invitations/accept', {
          method: 'POST',
          body: input,
          headers: COOKIE_ONLY,
          anonymous: true,
        });
        await start(out.tokens);
      },
      adopt: start,
      logOut: async () => {
        cancelRefresh();
        try {
          await api('/api/identity/token/logout', { method: 'POST', body: {}, anonymous: true });
        } finally {
          setAccessToken(null);
        }
      },
    }),
    [status, me, start],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}
