// The dojo service (/api/dojos, platform_api/dojos; contracts/openapi-dojos.yaml). What it writes
// into a room (the "dojo" map, the "chat" array) is in contracts/asyncapi-dojos.yaml.
import { api, request } from '../api/http';
import type { Facet } from '../components/Facets';

export type DojoStatus = 'scheduled' | 'active' | 'ended' | 'archived';
export type DojoFormat = 'randori' | 'prepared' | 'free';
export type DojoRole = 'facilitator' | 'driver' | 'navigator' | 'observer';
export type Dojo = {
  dojo_id: string;
  room: string; // <tenant>:dojo-<dojo_id>
  creator_id: string;
  name: string;
  description: string;
  language: string;
  format: DojoFormat;
  initial_code: string;
  planned_minutes: number;
  rotation_seconds: number;
  max_participants: number;
  scheduled_start_time: string | null;
  status: DojoStatus;
  driver_id: string | null;
  participant_count: number;
  version: number;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  ended_at: string | null;
  archived_at: string | null;
};
export type DojoInput = {
  name: string;
  description?: string;
  language: string;
  format: DojoFormat;
  rotation_seconds: number;
  scheduled_start_time: string | null;
};
export type Participant = {
  dojo_id: string;
  user_id: string;
  display_name: string;
  role: DojoRole; // the effective role: "driver" for the current driver
  status: 'active' | 'left' | 'removed';
  can_write: boolean;
  join_time: string;
  leave_time: string | null;
};
export type Invite = {
  invite_id: string;
  role: 'navigator' | 'observer';
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
};
export type CreatedInvite = Invite & { code: string; url: string };
export type Ticket = { ticket: string; room: string; url: string; role: 'write' | 'read'; expires_at: string; expires_in: number };
export type Timer = {
  state: 'stopped' | 'running' | 'paused';
  rotation_seconds: number;
  remaining_ms: number | null;
  due_at: string | null;
  server_time: string;
  driver_id: string | null;
  next_driver_id: string | null;
  order: string[];
  turn: number;
};
export type ChatMessage = { message_id: string; user_id: string; display_name: string; text: string; html: string; timestamp: string };
export type SnapshotReason = 'start' | 'rotation' | 'manual' | 'periodic' | 'restore' | 'end';
export type Snapshot = {
  snapshot_id: string;
  timestamp: string;
  reason: SnapshotReason;
  user_id: string | null;
  driver_id: string | null;
  turn: number;
  size: number;
};
export type SnapshotCode = Snapshot & { code: string };
type Page<T> = { items: T[]; next_cursor: string | null };

/** A dojo as the search service indexes it (/api/search/search/dojos; contracts/openapi-search.yaml). */
export type DojoHit = Pick<
  Dojo,
  'dojo_id' | 'creator_id' | 'name' | 'description' | 'language' | 'format' | 'status' | 'participant_count' | 'scheduled_start_time'
> &
  Pick<Dojo, 'created_at' | 'started_at' | 'ended_at'> & {
    is_private: boolean;
    tags: string[];
    highlights?: { name?: string | null; description?: string | null };
  };
export type DojoFilters = { status: string[]; language: string[] };
export type DojoSearchResult = {
  items: DojoHit[];
  total: number;
  facets: { status: Facet[]; language: Facet[]; tags: Facet[] };
  next_cursor: string | null;
};

const base = '/api/dojos/dojos';
const at = (id: string, path = '') => `${base}/${encodeURIComponent(id)}${path}`;
const post = <T>(path: string, body: unknown = undefined) => api<T>(path, { method: 'POST', body });

export const listDojos = () => api<Page<Dojo>>(`${base}?limit=100`);

export function searchDojos(q: string, filters: DojoFilters, cursor?: string | null, signal?: AbortSignal) {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  params.set('sort', q ? 'relevance' : 'newest'); // newest first, like the dojo service's list
  for (const v of filters.status) params.append('status', v);
  for (const v of filters.language) params.append('language', v);
  if (cursor) params.set('cursor', cursor);
  params.set('limit', '50');
  return api<DojoSearchResult>(`/api/search/search/dojos?${params}`, { signal });
}
export const suggestDojos = (q: string, signal?: AbortSignal) =>
  api<{ names: string[]; tags: string[] }>(`/api/search/suggest/dojos?q=${encodeURIComponent(q)}&limit=8`, { signal });
export const getDojo = (id: string) => api<Dojo>(at(id));
export const createDojo = (input: DojoInput) => post<Dojo>(base, input);
export const startDojo = (id: string) => post<Dojo>(at(id, '/start'));
export const endDojo = (id: string) => post<Dojo>(at(id, '/end'));

export const listParticipants = (id: string) => api<{ items: Participant[] }>(at(id, '/participants'));
export const createInvite = (id: string, role: Invite['role'] = 'navigator') => post<CreatedInvite>(at(id, '/invites'), { role });
/** Join with the code of an invite link (`/dojos/join#<code>`); says which dojo. */
export const joinWithCode = (code: string) => post<Participant>(`${base}/join`, { code });
export const roomTicket = (id: string) => post<Ticket>(at(id, '/tickets'));

export const getTimer = (id: string) => api<Timer>(at(id, '/timer'));
export const timerAction = (id: string, action: 'pause' | 'resume' | 'skip') => post<Timer>(at(id, `/timer/${action}`));

export const listMessages = (id: string) => api<Page<ChatMessage>>(at(id, '/messages?limit=100'));
export const sendMessage = (id: string, text: string) => post<ChatMessage>(at(id, '/messages'), { text });

export const listSnapshots = (id: string) => api<Page<Snapshot>>(at(id, '/snapshots?limit=100'));
export const takeSnapshot = (id: string) => post<Snapshot>(at(id, '/snapshots'));
export const getSnapshot = (id: string, snapshotId: string) => api<SnapshotCode>(at(id, `/snapshots/${encodeURIComponent(snapshotId)}`));
export const restoreSnapshot = (id: string, snapshotId: string) =>
  post<Snapshot>(at(id, `/snapshots/${encodeURIComponent(snapshotId)}/restore`));
export const snapshotDiff = (id: string, from: string, to: string) =>
  api<{ from_snapshot: string; to_snapshot: string; diff: string }>(
    at(id, `/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`),
  );
/** The whole session as a zip (final code, snapshots, chat, attribution). */
export const exportDojo = async (id: string) => (await request(at(id, '/export'), { headers: { accept: 'application/zip' } })).blob();
