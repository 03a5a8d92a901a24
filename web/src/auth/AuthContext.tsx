import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import {
  api,
  cancelRefresh,
  onAccessToken,
  refreshAccessToken,
  scheduleRefresh,
  setAccessToken,
  type TokenOut,
} from '../api/http';

export type User = { user_id: string; email: string; full_name: string; role: string; status: string };
export type Tenant = { tenant_id: string; name: string; slug: string };
export type Me = { user: User; tenant: Tenant };

type Auth = {
  status: 'loading' | 'anonymous' | 'authenticated';
  me: Me | null;
  logIn: (email: string, password: string) => Promise<void>;
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
        const tokens = await api<TokenOut>('/api/identity/login', {
          method: 'POST',
          body: { email, password },
          headers: COOKIE_ONLY,
          anonymous: true,
        });
        await start(tokens);
      },
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
