import { useEffect, useState } from 'react';
import { Link, useLocation, useNavigate } from 'react-router-dom';
import { ApiError } from '../api/http';
import { useI18n } from '../i18n';
import { createInvite, joinWithCode, type Invite } from './api';

/** The invite link of a fresh invite, on this web app's origin (`/dojos/join#<code>`). */
export function inviteLink(serviceUrl: string, code: string, origin = window.location.origin): string {
  let path = '/dojos/join';
  try {
    path = new URL(serviceUrl).pathname;
  } catch {
    /* keep the default path */
  }
  return `${origin}${path}#${code}`;
}

/** Facilitator: make an invite link (shown once) for a navigator or an observer, and copy it. */
export function InviteButton({ dojoId, role = 'navigator', label }: { dojoId: string; role?: Invite['role']; label?: string }) {
  const { t } = useI18n();
  const [link, setLink] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const make = async () => {
    setError(null);
    try {
      const invite = await createInvite(dojoId, role);
      const url = inviteLink(invite.url, invite.code);
      setLink(url);
      try {
        await navigator.clipboard.writeText(url);
      } catch {
        /* clipboard refused (e.g. not https): the link is shown instead */
      }
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <div className="invite">
      <button type="button" onClick={() => void make()}>
        {label ?? t('dojos.invite')}
      </button>
      {link && (
        <p className="flash" role="status">
          {t('dojos.copied')} <code data-testid="invite-link">{link}</code>
        </p>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** `/dojos/join#<code>`: join with an invite link, then enter the room. */
export function JoinDojoPage() {
  const { t } = useI18n();
  const { hash } = useLocation();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const code = decodeURIComponent(hash.replace(/^#/, ''));
    if (!code) {
      setError(t('join.invalid'));
      return;
    }
    let alive = true;
    joinWithCode(code).then(
      (me) => alive && navigate(`/dojos/${me.dojo_id}`, { replace: true }),
      (e: unknown) => {
        if (!alive) return;
        if (e instanceof ApiError && e.status === 404) setError(t('join.invalid'));
        else if (e instanceof ApiError && e.status === 403) setError(t('join.removed'));
        else setError(e instanceof Error ? e.message : String(e));
      },
    );
    return () => {
      alive = false;
    };
  }, [hash, navigate, t]);

  if (!error) return <p>{t('join.joining')}</p>;
  return (
    <div className="forbidden" role="alert" data-testid="join-error">
      <h1>{error}</h1>
      <Link to="/dojos">{t('room.leave')}</Link>
    </div>
  );
}
