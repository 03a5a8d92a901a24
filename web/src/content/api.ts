// The content service (/api/content): PDF reports and yearly videos of your POCs, generated in
// the background; see contracts/openapi-content.yaml.
import { api } from '../api/http';

export const KINDS = ['report', 'video'] as const;
export type Kind = (typeof KINDS)[number];
export type RequestStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type DocumentLanguage = 'pt-BR' | 'en';
export type PocFilter = { tags?: string[]; language?: string | null; status?: string | null };

export type ContentRequestIn = {
  type: Kind;
  year?: number;
  from?: string;
  to?: string;
  language: DocumentLanguage;
  title?: string;
  filter?: PocFilter;
};

export type ContentRequest = {
  request_id: string;
  type: Kind;
  status: RequestStatus;
  progress: number;
  title: string;
  from: string;
  to: string;
  language: DocumentLanguage;
  filter: PocFilter;
  poc_count: number;
  error?: string | null;
  size_bytes?: number | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  completed_at: string | null;
};

export type Download = {
  url: string;
  expires_at: string;
  filename: string;
  content_type: string;
  thumbnail_url?: string | null;
};

/** Still being worked on: worth following. */
export const isActive = (r: Pick<ContentRequest, 'status'>) => r.status === 'queued' || r.status === 'running';

const path = (id: string) => `/api/content/content-requests/${encodeURIComponent(id)}`;

export function listRequests(cursor?: string | null) {
  const params = new URLSearchParams({ limit: '10' });
  if (cursor) params.set('cursor', cursor);
  return api<{ items: ContentRequest[]; next_cursor: string | null }>(`/api/content/content-requests?${params}`);
}

/** `key` makes a retry of the same submission return the first request, not a second one. */
export const createRequest = (input: ContentRequestIn, key: string) =>
  api<ContentRequest>('/api/content/content-requests', { method: 'POST', body: input, headers: { 'idempotency-key': key } });

export const getRequest = (id: string, signal?: AbortSignal) => api<ContentRequest>(path(id), { signal });
export const cancelRequest = (id: string) => api<ContentRequest>(`${path(id)}/cancel`, { method: 'POST' });
export const deleteRequest = (id: string) => api<void>(path(id), { method: 'DELETE' });
export const downloadLink = (id: string) => api<Download>(`${path(id)}/download`);
