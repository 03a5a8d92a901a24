import { describe, expect, it } from 'vitest';
import { detectLocale, LOCALES, translate } from './i18n';

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
});
