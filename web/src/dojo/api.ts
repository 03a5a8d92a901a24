// The dojo service (/api/dojos). Until the real service lands, the local stack runs a stand-in
// with this same contract (infra/local/dojo_standin.py); see web/README.md.
import { api } from '../api/http';

export type DojoRole = 'driver' | 'navigator' | 'observer';
export type Participant = { user_id: string; name: string; role: DojoRole; facilitator: boolean };
export type Dojo = {
  dojo_id: string;
  title: string;
  language: string;
  status: 'scheduled' | 'live' | 'ended';
  scheduled_at: string | null;
  rotation_seconds: number;
  room: string;
  facilitator_id: string;
  participants: Participant[];
  driver_id: string | null;
  next_driver_id: string | null;
  rotation_ends_at: string | null;
};
export type Ticket = { ticket: string; room: string; url: string; role: 'write' | 'read'; expires_in: number };
export type ChatMessage = { seq: number; user_id: string; name: string; body: string; created_at: string };
export type Snapshot = { seq: number; created_at: string; driver_name: string | null; text: string };

const base = '/api/dojos/dojos';
const at = (id: string, path = '') => `${base}/${encodeURIComponent(id)}${path}`;

export const listDojos = () => api<{ items: Dojo[] }>(base);
export const getDojo = (id: string, signal?: AbortSignal) => api<Dojo>(at(id), { signal });
export const createDojo = (input: { title: string; language: string; scheduled_at: string | null; rotation_seconds: number }) =>
  api<Dojo>(base, { method: 'POST', body: input });
export const joinDojo = (id: string) => api<Dojo>(at(id, '/join'), { method: 'POST', body: {} });
export const startDojo = (id: string) => api<Dojo>(at(id, '/start'), { method: 'POST', body: {} });
export const rotateDojo = (id: string) => api<Dojo>(at(id, '/rotate'), { method: 'POST', body: {} });
export const roomTicket = (id: string) => api<Ticket>(at(id, '/ticket'), { method: 'POST', body: {} });
export const listChat = (id: string, after: number) => api<{ items: ChatMessage[] }>(at(id, `/chat?after=${after}`));
export const sendChat = (id: string, body: string) => api<ChatMessage>(at(id, '/chat'), { method: 'POST', body: { body } });
export const listSnapshots = (id: string) => api<{ items: Snapshot[] }>(at(id, '/snapshots'));
