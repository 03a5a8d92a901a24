import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext';
import { FormError, SelectField, TextField } from '../components/Field';
import { said, useSubmit } from '../components/useSubmit';
import { useI18n, type MessageKey } from '../i18n';
import {
  changeRole,
  DEACTIVATED,
  invite,
  listInvitations,
  listMembers,
  resetTwoFactor,
  revokeInvitation,
  ROLES,
  setActive,
  type Invitation,
  type InvitationCreated,
  type Member,
  type Page,
  type Role,
} from './api';
import { ResetTwoFactor } from './TwoFactor';

/** The organization's people: members with their roles, invitations, and (for owners and
 * admins) inviting, changing roles, deactivating. The API decides; the page only offers what
 * the signed-in user's role allows. */
export function TeamPage() {
  const { t, locale } = useI18n();
  const { me, logOut } = useAuth();
  const navigate = useNavigate();
  const myRole = me?.user.role as Role | undefined;
  const manages = myRole === 'owner' || myRole === 'admin';
  const [members, setMembers] = useState<Member[] | null>(null);
  const [nextMembers, setNextMembers] = useState<string | null>(null);
  const [invitations, setInvitations] = useState<Invitation[]>([]);
  const [nextInvitations, setNextInvitations] = useState<string | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [created, setCreated] = useState<InvitationCreated | null>(null);
  const [copied, setCopied] = useState(false);
  const { errors, message, busy, run } = useSubmit();
  const [rowError, setRowError] = useState<{ id: string; message: string } | null>(null);
  const pendingHeading = useRef<HTMLHeadingElement>(null);

  const load = useCallback(async () => {
    try {
      const page = await listMembers();
      setMembers(page.items);
      setNextMembers(page.next_cursor);
      if (manages) {
        const pending = await listInvitations();
        setInvitations(pending.items);
        setNextInvitations(pending.next_cursor);
      }
      setUnavailable(false);
    } catch {
      setUnavailable(true);
    }
  }, [manages]);
  useEffect(() => {
    void load();
  }, [load]);

  /** The next page of a list (both are newest first, by cursor: a page never repeats one). */
  const nextPage = async <T,>(load: (next: string | null) => Promise<Page<T>>, next: string | null, add: (items: T[]) => void, setNext: (next: string | null) => void) => {
    try {
      const page = await load(next);
      add(page.items);
      setNext(page.next_cursor);
    } catch {
      setUnavailable(true);
    }
  };
  const more = () => nextPage(listMembers, nextMembers, (items) => setMembers((current) => [...(current ?? []), ...items]), setNextMembers);
  const moreInvitations = () => nextPage(listInvitations, nextInvitations, (items) => setInvitations((current) => [...current, ...items]), setNextInvitations);

  const update = (member: Member) => setMembers((current) => current && current.map((m) => (m.user_id === member.user_id ? member : m)));
  /** Run a row's action; a refusal is said in the reader's words (`conflict`: what a 409
   * means for this action; otherwise the API's own words). */
  const onRow = async (id: string, action: () => Promise<void>, conflict?: string) => {
    setRowError(null);
    try {
      await action();
    } catch (e) {
      const known = said(e, {
        [DEACTIVATED]: ['_', t('account.deactivated')],
        403: ['_', t('team.notAllowed')],
        ...(conflict ? { 409: ['_', conflict] as [string, string] } : {}),
      });
      setRowError({ id, message: known instanceof Error ? known.message : t('common.error') });
    }
  };

  const onInvite = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    setCreated(null);
    setCopied(false);
    void run(async () => {
      const out = await invite(String(data.get('email') ?? '').trim(), data.get('role') as Role).catch((e: unknown) => {
        throw said(e, { [DEACTIVATED]: ['_', t('account.deactivated')], 409: ['email', t('team.alreadyMember')], 403: ['_', t('team.notAllowed')] });
      });
      setCreated(out);
      setInvitations((current) => [out, ...current]);
      form.reset();
    });
  };

  const [copyFailed, setCopyFailed] = useState(false);
  const copy = async (text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setCopyFailed(false);
    } catch {
      setCopyFailed(true); // no clipboard (an insecure origin, say): the link is selectable
    }
  };

  const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString(locale) : t('team.never'));
  const roleName = (role: string) => t(`team.role.${role}` as MessageKey);
  const mayChange = (m: Member) => manages && m.user_id !== me?.user.user_id && (m.role !== 'owner' || myRole === 'owner');
  const isMe = (m: Member) => m.user_id === me?.user.user_id;
  // An owner may step down while another owner is active (the API keeps one in any case):
  // offered unless the whole list is here and shows none.
  const anotherOwner = nextMembers !== null || (members?.some((m) => !isMe(m) && m.role === 'owner' && m.status === 'active') ?? false);
  const stepDown = async (role: Role) => {
    await changeRole(me!.user.user_id, role);
    // The change ended this person's sessions, this one too: it goes on with a new log-in.
    await logOut().catch(() => undefined);
    navigate('/login', { replace: true, state: { flash: 'team.steppedDown' } });
  };

  return (
    <div className="lobby">
      <h1>{t('team.title', { name: me?.tenant.name ?? '' })}</h1>
      <FormError message={unavailable ? t('team.unavailable') : null} />
      <div className="lobby-grid">
        <section aria-labelledby="members-title">
          <h2 id="members-title">{t('team.members')}</h2>
          {members === null && !unavailable && <p>{t('common.loading')}</p>}
          <div className="table-scroll">
          <table className="people">
            <caption className="sr-only">{t('team.members')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('team.person')}</th>
                <th scope="col">{t('team.roleLabel')}</th>
                <th scope="col">{t('team.lastLogin')}</th>
                {manages && <th scope="col">{t('team.actions')}</th>}
              </tr>
            </thead>
            <tbody>
              {members?.map((m) => (
                <tr key={m.user_id} data-testid="member" data-status={m.status}>
                  <th scope="row">
                    <span className="person">{m.full_name}</span>
                    {m.user_id === me?.user.user_id && <span className="hint"> {t('team.you')}</span>}
                    <br />
                    <small className="hint">{m.email}</small>
                    {m.status === 'deactivated' && (
                      <>
                        {' '}
                        <span className="status status-failed">{t('team.deactivated')}</span>
                      </>
                    )}
                    {m.two_factor && (
                      <>
                        {' '}
                        <span className="badge" title={t('team.twoFactorOn')}>
                          {t('team.twoFactor')}
                        </span>
                      </>
                    )}
                  </th>
                  <td>
                    {myRole === 'owner' && (!isMe(m) || anotherOwner) ? (
                      <RoleChoice
                        member={m}
                        self={isMe(m)}
                        onChange={(role) =>
                          onRow(m.user_id, async () => (isMe(m) ? stepDown(role) : update(await changeRole(m.user_id, role))), t('team.lastOwner'))
                        }
                      />
                    ) : (
                      <span className="badge">{roleName(m.role)}</span>
                    )}
                  </td>
                  <td>{when(m.last_login_at)}</td>
                  {manages && (
                    <td>
                      {mayChange(m) && (
                        <div className="actions">
                          <button
                            type="button"
                            className={m.status === 'active' ? 'danger' : undefined}
                            onClick={() => void onRow(m.user_id, async () => update(await setActive(m.user_id, m.status !== 'active')))}
                            aria-label={t(m.status === 'active' ? 'team.deactivateWho' : 'team.reactivateWho', { name: m.full_name })}
                          >
                            {t(m.status === 'active' ? 'team.deactivate' : 'team.reactivate')}
                          </button>
                          {/* For someone who lost their phone: their password alone until they turn it on again. */}
                          {m.two_factor && <ResetTwoFactor member={m} onReset={() => onRow(m.user_id, async () => update(await resetTwoFactor(m.user_id)))} />}
                        </div>
                      )}
                      {rowError?.id === m.user_id && <FormError message={rowError.message} />}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          {nextMembers && (
            <button type="button" onClick={() => void more()}>
              {t('team.loadMore')}
            </button>
          )}
          <p className="hint">{t(manages ? 'team.roleHint' : 'team.askOwner')}</p>
        </section>
        {manages && (
          <div>
            <section className="panel" aria-labelledby="invite-title">
              <h2 id="invite-title">{t('team.invite')}</h2>
              <form onSubmit={onInvite} noValidate>
                <FormError message={message} />
                <TextField label={t('auth.email')} name="email" type="email" required autoComplete="off" error={errors.email} />
                <SelectField
                  label={t('team.roleLabel')}
                  name="role"
                  defaultValue="member"
                  // Only an owner may invite an admin.
                  options={(myRole === 'owner' ? (['member', 'admin'] as const) : (['member'] as const)).map((role) => ({ value: role, label: roleName(role) }))}
                  error={errors.role}
                />
                <button type="submit" className="primary" disabled={busy}>
                  {t('team.sendInvite')}
                </button>
              </form>
              <div aria-live="polite">
                {created && (
                  <div className="flash invite-link" data-testid="invite-link">
                    <p>{t('team.inviteMade', { email: created.email, date: new Date(created.expires_at).toLocaleDateString(locale) })}</p>
                    <input readOnly value={created.accept_url} aria-label={t('team.inviteLink')} onFocus={(e) => e.currentTarget.select()} />
                    <button type="button" onClick={() => void copy(created.accept_url)}>
                      {copied ? t('team.copied') : t('team.copy')}
                    </button>
                    {copyFailed && <small>{t('team.copyByHand')}</small>}
                  </div>
                )}
              </div>
            </section>
            <section className="panel" aria-labelledby="pending-title">
              <h2 id="pending-title" ref={pendingHeading} tabIndex={-1}>
                {t('team.pending')}
              </h2>
              {invitations.length === 0 && <p className="hint">{t('team.noPending')}</p>}
              <ul className="plain">
                {invitations.map((inv) => (
                  <li key={inv.invitation_id} data-testid="invitation">
                    <span>
                      {inv.email} · {roleName(inv.role)}
                    </span>
                    <small className="hint"> {t('team.expires', { date: new Date(inv.expires_at).toLocaleDateString(locale) })}</small>{' '}
                    <button
                      type="button"
                      className="link"
                      aria-label={t('team.revokeWho', { email: inv.email })}
                      onClick={() =>
                        void onRow(inv.invitation_id, async () => {
                          await revokeInvitation(inv.invitation_id);
                          setInvitations((current) => current.filter((i) => i.invitation_id !== inv.invitation_id));
                          pendingHeading.current?.focus();
                          if (created?.invitation_id === inv.invitation_id) setCreated(null);
                        }, t('team.invitationGone'))
                      }
                    >
                      {t('team.revoke')}
                    </button>
                    {rowError?.id === inv.invitation_id && <FormError message={rowError.message} />}
                  </li>
                ))}
              </ul>
              {nextInvitations && (
                <button type="button" onClick={() => void moreInvitations()}>
                  {t('team.moreInvitations')}
                </button>
              )}
            </section>
          </div>
        )}
      </div>
    </div>
  );
}

/** A member's role, changed only when asked: choosing in the list (arrow keys go through
 * every option) changes nothing until the button that says what will happen is pressed. */
function RoleChoice({ member, self, onChange }: { member: Member; self: boolean; onChange: (role: Role) => Promise<void> }) {
  const { t } = useI18n();
  const [choice, setChoice] = useState<Role>(member.role);
  const [busy, setBusy] = useState(false);
  useEffect(() => setChoice(member.role), [member.role]);
  const apply = async () => {
    setBusy(true);
    try {
      await onChange(choice);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="actions">
      <select aria-label={t('team.roleOf', { name: member.full_name })} value={choice} disabled={busy} onChange={(e) => setChoice(e.target.value as Role)}>
        {ROLES.map((role) => (
          <option key={role} value={role}>
            {t(`team.role.${role}` as MessageKey)}
          </option>
        ))}
      </select>
      {choice !== member.role && (
        <button type="button" className="primary" disabled={busy} onClick={() => void apply()}>
          {self ? t(`team.stepDown.${choice}` as MessageKey) : t(`team.make.${choice}` as MessageKey, { name: member.full_name })}
        </button>
      )}
    </div>
  );
}
