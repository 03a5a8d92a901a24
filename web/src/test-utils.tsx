import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { MemoryRouter, Routes, useLocation } from 'react-router-dom';
import { AuthProvider } from './auth/AuthContext';
import { I18nProvider } from './i18n';

/** Where the router is, and the state it was sent there with, for tests to read
 * (`getByTestId('where')`: "<pathname> <state as JSON>"). */
export function Where() {
  const location = useLocation();
  return <output data-testid="where">{`${location.pathname} ${JSON.stringify(location.state)}`}</output>;
}

/** The app's providers in English around `routes`, opened at `path`, with `Where` beside. */
export function renderApp(path: string, routes: ReactNode) {
  return render(
    <I18nProvider initial="en">
      <AuthProvider>
        <MemoryRouter initialEntries={[path]}>
          <Routes>{routes}</Routes>
          <Where />
        </MemoryRouter>
      </AuthProvider>
    </I18nProvider>,
  );
}

/** A POC as the API returns it, for tests of the POC pages. */
export const samplePoc = {
  poc_id: '7d1c0000-0000-4000-8000-000000000001',
  owner_id: 'u-1',
  name: 'Rate limiter',
  description: null,
  language: 'Go',
  frameworks: [],
  tags: ['redis'],
  repository_url: null,
  status: 'idea',
  visibility: 'tenant',
  started_on: null,
  finished_on: null,
  created_at: '2026-01-01T10:00:00Z',
  updated_at: '2026-01-01T10:00:00Z',
  version: 3,
};
