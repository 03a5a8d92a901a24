import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ApiError } from '../api/http';
import { useAuth } from '../auth/AuthContext';
import { FormError } from '../components/Field';
import { useI18n, type MessageKey } from '../i18n';
import { getDojo, joinDojo, roomTicket, rotateDojo, startDojo, type Dojo } from './api';
import { Chat } from './Chat';
import { CollabEditor, type ConnectionStatus } from './CollabEditor';
import { playChime, timeLeft } from './cue';
import { userColor } from './languages';
import { Snapshots } from './Snapshots';

/** The live dojo: shared editor, roles, rotation timer, chat and snapshots. */
export function DojoRoomPage() {
  const { t } = useI18n();
  const { me } = useAuth();
  const { id = '' } = useParams();
  const [dojo, setDojo] = useState<Dojo | null>(null);
  const [ticket, setTicket] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>('connecting');
  const [now, setNow] = useState(Date.now());
  const [cue, setCue] = useState<string | null>(null);
  const [sound, setSound] = useState(true);
  const lastDriver = useRef<string | null | undefined>(undefined);
  const userId = me?.user.user_id ?? '';
  const myRole = dojo?.participants.find((p) => p.user_id === userId)?.role;

  const fail = (e: unknown) => {
    if (e instanceof ApiError && (e.status === 404 || e.status === 403)) setForbidden(true);
    else setError(e instanceof Error ? e.message : String(e));
  };

  // Load, join when not yet a participant, then poll for roles and the rotation.
  useEffect(() => {
    let alive = true;
    const load = async () => {
      try {
        let next = await getDojo(id);
        if (!next.participants.some((p) => p.user_id === userId)) next = await joinDojo(id);
        if (alive) setDojo(next);
      } catch (e) {
        if (alive) fail(e);
      }
    };
    void load();
    const timer = setInterval(() => {
      getDojo(id).then((next) => alive && setDojo(next), () => undefined);
    }, 1500);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [id, userId]);

  // A ticket for our current role (write for the driver, read otherwise); renewed on role change.
  useEffect(() => {
    if (!myRole) return;
    roomTicket(id).then((out) => setTicket(out.ticket), fail);
  }, [id, myRole]);

  // The rotation cue: sound and a visible banner when the driver changes.
  useEffect(() => {
    if (!dojo) return;
    if (lastDriver.current !== undefined && lastDriver.current !== dojo.driver_id) {
      const name = dojo.participants.find((p) => p.user_id === dojo.driver_id)?.name ?? '?';
      setCue(t('room.rotated', { name }));
      if (sound) playChime();
      setTimeout(() => setCue(null), 5000);
    }
    lastDriver.current = dojo.driver_id;
  }, [dojo, sound, t]);

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  const renewTicket = useCallback(async () => (await roomTicket(id)).ticket, [id]);

  if (forbidden)
    return (
      <div className="forbidden" role="alert" data-testid="dojo-forbidden">
        <h1>{t('room.forbidden')}</h1>
        <Link to="/dojos">{t('room.leave')}</Link>
      </div>
    );
  if (error) return <FormError message={error} />;
  if (!dojo || !ticket || !myRole || !me) return <p>{t('common.loading')}</p>;

  const amFacilitator = dojo.facilitator_id === userId;
  const readOnly = myRole !== 'driver';
  const nameOf = (uid: string | null) => dojo.participants.find((p) => p.user_id === uid)?.name ?? '—';
  const statusText: Record<ConnectionStatus, MessageKey> = {
    connecting: 'room.conn.connecting',
    connected: 'room.conn.connected',
    disconnected: 'room.conn.disconnected',
    forbidden: 'room.forbidden',
  };

  return (
    <div className="room">
      <div className="room-head">
        <h1>{dojo.title}</h1>
        <p className={`conn conn-${status}`} role="status" data-testid="connection-status" data-status={status}>
          <span aria-hidden="true" className="dot" /> {t(statusText[status])}
        </p>
      </div>
      {cue && (
        <p className="cue" role="alert" data-testid="rotation-cue">
          {cue}
        </p>
      )}
      <div className="room-grid">
        <div className="room-main">
          <p className={readOnly ? 'banner read-only-banner' : 'banner driver-banner'} data-testid="role-banner" data-readonly={readOnly}>
            {readOnly ? t('room.readOnly', { role: t(`room.role.${myRole}` as MessageKey) }) : t('room.youDrive')}
          </p>
          <CollabEditor
            room={dojo.room}
            ticket={ticket}
            readOnly={readOnly}
            language={dojo.language}
            user={{ id: userId, name: me.user.full_name }}
            label={t('room.editor')}
            onStatus={setStatus}
            renewTicket={renewTicket}
          />
          <Snapshots dojoId={dojo.dojo_id} language={dojo.language} refreshKey={dojo.driver_id} />
        </div>
        <div className="room-side">
          <section className="panel timer" aria-labelledby="timer-title">
            <h2 id="timer-title">{t('room.timer')}</h2>
            <p className="clock" data-testid="timer" aria-live="off">
              {timeLeft(dojo.rotation_ends_at, now)}
            </p>
            <p>{t('room.nextDriver', { name: nameOf(dojo.next_driver_id) })}</p>
            {amFacilitator && dojo.status !== 'live' && (
              <button type="button" className="primary" onClick={() => void startDojo(id).then(setDojo, fail)}>
                {t('room.start')}
              </button>
            )}
            {amFacilitator && (
              <button type="button" onClick={() => void rotateDojo(id).then(setDojo, fail)}>
                {t('room.rotate')}
              </button>
            )}
            <label className="check">
              <input type="checkbox" checked={sound} onChange={(e) => setSound(e.target.checked)} /> {t('room.sound')}
            </label>
          </section>
          <section className="panel" aria-labelledby="participants-title">
            <h2 id="participants-title">{t('room.participants')}</h2>
            <ul className="participants" data-testid="participants">
              {dojo.participants.map((p) => (
                <li key={p.user_id} data-role={p.role}>
                  <span className="swatch" aria-hidden="true" style={{ background: userColor(p.user_id).color }} />
                  {p.name} {p.user_id === userId && t('room.you')} —{' '}
                  <span className="role">
                    {t(`room.role.${p.role}` as MessageKey)}
                    {p.facilitator && `, ${t('room.role.facilitator')}`}
                  </span>
                </li>
              ))}
            </ul>
          </section>
          <Chat dojoId={dojo.dojo_id} me={userId} />
        </div>
      </div>
    </div>
  );
}
