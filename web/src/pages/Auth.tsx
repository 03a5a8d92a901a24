import { useState, type FormEvent } from 'react';
import { api, ApiError, request } from '../api/http';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router-dom';
import { INVALID_CODE, TWO_FACTOR_EXPIRED, useAuth } from '../auth/AuthContext';
import { FormError, TextField } from '../components/Field';
import { Flash } from '../components/Flash';
import { said, useSubmit } from '../components/useSubmit';
import { useI18n } from '../i18n';

/** The token a link carries in its fragment; none when it is garbled (a broken %-escape). */
function fragment(): string {
  try {
    return decodeURIComponent(window.location.hash.slice(1));
  } catch {
    return '';
  }
}

function useAfterLogin() {
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? '/pocs';
  return () => navigate(from, { replace: true });
}

/** Log in: the password, then, for an account with two-step verification on, a code. */
export function LoginPage() {
  const { t } = useI18n();
  const { logIn } = useAuth();
  const done = useAfterLogin();
  const { errors, message, busy, run } = useSubmit();
  const [email, setEmail] = useState('');
  const [challenge, setChallenge] = useState<string | null>(null);
  // Why the password is asked again (the code step expired).
  const [again, setAgain] = useState<string | null>(null);
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const typed = String(form.get('email'));
    setEmail(typed);
    setAgain(null);
    void run(async () => {
      const next = await logIn(typed, String(form.get('password')));
      if (next) setChallenge(next.challenge);
      else done();
    });
  };
  return (
    <section className="auth-card" aria-labelledby="login-title">
      <h1 id="login-title">{t(challenge ? 'twoFactor.title' : 'auth.loginTitle')}</h1>
      <Flash />
      {challenge ? (
        <CodeStep
          challenge={challenge}
          onDone={done}
          onBack={(why) => {
            setChallenge(null);
            setAgain(why);
          }}
        />
      ) : (
        <>
          <form onSubmit={onSubmit} noValidate>
            <FormError message={message ?? again} />
            <TextField label={t('auth.email')} name="email" type="email" autoComplete="username" required defaultValue={email} error={errors.email} />
            <TextField
              label={t('auth.password')}
              name="password"
              type="password"
              autoComplete="current-password"
              required
              autoFocus={Boolean(email)}
              error={errors.password}
            />
            <button type="submit" className="primary" disabled={busy}>
              {t('auth.login')}
            </button>
          </form>
          <p>
            <Link to="/password/forgotten">{t('reset.forgot')}</Link>
          </p>
          <p>
            {t('auth.noAccount')} <Link to="/signup">{t('auth.signup')}</Link>
          </p>
        </>
      )}
    </section>
  );
}

/** The second step of a log-in: the code the authenticator app shows, or one of the recovery
 * codes (the same field takes either; the switch only says which, and brings the right
 * keyboard). A wrong code keeps the step; an expired sign-in goes back to the password
 * (`onBack` with what to say, or null when the reader chose to). */
function CodeStep({ challenge, onDone, onBack }: { challenge: string; onDone: () => void; onBack: (why: string | null) => void }) {
  const { t } = useI18n();
  const { logInWithCode } = useAuth();
  const { errors, message, busy, run } = useSubmit();
  const [recovery, setRecovery] = useState(false);
  // The field's error is about what was typed in it: not carried over to the other kind.
  const [erredAs, setErredAs] = useState<boolean | null>(null);
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const code = String(new FormData(event.currentTarget).get('code') ?? '').trim();
    setErredAs(recovery);
    void run(async () => {
      try {
        await logInWithCode(challenge, code);
      } catch (e) {
        const detail = e instanceof ApiError ? e.problem.detail : undefined;
        if (e instanceof ApiError && e.problem.type === TWO_FACTOR_EXPIRED) return onBack(detail || t('twoFactor.expired'));
        throw said(e, { [INVALID_CODE]: ['code', detail || t('twoFactor.wrongCode')] });
      }
      onDone();
    });
  };
  return (
    <>
      <form onSubmit={onSubmit} noValidate>
        <p>{t(recovery ? 'twoFactor.askRecovery' : 'twoFactor.askCode')}</p>
        <FormError message={message} />
        <TextField
          key={recovery ? 'recovery' : 'app'}
          label={t(recovery ? 'twoFactor.recoveryCode' : 'twoFactor.code')}
          name="code"
          required
          autoFocus
          autoComplete={recovery ? 'off' : 'one-time-code'}
          inputMode={recovery ? 'text' : 'numeric'}
          autoCapitalize="off"
          spellCheck={false}
          hint={t(recovery ? 'twoFactor.recoveryHint' : 'twoFactor.codeHint')}
          error={erredAs === recovery ? errors.code : undefined}
        />
        <button type="submit" className="primary" disabled={busy}>
          {t('twoFactor.verify')}
        </button>
      </form>
      <p>
        <button type="button" className="link" disabled={busy} onClick={() => setRecovery(!recovery)}>
          {t(recovery ? 'twoFactor.useApp' : 'twoFactor.useRecovery')}
        </button>
      </p>
      <p>
        <button type="button" className="link" disabled={busy} onClick={() => onBack(null)}>
          {t('twoFactor.backToPassword')}
        </button>
      </p>
    </>
  );
}

