// The identity service's members, invitations and account endpoints (/api/identity); see
// contracts/openapi-identity.yaml.
import { api, request, type TokenOut } from '../api/http';
import { COOKIE_ONLY } from '../auth/AuthContext';

/** The problem a deactivated member's still-valid token gets from member management. */
export const DEACTIVATED = 'https://mrbill.dev/problems/account-deactivated';
export const NOT_AN_OWNER = 'https://mrbill.dev/problems/not-an-owner';
export const NAME_MISMATCH = 'https://mrbill.dev/problems/confirmation-mismatch';
export const WRONG_PASSWORD = 'https://mrbill.dev/problems/wrong-password';
/** Two-step verification is already on (turning it on), or off (turning it off, new codes). */
export const TWO_FACTOR_ON = 'https://mrbill.dev/problems/two-factor-on';
export const TWO_FACTOR_OFF = 'https://mrbill.dev/problems/two-factor-off';
/** With two-step verification on, the password alone no longer changes it, nor the password. */
export const CODE_REQUIRED = 'https://mrbill.dev/problems/two-factor-code-required';
/** A code to confirm, and no setup under way (it was confirmed or restarted elsewhere). */
export const TWO_FACTOR_NOT_STARTED = 'https://mrbill.dev/problems/two-factor-not-started';

export const ROLES = ['owner', 'admin', 'member'] as const;
export type Role = (typeof ROLES)[number];

export type Member = {
  user_id: string;
  email: string;
  full_name: string;
  role: Role;
  status: 'active' | 'deactivated';
  created_at: string;
  last_login_at: string | null;
  /** Two-step verification is on; null when not the caller's to know (a member looking at
   * someone else: only owners and admins see it). */
  two_factor: boolean | null;
  recovery_codes_left: number | null;
};
export type Invitation = { invitation_id: string; email: string; role: Role; created_at: string; expires_at: string };
export type InvitationCreated = Invitation & { token: string; accept_url: string };
export type Page<T> = { items: T[]; next_cursor: string | null };

const cursor = (next?: string | null) => (next ? `&cursor=${encodeURIComponent(next)}` : '');
const user = (id: string) => `/api/identity/users/${encodeURIComponent(id)}`;

export const listMembers = (next?: string | null) => api<Page<Member>>(`/api/identity/users?limit=50${cursor(next)}`);
export const listInvitations = (next?: string | null) => api<Page<Invitation>>(`/api/identity/invitations?limit=50${cursor(next)}`);
export const invite = (email: string, role: Role) => api<InvitationCreated>('/api/identity/invitations', { method: 'POST', body: { email, role } });
export const revokeInvitation = (id: string) => api<void>(`/api/identity/invitations/${encodeURIComponent(id)}`, { method: 'DELETE' });
export const changeRole = (id: string, role: Role) => api<Member>(`${user(id)}/role`, { method: 'PUT', body: { role } });
export const setActive = (id: string, active: boolean) => api<Member>(`${user(id)}/${active ? 'reactivate' : 'deactivate'}`, { method: 'POST' });
/** For someone who lost their phone: they log in with their password alone until they turn it on again. */
export const resetTwoFactor = (id: string) => api<Member>(`${user(id)}/two-factor/reset`, { method: 'POST' });

/** Every session of yours ends; the answer is a new one for this browser (its cookie). */
/** `code`: with two-step verification on, the app's code (or a recovery code) too. */
export const changePassword = (current_password: string, new_password: string, code?: string) =>
  api<TokenOut>('/api/identity/me/password', { method: 'POST', body: { current_password, new_password, code }, headers: COOKIE_ONLY });
export const deleteAccount = (password: string, code?: string) => api<void>('/api/identity/me/delete', { method: 'POST', body: { password, code } });
/** The whole organization, every account with it (owners only). */
export const deleteOrganization = (password: string, organization: string, code?: string) =>
  api<void>('/api/identity/tenant/delete', { method: 'POST', body: { password, organization, code } });
/** Two-step verification, turned on in two steps: the password gives a new authenticator key
 * (not in force yet), then a code from the app confirms it and brings the recovery codes. */
export const startTwoFactor = (password: string) =>
  api<{ secret: string; otpauth_uri: string }>('/api/identity/me/two-factor', { method: 'POST', body: { password } });
/** The answer also carries a new session for this browser: every other one of the account ends. */
export const confirmTwoFactor = (code: string) =>
  api<{ recovery_codes: string[]; session: TokenOut }>('/api/identity/me/two-factor/confirm', {
    method: 'POST',
    body: { code },
    headers: COOKIE_ONLY,
  });
export const disableTwoFactor = (password: string, code: string) =>
  api<void>('/api/identity/me/two-factor/disable', { method: 'POST', body: { password, code } });
/** Ten new recovery codes; the old ones stop working. */
export const newRecoveryCodes = (password: string, code: string) =>
  api<{ recovery_codes: string[] }>('/api/identity/me/two-factor/recovery-codes', { method: 'POST', body: { password, code } });
/** Everything identity holds about you, as the file it names. */
export async function exportMyData(): Promise<{ blob: Blob; filename: string }> {
  const response = await request('/api/identity/me/export');
  const named = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '');
  return { blob: await response.blob(), filename: named?.[1] ?? 'mrbill-identity-export.json' };
}
