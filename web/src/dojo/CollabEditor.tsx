import { Compartment, EditorSelection, EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { useEffect, useRef } from 'react';
import { yCollab } from 'y-codemirror.next';
import { readAuthMessage } from 'y-protocols/auth';
import { messageAuth, WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { languageExtension, userColor } from './languages';

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'forbidden';

type Props = {
  room: string; // <tenant>:<name>
  ticket: string;
  readOnly: boolean;
  language: string;
  user: { id: string; name: string };
  label: string;
  onStatus: (status: ConnectionStatus) => void;
  /** A fresh ticket when the server says ours expired (4401). */
  renewTicket: () => Promise<string>;
  /** The dojo service changed the room's "dojo" map (driver, timer, status). */
  onMeta?: () => void;
  /** The room's "chat" array changed (a message was posted or deleted). */
  onChat?: () => void;
};

/** One connection to the room: its document, its provider and (once shown) its editor. */
type Session = { doc: Y.Doc; ws: WebsocketProvider; view: EditorView | null };

/** Where the reader was in the editor, to keep it when the editor is built again. */
type Place = { scrollTop: number; anchor: number; head: number; focused: boolean };

/** Where the collab engine is: same origin, `/collab/<room>` (nginx spreads rooms over nodes). */
export function collabBaseUrl(location: Location = window.location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/collab`;
}

/**
 * The shared editor: CodeMirror 6 bound to the room's Y.Text "code" through y-websocket, with
 * everyone's cursor and selection (awareness) in their colour and name. Read-only is shown and
 * enforced locally; the collab server enforces it too (the ticket's role).
 *
 * A driver still typing as the turn passes may send edits the server refuses (it heard of the
 * new role first). Those stay in our document, and Yjs cannot take a deletion back, so the
 * server tells us ("permission denied") and, once our editor is read-only, we start again from
 * the room's document: a new connection and document, swapped in when synced, the scroll
 * position and cursor kept. Nothing the room accepted is lost, and the refused edits do not
 * come back for everyone when the keyboard does.
 */
export function CollabEditor({ room, ticket, readOnly, language, user, label, onStatus, renewTicket, onMeta, onChat }: Props) {
  const parent = useRef<HTMLDivElement>(null);
  const session = useRef<Session | null>(null);
  const readOnlyCompartment = useRef(new Compartment());
  const latest = useRef({ onStatus, renewTicket, onMeta, onChat, ticket, readOnly, label });
  latest.current = { onStatus, renewTicket, onMeta, onChat, ticket, readOnly, label };
  /** The server refused an edit of ours that our document still holds. */
  const denied = useRef(false);
  const startAgain = useRef<() => void>(() => undefined);

  useEffect(() => {
    let alive = true;
    let next: Session | null = null; // being synced, to replace the current session
    const { color, light } = userColor(user.id);

    const connect = (): Session => {
      const doc = new Y.Doc();
      const ws = new WebsocketProvider(collabBaseUrl(), room, doc, {
        params: { ticket: latest.current.ticket },
        disableBc: true,
      });
      const s: Session = { doc, ws, view: null };
      const shown = () => alive && session.current === s;
      ws.messageHandlers[messageAuth] = (_encoder, decoder) =>
        readAuthMessage(decoder, doc, () => {
          if (!shown()) return;
          denied.current = true;
          if (latest.current.readOnly) startAgain.current();
        });
      // Only signals: what they carry is re-read from the dojo API, the record (a client with
      // write access could write into these shared types too).
      doc.getMap('dojo').observe(() => shown() && latest.current.onMeta?.());
      doc.getArray('chat').observe(() => shown() && latest.current.onChat?.());
      ws.awareness.setLocalStateField('user', { name: user.name, color, colorLight: light, id: user.id });
      ws.on('status', ({ status }) => shown() && latest.current.onStatus(status));
      // How many people (with a cursor) are here: shown to tests and assistive tech.
      ws.awareness.on('change', () => {
        if (!shown()) return;
        const states = [...ws.awareness.getStates().values()];
        parent.current?.setAttribute('data-peers', String(states.length));
        parent.current?.setAttribute('data-cursors', String(states.filter((st) => st.cursor).length));
      });
      ws.on('closed', ({ code }) => {
        if (code === 4401) {
          // The ticket expired: get a new one and reconnect.
          if (shown()) latest.current.onStatus('connecting');
          void latest.current.renewTicket().then((fresh) => {
            if (!alive || (session.current !== s && next !== s)) return;
            ws.params = { ticket: fresh };
            ws.connect();
          });
        } else if (shown()) latest.current.onStatus(code === 4403 ? 'forbidden' : 'disconnected');
      });
      return s;
    };

    const show = (s: Session, place?: Place) => {
      const ytext = s.doc.getText('code');
      const length = ytext.length;
      const state = EditorState.create({
        doc: ytext.toString(),
        selection: place && EditorSelection.single(Math.min(place.anchor, length), Math.min(place.head, length)),
        extensions: [
          basicSetup,
          languageExtension(language),
          readOnlyCompartment.current.of(EditorState.readOnly.of(latest.current.readOnly)),
          EditorView.contentAttributes.of({ 'aria-label': latest.current.label }),
          yCollab(ytext, s.ws.awareness, { undoManager: new Y.UndoManager(ytext) }),
        ],
      });
      s.view = new EditorView({ state, parent: parent.current! });
      s.view.contentDOM.setAttribute('aria-readonly', String(latest.current.readOnly));
      if (place) {
        s.view.scrollDOM.scrollTop = place.scrollTop;
        if (place.focused) s.view.focus();
      }
    };

    const close = (s: Session) => {
      s.view?.destroy();
      s.view = null;
      s.ws.destroy();
      s.doc.destroy();
    };

    startAgain.current = () => {
      if (!alive || next) return;
      denied.current = false;
      const fresh = connect();
      next = fresh;
      const swap = () => {
        if (!alive || next !== fresh) return;
        next = null;
        const old = session.current!;
        const view = old.view;
        const place = view && {
          scrollTop: view.scrollDOM.scrollTop,
          anchor: view.state.selection.main.anchor,
          head: view.state.selection.main.head,
          focused: view.hasFocus,
        };
        session.current = fresh;
        close(old);
        show(fresh, place ?? undefined);
        parent.current?.setAttribute('data-restarts', String(Number(parent.current.dataset.restarts ?? 0) + 1));
        latest.current.onStatus(fresh.ws.wsconnected ? 'connected' : 'connecting');
      };
      if (fresh.ws.synced) swap();
      else fresh.ws.once('sync', swap);
    };

    session.current = connect();
    show(session.current);
    return () => {
      alive = false;
      if (next) close(next);
      next = null;
      if (session.current) close(session.current);
      session.current = null;
      startAgain.current = () => undefined;
    };
    // The room, language and user define the session; the ticket and role change live.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [room, language, user.id, user.name]);

  useEffect(() => {
    const view = session.current?.view;
    view?.dispatch({ effects: readOnlyCompartment.current.reconfigure(EditorState.readOnly.of(readOnly)) });
    view?.contentDOM.setAttribute('aria-readonly', String(readOnly));
    if (readOnly && denied.current) startAgain.current();
  }, [readOnly]);

  useEffect(() => {
    const ws = session.current?.ws;
    if (!ws) return;
    // A new ticket (new role, or an extension) replaces the old one on the live connection.
    ws.params = { ticket };
    if (ws.ws && ws.ws.readyState === WebSocket.OPEN) ws.ws.send(ticket);
  }, [ticket]);

  return <div ref={parent} className={`editor ${readOnly ? 'read-only' : ''}`} data-testid="editor" />;
}
