// The POC service (/api/pocs) and the search service (/api/search); see contracts/openapi-*.yaml.
import { saveBlob } from '../api/download';
import { api, request } from '../api/http';
import type { Facet } from '../components/Facets';

export type { Facet };

export const STATUSES = ['idea', 'in_progress', 'done', 'abandoned'] as const;
export type Status = (typeof STATUSES)[number];
export type Visibility = 'private' | 'tenant';

export type PocIn = {
  name: string;
  description?: string | null;
  language?: string | null;
  frameworks?: string[];
  tags?: string[];
  repository_url?: string | null;
  status?: Status;
  visibility?: Visibility;
  started_on?: string | null;
  finished_on?: string | null;
};

export type Poc = Required<PocIn> & {
  poc_id: string;
  owner_id: string;
  created_at: string;
  updated_at: string;
  version: number;
};

export type SearchHit = Omit<Poc, 'started_on' | 'finished_on' | 'version'> & {
  highlights?: { name?: string | null; description?: string | null };
};
export type SearchResult = {
  items: SearchHit[];
  total: number;
  facets: { language: Facet[]; tags: Facet[]; status: Facet[] };
  next_cursor: string | null;
};
export type Filters = { language: string[]; tags: string[]; status: string[] };
export type ImportReport = {
  total: number;
  accepted: number[];
  rejected: { row: number; errors: { loc?: (string | number)[]; msg?: string }[] }[];
  imported: { row: number; poc_id: string }[];
  dry_run: boolean;
};

export function searchPocs(q: string, filters: Filters, cursor?: string | null, signal?: AbortSignal) {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  params.set('sort', q ? 'relevance' : 'newest');
  for (const v of filters.language) params.append('language', v);
  for (const v of filters.tags) params.append('tags', v);
  for (const v of filters.status) params.append('status', v);
  if (cursor) params.set('cursor', cursor);
  return api<SearchResult>(`/api/search/search?${params}`, { signal });
}

export function suggest(q: string, signal?: AbortSignal) {
  return api<{ names: string[]; tags: string[] }>(`/api/search/suggest?q=${encodeURIComponent(q)}&limit=8`, { signal });
}

export async function getPoc(id: string): Promise<{ poc: Poc; etag: string }> {
  const response = await request(`/api/pocs/pocs/${encodeURIComponent(id)}`);
  return { poc: (await response.json()) as Poc, etag: response.headers.get('etag') ?? '' };
}

/** With `key` (an Idempotency-Key), sending the same POC again after a lost answer gives the
 * POC made the first time instead of a second one. */
export const createPoc = (input: PocIn, key?: string) =>
  api<Poc>('/api/pocs/pocs', { method: 'POST', body: input, headers: key ? { 'idempotency-key': key } : {} });

export const updatePoc = (id: string, etag: string, patch: Partial<PocIn>) =>
  api<Poc>(`/api/pocs/pocs/${encodeURIComponent(id)}`, { method: 'PATCH', body: patch, headers: { 'if-match': etag } });

export const deletePoc = (id: string) => api<void>(`/api/pocs/pocs/${encodeURIComponent(id)}`, { method: 'DELETE' });

/** A file's text: UTF-8 (a byte-order mark dropped), else Windows-1252, which spreadsheet
 * programs write by default in Brazil ("CSV (separado por vírgulas)"): read as UTF-8, its
 * accents would turn into "�" and be imported so. */
export async function fileText(file: Blob): Promise<string> {
  const bytes = await file.arrayBuffer();
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

/** With `key` (an Idempotency-Key), importing the same file again after a lost answer gives
 * the first import's report instead of importing it twice. */
export function importPocs(file: File, text: string, dryRun: boolean, key?: string) {
  const json = file.name.toLowerCase().endsWith('.json') || file.type === 'application/json';
  return api<ImportReport>(`/api/pocs/pocs/import?dry_run=${dryRun}`, {
    method: 'POST',
    raw: text,
    contentType: json ? 'application/json' : 'text/csv',
    headers: key && !dryRun ? { 'idempotency-key': key } : {},
  });
}

/** The Idempotency-Key for sending `body`: the one of the last attempt when it was the same
 * body (its answer was lost, so this is a retry), a new one otherwise. */
export function keyFor(last: { current: { body: string; key: string } | null }, body: string): string {
  if (last.current?.body !== body) last.current = { body, key: crypto.randomUUID() };
  return last.current.key;
}

/** Download an export through the authenticated client, then hand it to the browser. */
export async function exportPocs(format: 'csv' | 'json'): Promise<void> {
  const response = await request(`/api/pocs/pocs/export?format=${format}&scope=mine`);
  saveBlob(await response.blob(), `pocs.${format}`);
}

/** "a, b ,, c" → ["a", "b", "c"] */
export const splitList = (value: string) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
