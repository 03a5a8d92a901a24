import { type FormEvent } from 'react';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext';
import { FormError, TextField } from '../components/Field';
import { Flash } from '../components/Flash';
import { useSubmit } from '../components/useSubmit';
import { useI18n } from '../i18n';

function useAfterLogin() {
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? '/pocs';
  return () => navigate(from, { replace: true });
}

export function LoginPage() {
  const { t } = useI18n();
  const { logIn } = useAuth();
  const done = useAfterLogin();
  const { errors, message, busy, run } = useSubmit();
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    void run(async () => {
      await logIn(String(form.get('email')), String(form.get('password')));
      done();
    });
  };
  return (
    <section className="auth-card" aria-labelledby="login-title">
      <h1 id="login-title">{t('auth.loginTitle')}</h1>
      <Flash />
      <form onSubmit={onSubmit} noValidate>
        <FormError message={message} />
        <TextField label={t('auth.email')} name="email" type="email" autoComplete="username" required error={errors.email} />
        <TextField label={t('auth.password')} name="password" type="password" autoComplete="current-password" required error={errors.password} />
        <button type="submit" className="primary" disabled={busy}>
          {t('auth.login')}
        </button>
      </form>
      <p>
        {t('auth.noAccount')} <Link to="/signup">{t('auth.signup')}</Link>
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
  const token = decodeURIComponent(window.location.hash.slice(1)) || params.get('token');
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
