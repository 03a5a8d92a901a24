import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { useI18n } from '../i18n';
import { listMessages, sendMessage, type ChatMessage } from './api';
import { shownName } from './names';

type Props = {
  dojoId: string;
  me: string;
  /** Bumped when the room's "chat" array changes: read the messages again at once. */
  liveKey: number;
  /** Whether the dojo still takes messages (scheduled or running). */
  open: boolean;
};

/**
 * The dojo's chat. The dojo service keeps it (the REST list is the record) and mirrors every
 * new message into the room, which tells us to re-read it; a slow poll covers a missed signal.
 * Messages show the service's `html` (escaped first, then code/bold/italics), never raw text
 * as markup.
 */
export function Chat({ dojoId, me, liveKey, open }: Props) {
  const { t, locale } = useI18n();
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  const list = useRef<HTMLOListElement>(null);

  const load = useCallback(async () => {
    const { items } = await listMessages(dojoId);
    setMessages([...items].reverse());
  }, [dojoId]);

  useEffect(() => {
    void load().catch(() => undefined);
  }, [load, liveKey]);

  useEffect(() => {
    const timer = setInterval(() => void load().catch(() => undefined), 5000);
    return () => clearInterval(timer);
  }, [load]);

  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
  }, [messages]);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    if (!text) return;
    setDraft('');
    setError(null);
    try {
      const message = await sendMessage(dojoId, text);
      setMessages((old) => merge(old, [message]));
    } catch (e) {
      setDraft(text);
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <section className="panel chat" aria-labelledby="chat-title">
      <h2 id="chat-title">{t('room.chat')}</h2>
      <ol ref={list} className="messages" aria-live="polite" data-testid="chat-messages">
        {messages.map((m) => (
          <li key={m.message_id} className={m.user_id === me ? 'mine' : ''}>
            <strong>{shownName(m.display_name, t)}</strong>{' '}
            <time dateTime={m.timestamp}>{new Date(m.timestamp).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' })}</time>
            <p dangerouslySetInnerHTML={{ __html: m.html }} />
          </li>
        ))}
      </ol>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {open && (
        <form onSubmit={(e) => void onSubmit(e)} className="chat-form">
          <label htmlFor="chat-input" className="sr-only">
            {t('room.chatMessage')}
          </label>
          <input id="chat-input" value={draft} maxLength={2000} onChange={(e) => setDraft(e.target.value)} placeholder={t('room.chatMessage')} />
          <button type="submit">{t('room.send')}</button>
        </form>
      )}
    </section>
  );
}

/** Our own new message joins the list at once, once (the next read has it too). */
function merge(old: ChatMessage[], items: ChatMessage[]): ChatMessage[] {
  const fresh = items.filter((m) => !old.some((o) => o.message_id === m.message_id));
  return fresh.length ? [...old, ...fresh] : old;
}
