import type { ReactNode } from 'react';
import { BrowserRouter, Navigate, NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { AuthProvider, useAuth } from './auth/AuthContext';
import { ReportsPage } from './content/ReportsPage';
import { AccountPage } from './team/AccountPage';
import { TeamPage } from './team/TeamPage';
import { DojoLobbyPage } from './dojo/DojoLobbyPage';
import { DojoRoomPage } from './dojo/DojoRoomPage';
import { JoinDojoPage } from './dojo/Invites';
import { I18nProvider, LOCALES, useI18n, type Locale } from './i18n';
import { AcceptInvitationPage, LoginPage, PasswordForgottenPage, PasswordResetPage, SignupPage } from './pages/Auth';
import { PocDetailPage } from './pocs/PocDetailPage';
import { PocFormPage } from './pocs/PocFormPage';
import { PocImportPage } from './pocs/PocImportPage';
import { PocListPage } from './pocs/PocListPage';

function RequireAuth({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const { t } = useI18n();
  const location = useLocation();
  if (status === 'loading') return <p>{t('common.loading')}</p>;
  if (status === 'anonymous') return <Navigate to="/login" replace state={{ from: location.pathname + location.search + location.hash }} />;
  return children;
}

function LanguagePicker() {
  const { t, locale, setLocale } = useI18n();
  return (
    <label className="language">
      <span className="sr-only">{t('nav.language')}</span>
      <select value={locale} onChange={(e) => setLocale(e.target.value as Locale)} aria-label={t('nav.language')}>
        {Object.keys(LOCALES).map((l) => (
          <option key={l} value={l}>
            {t(`lang.${l as Locale}`)}
          </option>
        ))}
      </select>
    </label>
  );
}

function Header() {
  const { t } = useI18n();
  const { status, me, logOut } = useAuth();
  return (
    <header className="top">
      <a className="skip" href="#main">
        {t('app.skip')}
      </a>
      <NavLink to="/" className="brand">
        {t('app.name')}
      </NavLink>
      {status === 'authenticated' && (
        <nav aria-label={t('nav.main')}>
          <NavLink to="/pocs">{t('nav.pocs')}</NavLink>
          <NavLink to="/dojos">{t('nav.dojos')}</NavLink>
          <NavLink to="/reports">{t('nav.content')}</NavLink>
          <NavLink to="/team">{t('nav.team')}</NavLink>
        </nav>
      )}
      <div className="spacer" />
      <LanguagePicker />
      {status === 'authenticated' && me && (
        <>
          <NavLink to="/account" className="who" data-testid="who" title={t('nav.account')}>
            {me.user.full_name}
            <span className="tenant"> · {me.tenant.name}</span>
            <span className="sr-only"> ({t('nav.accountOf')})</span>
          </NavLink>
          <button type="button" onClick={() => void logOut()}>
            {t('auth.logout')}
          </button>
        </>
      )}
    </header>
  );
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/signup" element={<SignupPage />} />
      <Route path="/invite" element={<AcceptInvitationPage />} />
      <Route path="/password/forgotten" element={<PasswordForgottenPage />} />
      <Route path="/reset" element={<PasswordResetPage />} />
      <Route path="/pocs" element={<RequireAuth><PocListPage /></RequireAuth>} />
      <Route path="/pocs/new" element={<RequireAuth><PocFormPage /></RequireAuth>} />
      <Route path="/pocs/import" element={<RequireAuth><PocImportPage /></RequireAuth>} />
      <Route path="/pocs/:id" element={<RequireAuth><PocDetailPage /></RequireAuth>} />
      <Route path="/pocs/:id/edit" element={<RequireAuth><PocFormPage /></RequireAuth>} />
      <Route path="/dojos" element={<RequireAuth><DojoLobbyPage /></RequireAuth>} />
      <Route path="/dojos/join" element={<RequireAuth><JoinDojoPage /></RequireAuth>} />
      <Route path="/dojos/:id" element={<RequireAuth><DojoRoomPage /></RequireAuth>} />
      <Route path="/reports" element={<RequireAuth><ReportsPage /></RequireAuth>} />
      <Route path="/team" element={<RequireAuth><TeamPage /></RequireAuth>} />
      <Route path="/account" element={<RequireAuth><AccountPage /></RequireAuth>} />
      <Route path="*" element={<Navigate to="/pocs" replace />} />
    </Routes>
  );
}

export function App() {
  return (
    <I18nProvider>
      <AuthProvider>
        {/* Filters, search text and tabs live in the URL and drive controlled inputs: a navigation
            rendered as a transition would let a ticked box flip back until the transition lands. */}
        <BrowserRouter useTransitions={false}>
          <Header />
          <main id="main" tabIndex={-1}>
            <AppRoutes />
          </main>
        </BrowserRouter>
      </AuthProvider>
    </I18nProvider>
  );
}
