import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { Route } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { renderApp } from '../test-utils';
import type { Dojo, Timer } from './api';
import { DojoRoomPage } from './DojoRoomPage';

// The room's connections, as the page makes them: no server, but their events on demand.
const rooms = vi.hoisted(() => ({ providers: [] as FakeProvider[] }));
type FakeProvider = {
  params: Record<string, string>;
  connects: number;
  emit: (event: string, payload: unknown) => void;
};

vi.mock('y-websocket', async () => {
  const { Awareness } = await import('y-protocols/awareness');
  class WebsocketProvider {
    params: Record<string, string>;
    awareness: InstanceType<typeof Awareness>;
    messageHandlers: unknown[] = [];
    wsconnected = false;
    synced = true;
    ws = null;
    connects = 0;
    handlers = new Map<string, ((payload: unknown) => void)[]>();
    constructor(_url: string, _room: string, doc: import('yjs').Doc, options: { params: Record<string, string> }) {
      this.params = options.params;
      this.awareness = new Awareness(doc);
      rooms.providers.push(this);
    }
    on(event: string, handler: (payload: unknown) => void) {
      this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
    }
    once(event: string, handler: (payload: unknown) => void) {
      this.on(event, handler);
    }
    emit(event: string, payload: unknown) {
      for (const handler of this.handlers.get(event) ?? []) handler(payload);
    }
    connect() {
      this.connects += 1;
    }
    disconnect() {}
    destroy() {
      this.awareness.destroy();
    }
  }
  return { WebsocketProvider, messageAuth: 2 };
});
vi.mock('y-codemirror.next', () => ({ yCollab: () => [] }));

const ME = '00000000-0000-4000-8000-000000000001';
const DOJO = '3f1c2a4e-0000-4000-8000-000000000001';
const tenant = { tenant_id: 't-1', name: 'Quokka Labs', slug: 'quokka-labs' };
const user = { user_id: ME, email: 'ana@quokka.dev', full_name: 'Ana', role: 'member', status: 'active' };
const dojo: Dojo = {
  dojo_id: DOJO,
  room: `t-1:dojo-${DOJO}`,
  creator_id: ME,
  name: 'Kata FizzBuzz',
  description: '',
  language: 'Python',
  format: 'randori',
  initial_code: '',
  planned_minutes: 60,
  rotation_seconds: 300,
  max_participants: 10,
  scheduled_start_time: null,
  status: 'active',
  driver_id: ME,
  participant_count: 1,
  version: 3,
  created_at: '2026-01-01T09:00:00Z',
  updated_at: '2026-01-01T10:00:00Z',
  started_at: '2026-01-01T10:00:00Z',
  ended_at: null,
  archived_at: null,
};
const participant = { dojo_id: DOJO, user_id: ME, display_name: 'Ana', role: 'driver', status: 'active', can_write: true, join_time: '2026-01-01T09:00:00Z', leave_time: null };
const timer: Timer = { state: 'running', rotation_seconds: 300, remaining_ms: 200_000, due_at: '2026-01-01T10:05:00Z', server_time: '2026-01-01T10:01:40Z', driver_id: ME, next_driver_id: null, order: [ME], turn: 0 };
const ticket = (n: number) => ({ ticket: `ticket-${n}`, room: dojo.room, url: '', role: 'write', expires_at: '2026-01-01T11:00:00Z', expires_in: 3600 });
const tokens = { access_token: 'a.b.c', token_type: 'bearer', expires_in: 900, refresh_expires_in: 86400 };
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const problem = (status: number) => json({ title: 'Refused', status, detail: `status ${status}` }, status);

/** The API, signed in as the dojo's facilitator; each ticket asked for after the first gets
 * the next of `tickets` (an answer, or a failure to send it: no connection). */
function stubApi(tickets: (Response | 'offline')[], shown: Partial<Dojo> = {}, clock: Partial<Timer> = {}) {
  let asked = 0;
  const fetch = vi.fn(async (input: string, init: RequestInit = {}) => {
    const path = new URL(input, 'http://localhost').pathname;
    const room = `/api/dojos/dojos/${DOJO}`;
    if (path === '/api/identity/token/refresh') return json(tokens);
    if (path === '/api/identity/me') return json({ user, tenant });
    if (path === room) return json({ ...dojo, ...shown });
    if (path === `${room}/participants`) return json({ items: [participant] });
    if (path === `${room}/timer`) return json({ ...timer, ...clock });
    if (path.startsWith(`${room}/timer/`) && init.method === 'POST') return json({ ...timer, state: 'stopped' });
    if (path === `${room}/tickets`) {
      asked += 1;
      const answer = asked === 1 ? json(ticket(1)) : (tickets[asked - 2] ?? problem(503));
      if (answer === 'offline') throw new TypeError('Failed to fetch');
      return answer;
    }
    if (path === `${room}/messages` || path === `${room}/snapshots`) return json({ items: [], next_cursor: null });
    return problem(404);
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}
const ticketsAsked = (fetch: ReturnType<typeof stubApi>) =>
  fetch.mock.calls.filter(([url]) => new URL(url, 'http://localhost').pathname.endsWith('/tickets')).length;

async function openRoom() {
  renderApp(`/dojos/${DOJO}`, <Route path="/dojos/:id" element={<DojoRoomPage />} />);
  await screen.findByTestId('editor');
  await waitFor(() => expect(rooms.providers).toHaveLength(1));
  return rooms.providers[0];
}

/** The room refuses the page's connection, as it does to someone no longer in the dojo. */
const refuse = (provider: FakeProvider) => act(() => provider.emit('closed', { code: 4403 }));
const wait = (ms: number) => act(() => vi.advanceTimersByTimeAsync(ms));

describe('DojoRoomPage', () => {
  beforeEach(() => {
    rooms.providers.length = 0;
    vi.useFakeTimers({ shouldAdvanceTime: true });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('asks again for a ticket after a refusal while the service is away, and gets back in', async () => {
    const fetch = stubApi([problem(503), 'offline', json(ticket(2))]);
    const provider = await openRoom();
    await refuse(provider);
    expect(screen.getByTestId('connection-status').dataset.status).toBe('forbidden');
    await wait(5_000);
    expect(ticketsAsked(fetch)).toBe(2); // 503
    await wait(10_000);
    expect(ticketsAsked(fetch)).toBe(3); // no connection
    expect(provider.connects).toBe(0);
    await wait(20_000);
    expect(ticketsAsked(fetch)).toBe(4);
    await waitFor(() => expect(provider.connects).toBe(1));
    expect(provider.params).toEqual({ ticket: 'ticket-2' });
  });

  it('says that one is no longer in a private dojo whose ticket is refused with a 404', async () => {
    stubApi([problem(404)]);
    const provider = await openRoom();
    await refuse(provider);
    await wait(5_000);
    expect(await screen.findByTestId('dojo-not-member')).toBeTruthy();
  });

  it('lets the facilitator stop a prepared kata\'s timer left running', async () => {
    const fetch = stubApi([], { format: 'prepared' });
    await openRoom();
    fireEvent.click(await screen.findByRole('button', { name: 'Pause' }));
    await waitFor(() =>
      expect(fetch.mock.calls.some(([url, init]) => String(url).endsWith('/timer/pause') && (init as RequestInit).method === 'POST')).toBe(true),
    );
  });

  it('offers no pause or resume in a prepared kata whose timer is stopped', async () => {
    stubApi([], { format: 'prepared' }, { state: 'stopped', remaining_ms: null, due_at: null });
    await openRoom();
    expect(screen.getByRole('button', { name: 'Rotate now' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Pause' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Resume' })).toBeNull();
  });
});