/** Ask for a link to reset one's password. The answer is the same whether or not an account
 * uses the address, and so is what the page says. */
export function PasswordForgottenPage() {
  const { t } = useI18n();
  const { errors, message, busy, run } = useSubmit();
  const [sentTo, setSentTo] = useState<string | null>(null);
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const email = String(new FormData(event.currentTarget).get('email') ?? '').trim();
    void run(async () => {
      await request('/api/identity/password/forgotten', { method: 'POST', body: { email }, anonymous: true }); // (202, no body)
      setSentTo(email);
    });
  };
  return (
    <section className="auth-card" aria-labelledby="forgot-title">
      <h1 id="forgot-title">{t('reset.forgotTitle')}</h1>
      {sentTo ? (
        <p className="flash" role="status">
          {t('reset.sent', { email: sentTo })}
        </p>
      ) : (
        <form onSubmit={onSubmit} noValidate>
          <p className="hint">{t('reset.forgotHelp')}</p>
          <FormError message={message} />
          <TextField label={t('auth.email')} name="email" type="email" autoComplete="username" required error={errors.email} />
          <button type="submit" className="primary" disabled={busy}>
            {t('reset.send')}
          </button>
        </form>
      )}
      <p>
        <Link to="/login">{t('reset.backToLogin')}</Link>
      </p>
    </section>
  );
}

/** Choose a new password with the link's token (in the fragment, as invitations carry it). */
export function PasswordResetPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  // (a failed link stays in the history, but it is spent or wrong by then; a reset replaces it)
  const token = fragment();
  const { errors, message, busy, run } = useSubmit();
  if (!token) return <FormError message={t('reset.invalid')} />;
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const next = String(new FormData(event.currentTarget).get('new_password') ?? '');
    void run(async () => {
      try {
        await api<void>('/api/identity/password/reset', { method: 'POST', body: { token, new_password: next }, anonymous: true });
      } catch (e) {
        throw said(e, { 404: ['_', t('reset.invalid')] });
      }
      navigate('/login', { replace: true, state: { flash: 'reset.done' } });
    });
  };
  return (
    <section className="auth-card" aria-labelledby="reset-title">
      <h1 id="reset-title">{t('reset.title')}</h1>
      <form onSubmit={onSubmit} noValidate>
        <FormError message={message} />
        <TextField
          label={t('account.newPassword')}
          name="new_password"
          type="password"
          required
          autoComplete="new-password"
          hint={t('auth.passwordHint')}
          error={errors.new_password}
        />
        <button type="submit" className="primary" disabled={busy}>
          {t('reset.submit')}
        </button>
      </form>
      <p>
        <Link to="/password/forgotten">{t('reset.again')}</Link>
      </p>
    </section>
  );
}

export function SignupPage() {
  const { t } = useI18n();
  const { signUp } = useAuth();
  const done = useAfterLogin();
  const { errors, message, busy, run } = useSubmit();
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    void run(async () => {
      await signUp({
        organization: String(form.get('organization')),
        full_name: String(form.get('full_name')),
        email: String(form.get('email')),
        password: String(form.get('password')),
      });
      done();
    });
  };
  return (
    <section className="auth-card" aria-labelledby="signup-title">
      <h1 id="signup-title">{t('auth.signupTitle')}</h1>
      <form onSubmit={onSubmit} noValidate>
        <FormError message={message} />
        <TextField label={t('auth.organization')} name="organization" required autoComplete="organization" error={errors.organization} />
        <TextField label={t('auth.fullName')} name="full_name" required autoComplete="name" error={errors.full_name} />
        <TextField label={t('auth.email')} name="email" type="email" required autoComplete="email" error={errors.email} />
        <TextField
          label={t('auth.password')}
          name="password"
          type="password"
          required
          autoComplete="new-password"
          hint={t('auth.passwordHint')}
          error={errors.password}
        />
        <button type="submit" className="primary" disabled={busy}>
          {t('auth.signup')}
        </button>
      </form>
      <p>
        {t('auth.haveAccount')} <Link to="/login">{t('auth.login')}</Link>
      </p>
    </section>
  );
}

export function AcceptInvitationPage() {
  const { t } = useI18n();
  const { acceptInvitation } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  // Identity's invitation links carry the token in the fragment (/invite#<token>), which the
  // browser never sends to a server or puts in a Referer.
  const token = fragment() || params.get('token');
  const { errors, message, busy, run } = useSubmit();
  if (!token) return <FormError message={t('auth.inviteMissing')} />;
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    void run(async () => {
      await acceptInvitation({ token, full_name: String(form.get('full_name')), password: String(form.get('password')) });
      navigate('/pocs', { replace: true });
    });
  };
  return (
    <section className="auth-card" aria-labelledby="invite-title">
      <h1 id="invite-title">{t('auth.inviteTitle')}</h1>
      <form onSubmit={onSubmit} noValidate>
        <FormError message={message} />
        <TextField label={t('auth.fullName')} name="full_name" required autoComplete="name" error={errors.full_name} />
        <TextField
          label={t('auth.password')}
          name="password"
          type="password"
          required
          autoComplete="new-password"
          hint={t('auth.passwordHint')}
          error={errors.password}
        />
        <button type="submit" className="primary" disabled={busy}>
          {t('auth.inviteAccept')}
        </button>
      </form>
    </section>
  );
}
