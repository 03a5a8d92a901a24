import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from './api/http';
import { detectLocale, I18nProvider, LOCALES, translate, useI18n } from './i18n';

function Switch() {
  const { setLocale } = useI18n();
  return <button onClick={() => setLocale('en')}>en</button>;
}

describe('i18n', () => {
  it('defaults to Portuguese for Brazilian and unknown browsers, English for English ones', () => {
    expect(detectLocale(['pt-BR', 'en'])).toBe('pt-BR');
    expect(detectLocale(['pt'])).toBe('pt-BR');
    expect(detectLocale(['en-US'])).toBe('en');
    expect(detectLocale(['de-DE'])).toBe('pt-BR');
  });
  it('remembers an explicit choice', () => {
    localStorage.setItem('mrbill.locale', 'en');
    expect(detectLocale(['pt-BR'])).toBe('en');
  });
  it('fills parameters', () => {
    expect(translate('en', 'pocs.results', { count: 3 })).toBe('3 POCs');
  });
  it('uses the singular where the language does', () => {
    expect(translate('en', 'pocs.results', { count: 1 })).toBe('1 POC');
    expect(translate('en', 'pocs.results', { count: 0 })).toBe('0 POCs');
    expect(translate('pt-BR', 'dojos.participants', { count: 1 })).toBe('1 participante');
    expect(translate('pt-BR', 'dojos.participants', { count: 2 })).toBe('2 participantes');
    expect(translate('pt-BR', 'dojos.results', { count: 1 })).toBe('1 dojo encontrado');
    expect(translate('en', 'dojos.results', { count: 0 })).toBe('0 dojos found');
    expect(translate('en', 'import.rejected', { count: 1 })).toBe('Nothing was imported: 1 row has errors.');
    expect(translate('pt-BR', 'room.nextDriver', { name: 'Ana' })).toBe('Próximo piloto: Ana');
  });
  it('has every key in both languages', () => {
    expect(Object.keys(LOCALES['pt-BR']).sort()).toEqual(Object.keys(LOCALES.en).sort());
  });
  describe('problems from the services', () => {
    afterEach(() => vi.unstubAllGlobals());
    it('are asked for in the language chosen in the app, not the browser\'s', async () => {
      const fetch = vi.fn(async (_path: string, _init: RequestInit = {}) => new Response('{}', { status: 200 }));
      vi.stubGlobal('fetch', fetch);
      const language = () => (fetch.mock.calls.at(-1)![1]!.headers as Record<string, string>)['accept-language'];
      render(
        <I18nProvider initial="pt-BR">
          <Switch />
        </I18nProvider>,
      );
      await api('/api/pocs/pocs');
      expect(language()).toBe('pt-BR');
      act(() => screen.getByRole('button', { name: 'en' }).click());
      await api('/api/pocs/pocs');
      expect(language()).toBe('en');
      await api('/api/pocs/pocs', { headers: { 'accept-language': 'pt-BR' } });
      expect(language()).toBe('pt-BR'); // a caller may ask for another one
    });
  });
});
