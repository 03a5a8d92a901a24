import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ApiError } from '../api/http';
import { useAuth } from '../auth/AuthContext';
import { FormError } from '../components/Field';
import { useI18n, type MessageKey } from '../i18n';
import {
  endDojo,
  getDojo,
  getTimer,
  listParticipants,
  roomTicket,
  startDojo,
  timerAction,
  type Dojo,
  type Participant,
  type Timer,
} from './api';
import { Chat } from './Chat';
import { CollabEditor, type ConnectionStatus } from './CollabEditor';
import { playChime, remainingMs, timeLeft } from './cue';
import { canManage } from './DojoLobbyPage';
import { InviteButton } from './Invites';
import { userColor } from './languages';
import { Snapshots } from './Snapshots';
import { shownName } from './names';

type Access = 'loading' | 'ok' | 'not-found' | 'not-member';

/** A ticket refused to whoever is no longer in the dojo: 403, or 404 for a private dojo (it
 * does not exist for them any more). */
const refused = (e: unknown) => e instanceof ApiError && (e.status === 403 || e.status === 404);
/** The timer as read, with our clock at that moment (to count down without drift). */
type ClockedTimer = Timer & { received: number };

/**
 * The live dojo: shared editor, roles, rotation timer, chat and snapshots. The REST API is the
 * record; the room's "dojo" map and "chat" array (written by the dojo service) only tell us,
 * live, that something changed, so we re-read it at once instead of waiting for the next poll.
 */
