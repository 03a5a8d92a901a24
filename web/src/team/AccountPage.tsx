import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { saveBlob } from '../api/download';
import { ApiError } from '../api/http';
import { INVALID_CODE, useAuth } from '../auth/AuthContext';
import { FormError, TextField } from '../components/Field';
import { said, useSubmit } from '../components/useSubmit';
import { useI18n, type MessageKey } from '../i18n';
import { changePassword, CODE_REQUIRED, DEACTIVATED, deleteAccount, deleteOrganization, exportMyData, NAME_MISMATCH, NOT_AN_OWNER } from './api';
import { CodeField, TwoFactorPanel } from './TwoFactor';

/** Your account: who you are, your password, your data (LGPD: export and erasure). */
export function AccountPage() {
  const { t } = useI18n();
  const { me, adopt, logOut, reloadMe } = useAuth();
  const navigate = useNavigate();
  const password = useSubmit();
  const erase = useSubmit();
  const eraseAll = useSubmit();
  const [changed, setChanged] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);
  if (!me) return <p>{t('common.loading')}</p>;
  const twoFactor = me.user.two_factor;

  /** With two-step verification on, the forms below take a code from the app as well. */
  const codeOf = (data: FormData) => (twoFactor ? String(data.get('code') ?? '').trim() : undefined);
  /** The answers about that code; one asked for while this page shows it off (turned on in
   * another tab) reads the account again, so that the field appears. */
  const codeProblems = (e: unknown): Partial<Record<string, [string, string]>> => {
    if (e instanceof ApiError && e.problem.type === CODE_REQUIRED && !twoFactor) void reloadMe().catch(() => undefined);
    return {
      [CODE_REQUIRED]: [twoFactor ? 'code' : '_', t('twoFactor.codeRequired')],
      [INVALID_CODE]: ['code', t('twoFactor.wrongCode')],
    };
  };

  const onPassword = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const next = String(data.get('new_password') ?? '');
    setChanged(false);
    void password.run(async () => {
      try {
        // Every session of ours ends with the old password; this browser carries on with the
        // new session the answer brings.
        await adopt(await changePassword(String(data.get('current_password') ?? ''), next, codeOf(data)));
      } catch (e) {
        throw said(e, {
          [DEACTIVATED]: ['_', t('account.deactivated')],
          ...codeProblems(e),
          403: ['current_password', t('account.wrongPassword')],
        });
      }
      form.reset();
      setChanged(true);
    });
  };

  const onExport = async () => {
    setExportError(null);
    try {
      const { blob, filename } = await exportMyData();
      saveBlob(blob, filename);
    } catch (e) {
      setExportError(e instanceof Error ? e.message : t('common.error'));
    }
  };

  const onDelete = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    void erase.run(async () => {
      try {
        await deleteAccount(String(data.get('password') ?? ''), codeOf(data));
      } catch (e) {
        throw said(e, {
          [DEACTIVATED]: ['_', t('account.deactivated')],
          ...codeProblems(e),
          403: ['password', t('account.wrongPassword')],
          409: ['_', t('account.handOver')],
        });
      }
      await logOut().catch(() => undefined); // the account is gone: its session with it
      navigate('/login', { replace: true, state: { flash: 'account.deleted' } });
    });
  };

  const onDeleteOrganization = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    void eraseAll.run(async () => {
      try {
        await deleteOrganization(String(data.get('password') ?? ''), String(data.get('organization') ?? ''), codeOf(data));
      } catch (e) {
        throw said(e, {
          [DEACTIVATED]: ['_', t('account.deactivated')],
          ...codeProblems(e),
          [NOT_AN_OWNER]: ['_', t('team.notAllowed')],
          [NAME_MISMATCH]: ['organization', t('org.nameMismatch')],
          403: ['password', t('account.wrongPassword')],
        });
      }
      await logOut().catch(() => undefined); // every account is gone: this session with them
      navigate('/login', { replace: true, state: { flash: 'org.deleted' } });
    });
  };

  return (
    <div className="account">
      <h1>{t('account.title')}</h1>
      <dl className="facts">
        <dt>{t('auth.fullName')}</dt>
        <dd>{me.user.full_name}</dd>
        <dt>{t('auth.email')}</dt>
        <dd>{me.user.email}</dd>
        <dt>{t('auth.organization')}</dt>
        <dd>{me.tenant.name}</dd>
        <dt>{t('team.roleLabel')}</dt>
        <dd>{t(`team.role.${me.user.role}` as MessageKey)}</dd>
      </dl>

      <section className="panel" aria-labelledby="password-title">
        <h2 id="password-title">{t('account.password')}</h2>
        <form onSubmit={onPassword} noValidate>
          <FormError message={password.message} />
          <TextField
            label={t('account.currentPassword')}
            name="current_password"
            type="password"
            required
            autoComplete="current-password"
            error={password.errors.current_password}
          />
          <TextField
            label={t('account.newPassword')}
            name="new_password"
            type="password"
            required
            minLength={10}
            autoComplete="new-password"
            hint={t('auth.passwordHint')}
            error={password.errors.new_password}
          />
          {twoFactor && <CodeField error={password.errors.code} />}
          <button type="submit" className="primary" disabled={password.busy}>
            {t('account.changePassword')}
          </button>
        </form>
        <div aria-live="polite">{changed && <p className="flash">{t('account.passwordChanged')}</p>}</div>
      </section>

      <TwoFactorPanel />

      <section className="panel" aria-labelledby="data-title">
        <h2 id="data-title">{t('account.data')}</h2>
        <p className="hint">{t('account.exportHelp')}</p>
        <FormError message={exportError} />
        <button type="button" onClick={() => void onExport()}>
          {t('account.export')}
        </button>
      </section>

      <section className="panel danger-zone" aria-labelledby="delete-title">
        <h2 id="delete-title">{t('account.delete')}</h2>
        <p>{t('account.deleteHelp')}</p>
        {me.user.role === 'owner' && <p className="warning">{t('account.deleteOwner', { name: me.tenant.name })}</p>}
        <form onSubmit={onDelete} noValidate>
          <FormError message={erase.message} />
          <TextField label={t('account.confirmPassword')} name="password" type="password" required autoComplete="current-password" error={erase.errors.password} />
          {twoFactor && <CodeField error={erase.errors.code} />}
          <button type="submit" className="danger" disabled={erase.busy}>
            {t('account.deleteButton')}
          </button>
        </form>
      </section>

      {me.user.role === 'owner' && (
        <section className="panel danger-zone" aria-labelledby="delete-org-title">
          <h2 id="delete-org-title">{t('org.delete')}</h2>
          <p>{t('org.deleteHelp', { name: me.tenant.name })}</p>
          <form onSubmit={onDeleteOrganization} noValidate>
            <FormError message={eraseAll.message} />
            <TextField
              label={t('org.confirmName', { name: me.tenant.name })}
              name="organization"
              required
              autoComplete="off"
              autoCapitalize="off"
              spellCheck={false}
              error={eraseAll.errors.organization}
            />
            <TextField label={t('account.confirmPassword')} name="password" type="password" required autoComplete="current-password" error={eraseAll.errors.password} />
            {twoFactor && <CodeField error={eraseAll.errors.code} />}
            <button type="submit" className="danger" disabled={eraseAll.busy}>
              {t('org.deleteButton')}
            </button>
          </form>
        </section>
      )}
    </div>
  );
}
