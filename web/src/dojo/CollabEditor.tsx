import { Compartment, EditorSelection, EditorState, type StateEffect } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { useEffect, useRef } from 'react';
import { yCollab } from 'y-codemirror.next';
import { readAuthMessage } from 'y-protocols/auth';
import { messageAuth, WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { ApiError } from '../api/http';
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
type Session = {
  doc: Y.Doc;
  ws: WebsocketProvider;
  view: EditorView | null;
  edited: boolean; // it has made a change of its own (the server only refuses those)
  retiring: boolean; // being replaced: disconnected, its events no longer shown
};

/** Where the reader was in the editor, to keep it when the editor is built again. */
type Place = { scroll: StateEffect<unknown>; anchor: Y.RelativePosition; head: Y.RelativePosition; at: number; focused: boolean };

/** How long a fresh session may take to sync before it is given up and tried again. */
const SYNC_WITHIN_MS = 15_000;
const RETRY_AFTER_MS = 5_000;
/** The longest wait between two asks for a ticket after a refusal, the service being away. */
const REENTRY_AT_MOST_MS = 60_000;

/** The service answered, and said no (not a failure that passes: 5xx, 429, no connection). */
function refusal(e: unknown): boolean {
  return e instanceof ApiError && e.status < 500 && e.status !== 429;
}

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
 * the room's document: the old connection stops at once, a new one with a new document is
 * swapped in when synced, the scroll position and cursor kept. Nothing the room accepted is
 * lost, and the refused edits do not come back for everyone when the keyboard does.
 */
export function CollabEditor({ room, ticket, readOnly, language, user, label, onStatus, renewTicket, onMeta, onChat }: Props) {
  const parent = useRef<HTMLDivElement>(null);
  const session = useRef<Session | null>(null);
  const fresh = useRef<Session | null>(null); // being synced, to replace the current session
  const readOnlyCompartment = useRef(new Compartment());
  const latest = useRef({ onStatus, renewTicket, onMeta, onChat, ticket, readOnly, label });
  latest.current = { onStatus, renewTicket, onMeta, onChat, ticket, readOnly, label };
  /** The server refused an edit of ours that our document still holds. */
  const denied = useRef(false);
  const startAgain = useRef<() => void>(() => undefined);

  useEffect(() => {
    let alive = true;
    let retry: ReturnType<typeof setTimeout> | undefined; // a fresh session, again
    let syncing: ReturnType<typeof setTimeout> | undefined; // the fresh session's deadline
    let reentry: ReturnType<typeof setTimeout> | undefined; // a ticket again, after a refusal
    denied.current = false;
    const { color, light } = userColor(user.id);
    const countPeers = (ws: WebsocketProvider) => {
      const states = [...ws.awareness.getStates().values()];
      parent.current?.setAttribute('data-peers', String(states.length));
      parent.current?.setAttribute('data-cursors', String(states.filter((st) => st.cursor).length));
    };

    const connect = (): Session => {
      const doc = new Y.Doc();
      const ws = new WebsocketProvider(collabBaseUrl(), room, doc, {
        params: { ticket: latest.current.ticket },
        disableBc: true,
      });
      const s: Session = { doc, ws, view: null, edited: false, retiring: false };
      const shown = () => alive && session.current === s && !s.retiring;
      doc.on('update', (_update: Uint8Array, origin: unknown) => {
        if (origin !== ws) s.edited = true;
      });
      ws.messageHandlers[messageAuth] = (_encoder, decoder) =>
        readAuthMessage(decoder, doc, (_doc, reason) => {
          if (!shown() || !s.edited || !reason.startsWith('read-only')) return;
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
      ws.awareness.on('change', () => shown() && countPeers(ws));
      ws.on('closed', ({ code }) => {
        if (code === 4401) {
          // The ticket expired: get a new one and reconnect.
          if (shown()) latest.current.onStatus('connecting');
          latest.current.renewTicket().then(
            (ticket) => {
              if (!alive || s.retiring || (session.current !== s && fresh.current !== s)) return;
              ws.params = { ticket };
              ws.connect();
            },
            () => {
              if (shown()) latest.current.onStatus('disconnected');
              else if (fresh.current === s) giveUp(s, 'disconnected');
            },
          );
        } else if (shown() && code === 4403) {
          // Refused (we left, were removed or our invite was revoked). Access may come back (a
          // participant who left joins again, from another tab say): ask the dojo service for a
          // ticket again a little later; it refuses one to whoever is no longer in the dojo.
          // A ticket the service could not give (it is down, we are offline) is asked for
          // again, less and less often; one it refuses is the end (the page says why).
          latest.current.onStatus('forbidden');
          clearTimeout(reentry);
          const ask = (wait: number) => {
            reentry = setTimeout(() => {
              if (!shown()) return;
              latest.current.renewTicket().then(
                (ticket) => {
                  if (!shown()) return;
                  ws.params = { ticket };
                  ws.connect();
                },
                (e: unknown) => {
                  if (!refusal(e)) ask(Math.min(wait * 2, REENTRY_AT_MOST_MS));
                },
              );
            }, wait);
          };
          ask(RETRY_AFTER_MS);
        } else if (shown()) latest.current.onStatus('disconnected');
        else if (fresh.current === s) giveUp(s, code === 4403 ? 'forbidden' : 'disconnected');
      });
      return s;
    };

    const show = (s: Session, place?: Place) => {
      const ytext = s.doc.getText('code');
      const length = ytext.length;
      const offset = (rel: Y.RelativePosition) =>
        Math.min(Y.createAbsolutePositionFromRelativePosition(rel, s.doc)?.index ?? place!.at, length);
      const state = EditorState.create({
        doc: ytext.toString(),
        selection: place && EditorSelection.single(offset(place.anchor), offset(place.head)),
        extensions: [
          basicSetup,
          languageExtension(language),
          readOnlyCompartment.current.of(EditorState.readOnly.of(latest.current.readOnly)),
          EditorView.contentAttributes.of({ 'aria-label': latest.current.label }),
          yCollab(ytext, s.ws.awareness, { undoManager: new Y.UndoManager(ytext) }),
        ],
      });
      s.view = new EditorView({ state, parent: parent.current!, scrollTo: place?.scroll });
      s.view.contentDOM.setAttribute('aria-readonly', String(latest.current.readOnly));
      if (place?.focused) s.view.focus();
    };

    const close = (s: Session) => {
      s.view?.destroy();
      s.view = null;
      s.ws.destroy();
      s.doc.destroy();
    };

    /** A fresh session that will not sync (refused, or too slow): try again later. */
    const giveUp = (s: Session, status: ConnectionStatus) => {
      if (fresh.current !== s) return;
      fresh.current = null;
      clearTimeout(syncing);
      close(s);
      denied.current = true;
      latest.current.onStatus(status);
      // The session it was to replace is disconnected already: try again, whatever the role.
      if (status !== 'forbidden') retry = setTimeout(() => alive && startAgain.current(), RETRY_AFTER_MS);
    };

    startAgain.current = () => {
      const old = session.current;
      if (!alive || fresh.current || !old) return;
      clearTimeout(retry);
      denied.current = false;
      // The old connection stops at once: if the keyboard came back meanwhile, the server
      // would ask it for what the room lacks, and it would answer with the refused edits.
      old.retiring = true;
      old.ws.disconnect();
      old.view?.dispatch({ effects: readOnlyCompartment.current.reconfigure(EditorState.readOnly.of(true)) });
      old.view?.contentDOM.setAttribute('aria-readonly', 'true');
      latest.current.onStatus('connecting');
      const next = connect();
      fresh.current = next;
      // A large document on a slow link may take long: wait while the socket is open.
      const deadline = () => {
        if (next.ws.wsconnected) syncing = setTimeout(deadline, SYNC_WITHIN_MS);
        else giveUp(next, 'disconnected');
      };
      syncing = setTimeout(deadline, SYNC_WITHIN_MS);
      const swap = () => {
        clearTimeout(syncing);
        if (!alive || fresh.current !== next) return;
        fresh.current = null;
        const current = session.current!;
        const view = current.view;
        const ytext = current.doc.getText('code');
        const place = view && {
          scroll: view.scrollSnapshot(),
          anchor: Y.createRelativePositionFromTypeIndex(ytext, view.state.selection.main.anchor),
          head: Y.createRelativePositionFromTypeIndex(ytext, view.state.selection.main.head),
          at: view.state.selection.main.head,
          focused: view.hasFocus,
        };
        session.current = next;
        close(current);
        show(next, place ?? undefined);
        countPeers(next.ws);
        parent.current?.setAttribute('data-restarts', String(Number(parent.current.dataset.restarts ?? 0) + 1));
        latest.current.onStatus(next.ws.wsconnected ? 'connected' : 'connecting');
      };
      if (next.ws.synced) swap();
      else next.ws.once('sync', swap);
    };

    session.current = connect();
    show(session.current);
    return () => {
      alive = false;
      clearTimeout(retry);
      clearTimeout(syncing);
      clearTimeout(reentry);
      if (fresh.current) close(fresh.current);
      fresh.current = null;
      if (session.current) close(session.current);
      session.current = null;
      startAgain.current = () => undefined;
    };
    // The room, language and user define the session; the ticket and role change live.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [room, language, user.id, user.name]);

  useEffect(() => {
    const current = session.current;
    const view = current && !current.retiring ? current.view : null;
    view?.dispatch({ effects: readOnlyCompartment.current.reconfigure(EditorState.readOnly.of(readOnly)) });
    view?.contentDOM.setAttribute('aria-readonly', String(readOnly));
    if (!readOnly) denied.current = false; // the server asks for what it refused, and takes it
    else if (denied.current) startAgain.current();
  }, [readOnly]);

  useEffect(() => {
    // A new ticket (new role, or an extension) replaces the old one on the live connection,
    // and on one being synced to replace it.
    for (const s of [session.current, fresh.current]) {
      if (!s || s.retiring) continue;
      s.ws.params = { ticket };
      if (s.ws.ws && s.ws.ws.readyState === WebSocket.OPEN) s.ws.ws.send(ticket);
    }
    // No live connection (a new one was refused, say 4403): a new ticket may be let in.
    if (session.current?.retiring && !fresh.current) startAgain.current();
  }, [ticket]);

  return <div ref={parent} className={`editor ${readOnly ? 'read-only' : ''}`} data-testid="editor" />;
}
