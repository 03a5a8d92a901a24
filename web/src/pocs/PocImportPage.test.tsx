import { fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { I18nProvider } from '../i18n';
import { PocImportPage } from './PocImportPage';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('PocImportPage', () => {
  it('says, at the file field, that a file is needed when Import is pressed without one', async () => {
    const fetch = vi.fn();
    vi.stubGlobal('fetch', fetch);
    render(
      <I18nProvider initial="pt-BR">
        <MemoryRouter>
          <PocImportPage />
        </MemoryRouter>
      </I18nProvider>,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Importar' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Escolha um arquivo CSV ou JSON com pelo menos uma linha.');
    const input = screen.getByLabelText('Arquivo CSV ou JSON');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(input.getAttribute('aria-describedby')).toBe(alert.id);
    expect(fetch).not.toHaveBeenCalled();
  });
});
