import { render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { I18nProvider } from '../i18n';
import { Chat } from './Chat';

const message = (n: number, user_id: string, display_name: string) => ({
  message_id: `m${n}`,
  dojo_id: 'd1',
  user_id,
  display_name,
  text: `say ${n}`,
  html: `say ${n}`,
  timestamp: `2026-01-01T10:0${n}:00Z`,
});

describe('Chat', () => {
  afterEach(() => vi.unstubAllGlobals());

  it("shows an erased member's messages under a name in the reader's language", async () => {
    const items = [message(2, 'u-ana', 'Ana Souza'), message(1, 'u-gone', 'Former member')];
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ items, next_cursor: null }), { headers: { 'content-type': 'application/json' } })),
    );
    render(
      <I18nProvider initial="pt-BR">
        <Chat dojoId="d1" me="u-ana" liveKey={0} open />
      </I18nProvider>,
    );
    const list = await screen.findByTestId('chat-messages');
    expect(await screen.findByText('Ex-membro')).toBeTruthy();
    expect(list.textContent).toContain('Ana Souza');
    expect(list.textContent).not.toContain('Former member');
  });
});
