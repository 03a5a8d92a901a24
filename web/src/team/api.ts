// The identity service's members, invitations and account endpoints (/api/identity); see
// contracts/openapi-identity.yaml.
import { api, request, type TokenOut } from '../api/http';
import { COOKIE_ONLY } from '../auth/AuthContext';

/** The problem a deactivated member's still-valid token gets from member management. */
export const DEACTIVATED = 'https://mrbill.dev/problems/account-deactivated';
export const NOT_AN_OWNER = 'https://mrbill.dev/problems/not-an-owner';
export const NAME_MISMATCH = 'https://mrbill.dev/problems/confirmation-mismatch';

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

/** Every session of yours ends; the answer is a new one for this browser (its cookie). */
export const changePassword = (current_password: string, new_password: string) =>
  api<TokenOut>('/api/identity/me/password', { method: 'POST', body: { current_password, new_password }, headers: COOKIE_ONLY });
export const deleteAccount = (password: string) => api<void>('/api/identity/me/delete', { method: 'POST', body: { password } });
/** The whole organization, every account with it (owners only). */
export const deleteOrganization = (password: string, organization: string) =>
  api<void>('/api/identity/tenant/delete', { method: 'POST', body: { password, organization } });
/** Everything identity holds about you, as the file it names. */
export async function exportMyData(): Promise<{ blob: Blob; filename: string }> {
  const response = await request('/api/identity/me/export');
  const named = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '');
  return { blob: await response.blob(), filename: named?.[1] ?? 'mrbill-identity-export.json' };
}