export function DojoRoomPage() {
  const { t } = useI18n();
  const { me } = useAuth();
  const { id = '' } = useParams();
  const [dojo, setDojo] = useState<Dojo | null>(null);
  const [people, setPeople] = useState<Participant[]>([]);
  const [timer, setTimer] = useState<ClockedTimer | null>(null);
  const [ticket, setTicket] = useState<{ token: string; role: string } | null>(null);
  const [access, setAccess] = useState<Access>('loading');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>('connecting');
  const [now, setNow] = useState(Date.now());
  const [cue, setCue] = useState<string | null>(null);
  const [sound, setSound] = useState(true);
  const [chatKey, setChatKey] = useState(0);
  const lastDriver = useRef<string | null | undefined>(undefined);
  const userId = me?.user.user_id ?? '';
  const myself = people.find((p) => p.user_id === userId && p.status === 'active');
  const canWrite = myself?.can_write ?? false;

  const fail = useCallback((e: unknown) => {
    if (e instanceof ApiError && e.status === 404) setAccess('not-found');
    else if (e instanceof ApiError && e.status === 403) setAccess('not-member');
    else setError(e instanceof Error ? e.message : String(e));
  }, []);

  const refresh = useCallback(async () => {
    const [next, list, clock] = await Promise.all([getDojo(id), listParticipants(id), getTimer(id)]);
    setDojo(next);
    setPeople(list.items);
    setTimer({ ...clock, received: Date.now() });
    setAccess(list.items.some((p) => p.user_id === userId && p.status === 'active') ? 'ok' : 'not-member');
  }, [id, userId]);

  // Load, then re-read now and then (the room's "dojo" map triggers a re-read at once).
  useEffect(() => {
    let alive = true;
    refresh().catch((e: unknown) => alive && fail(e));
    const poll = setInterval(() => void refresh().catch(() => undefined), 5000);
    return () => {
      alive = false;
      clearInterval(poll);
    };
  }, [refresh, fail]);

  // A ticket for what we may do now (write or read), fetched again when that changes and
  // renewed before it expires (the editor hands it to the live connection).
  useEffect(() => {
    if (access !== 'ok') return;
    let alive = true;
    let renewal: ReturnType<typeof setTimeout> | undefined;
    const fetchTicket = () =>
      roomTicket(id).then(
        (out) => {
          if (!alive) return;
          setTicket({ token: out.ticket, role: out.role });
          renewal = setTimeout(fetchTicket, Math.max(5, out.expires_in - 30) * 1000);
        },
        (e: unknown) => {
          if (!alive) return;
          if (refused(e)) setAccess('not-member');
          else if (e instanceof ApiError && e.status < 500 && e.status !== 429) setError(e.message);
          else renewal = setTimeout(fetchTicket, 5000); // the service away, or we are offline
        },
      );
    void fetchTicket();
    return () => {
      alive = false;
      clearTimeout(renewal);
    };
  }, [id, access, canWrite]);

  // The rotation cue: sound and a visible banner when the driver changes.
  useEffect(() => {
    if (!dojo) return;
    // Only a hand-over: not the first driver at the start, nor the end.
    if (lastDriver.current && dojo.driver_id && lastDriver.current !== dojo.driver_id) {
      const found = people.find((p) => p.user_id === dojo.driver_id)?.display_name;
      const name = found === undefined ? '?' : shownName(found, t);
      setCue(t('room.rotated', { name }));
      if (sound) playChime();
      setTimeout(() => setCue(null), 5000);
    }
    lastDriver.current = dojo.driver_id;
  }, [dojo, people, sound, t]);

  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(tick);
  }, []);

  // After a 4401 (an expired ticket: a laptop woke up, say) or a 4403 (refused: we may be back
  // in the dojo): the new ticket is the page's too, so that a later connection (the editor
  // starting again) does not present the old one. Refused one: we are no longer in the dojo.
  const renewTicket = useCallback(async () => {
    try {
      const out = await roomTicket(id);
      setTicket({ token: out.ticket, role: out.role });
      return out.ticket;
    } catch (e) {
      if (refused(e)) setAccess('not-member');
      throw e;
    }
  }, [id]);
  const onRoomChange = useCallback(() => void refresh().catch(() => undefined), [refresh]);
  const onChat = useCallback(() => setChatKey((k) => k + 1), []);
  const act = (action: () => Promise<unknown>) => () =>
    void action()
      .then(() => refresh())
      .then(() => setNotice(null))
      .catch((e: unknown) => setNotice(e instanceof Error ? e.message : String(e)));

  if (access === 'not-found')
    return (
      <div className="forbidden" role="alert" data-testid="dojo-forbidden">
        <h1>{t('room.forbidden')}</h1>
        <Link to="/dojos">{t('room.leave')}</Link>
      </div>
    );
  if (access === 'not-member')
    return (
      <div className="forbidden" role="alert" data-testid="dojo-not-member">
        <h1>{t('room.notMember', { name: dojo?.name ?? '' })}</h1>
        <Link to="/dojos">{t('room.leave')}</Link>
      </div>
    );
  if (error) return <FormError message={error} />;
  if (!dojo || !ticket || !myself || !me) return <p>{t('common.loading')}</p>;

  const manager = canManage(dojo, me);
  const live = dojo.status === 'active';
  const readOnly = !canWrite;
  const active = people.filter((p) => p.status === 'active');
  const nameOf = (uid: string | null | undefined) => {
    const name = active.find((p) => p.user_id === uid)?.display_name;
    return name === undefined ? '—' : shownName(name, t);
  };
  const left = timer ? remainingMs(timer, now) : null;
  const statusText: Record<ConnectionStatus, MessageKey> = {
    connecting: 'room.conn.connecting',
    connected: 'room.conn.connected',
    disconnected: 'room.conn.disconnected',
    forbidden: 'room.conn.forbidden',
  };
  const banner = !live
    ? t(dojo.status === 'scheduled' ? 'room.notStarted' : 'room.over')
    : readOnly
      ? t('room.readOnly', { role: t(`room.role.${myself.role}` as MessageKey) })
      : dojo.format === 'free'
        ? t('room.freeEdit')
        : t('room.youDrive');

  return (
    <div className="room">
      <div className="room-head">
        <h1>
          {dojo.name} <span className={`status status-${dojo.status}`}>{t(`dojos.status.${dojo.status}` as MessageKey)}</span>
        </h1>
        <p className={`conn conn-${status}`} role="status" data-testid="connection-status" data-status={status}>
          <span aria-hidden="true" className="dot" /> {t(statusText[status])}
        </p>
      </div>
      <FormError message={notice} />
      {cue && (
        <p className="cue" role="alert" data-testid="rotation-cue">
          {cue}
        </p>
      )}
      <div className="room-grid">
        <div className="room-main">
          <p className={readOnly ? 'banner read-only-banner' : 'banner driver-banner'} data-testid="role-banner" data-readonly={readOnly}>
            {banner}
          </p>
          <CollabEditor
            room={dojo.room}
            ticket={ticket.token}
            readOnly={readOnly}
            language={dojo.language}
            user={{ id: userId, name: myself.display_name }}
            label={t('room.editor')}
            onStatus={setStatus}
            renewTicket={renewTicket}
            onMeta={onRoomChange}
            onChat={onChat}
          />
          <Snapshots dojo={dojo} people={people} manager={manager} refreshKey={`${dojo.version}`} onRestored={onRoomChange} />
        </div>
        <div className="room-side">
          <section className="panel timer" aria-labelledby="timer-title">
            <h2 id="timer-title">{t('room.timer')}</h2>
            {dojo.format === 'free' ? (
              <p className="hint">{t('room.freeHint')}</p>
            ) : (
              <>
                <p className="clock" data-testid="timer" data-state={timer?.state} aria-live="off">
                  {timeLeft(left)}
                </p>
                {timer?.state === 'paused' && <p className="hint">{t('room.paused')}</p>}
                <p>{t('room.driver', { name: nameOf(live ? dojo.driver_id : null) })}</p>
                <p>{t('room.nextDriver', { name: nameOf(timer?.next_driver_id) })}</p>
              </>
            )}
            {manager && dojo.status === 'scheduled' && (
              <button type="button" className="primary" onClick={act(() => startDojo(id))}>
                {t('room.start')}
              </button>
            )}
            {manager && live && dojo.format !== 'free' && (
              <>
                <button type="button" onClick={act(() => timerAction(id, 'skip'))}>
                  {t('room.rotate')}
                </button>
                {/* A prepared kata has no timer: its facilitator hands the keyboard over. One
                    started before that was so runs on: pausing it stops it. */}
                {timer?.state === 'running' && (
                  <button type="button" onClick={act(() => timerAction(id, 'pause'))}>
                    {t('room.pause')}
                  </button>
                )}
                {dojo.format === 'randori' && timer && timer.state !== 'running' && dojo.driver_id && (
                  <button type="button" onClick={act(() => timerAction(id, 'resume'))}>
                    {t('room.resume')}
                  </button>
                )}
              </>
            )}
            {dojo.format !== 'free' && (
              <label className="check">
                <input type="checkbox" checked={sound} onChange={(e) => setSound(e.target.checked)} /> {t('room.sound')}
              </label>
            )}
          </section>
          <section className="panel" aria-labelledby="participants-title">
            <h2 id="participants-title">{t('room.participants')}</h2>
            <ul className="participants" data-testid="participants">
              {active.map((p) => (
                <li key={p.user_id} data-role={p.role} data-can-write={p.can_write}>
                  <span className="swatch" aria-hidden="true" style={{ background: userColor(p.user_id).color }} />
                  {shownName(p.display_name, t)} {p.user_id === userId && t('room.you')} —{' '}
                  <span className="role">
                    {t(`room.role.${p.role}` as MessageKey)}
                    {p.role === 'driver' && p.user_id === dojo.creator_id && `, ${t('room.role.facilitator')}`}
                  </span>
                </li>
              ))}
            </ul>
            {manager && (live || dojo.status === 'scheduled') && (
              <div className="invites">
                <InviteButton dojoId={id} role="navigator" label={t('room.inviteNavigator')} />
                <InviteButton dojoId={id} role="observer" label={t('room.inviteObserver')} />
              </div>
            )}
            {manager && live && (
              <button type="button" className="danger" onClick={act(() => endDojo(id))}>
                {t('room.end')}
              </button>
            )}
          </section>
          <Chat dojoId={id} me={userId} liveKey={chatKey} open={dojo.status === 'scheduled' || live} />
        </div>
      </div>
    </div>
  );
}
