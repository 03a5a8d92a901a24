import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useI18n } from '../i18n';
import { listChat, sendChat, type ChatMessage } from './api';

/** The dojo's chat: polled once a second (the dojo service keeps it), newest at the bottom. */
export function Chat({ dojoId, me }: { dojoId: string; me: string }) {
  const { t, locale } = useI18n();
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [draft, setDraft] = useState('');
  const last = useRef(0);
  const list = useRef<HTMLOListElement>(null);

  useEffect(() => {
    let alive = true;
    const poll = async () => {
      try {
        const { items } = await listChat(dojoId, last.current);
        if (alive && items.length) {
          last.current = items[items.length - 1].seq;
          setMessages((old) => merge(old, items));
        }
      } catch {
        /* the next poll tries again */
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), 1000);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [dojoId]);

  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
  }, [messages]);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const body = draft.trim();
    if (!body) return;
    setDraft('');
    const message = await sendChat(dojoId, body);
    setMessages((old) => merge(old, [message]));
  };

  return (
    <section className="panel chat" aria-labelledby="chat-title">
      <h2 id="chat-title">{t('room.chat')}</h2>
      <ol ref={list} className="messages" aria-live="polite" data-testid="chat-messages">
        {messages.map((m) => (
          <li key={m.seq} className={m.user_id === me ? 'mine' : ''}>
            <strong>{m.name}</strong>{' '}
            <time dateTime={m.created_at}>{new Date(m.created_at).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' })}</time>
            <p>{m.body}</p>
          </li>
        ))}
      </ol>
      <form onSubmit={(e) => void onSubmit(e)} className="chat-form">
        <label htmlFor="chat-input" className="sr-only">
          {t('room.chatMessage')}
        </label>
        <input id="chat-input" value={draft} maxLength={2000} onChange={(e) => setDraft(e.target.value)} placeholder={t('room.chatMessage')} />
        <button type="submit">{t('room.send')}</button>
      </form>
    </section>
  );
}

/** New messages join the list once each, in the dojo's order (its sequence numbers). */
function merge(old: ChatMessage[], items: ChatMessage[]): ChatMessage[] {
  const fresh = items.filter((m) => !old.some((o) => o.seq === m.seq));
  return fresh.length ? [...old, ...fresh].sort((a, b) => a.seq - b.seq) : old;
}
