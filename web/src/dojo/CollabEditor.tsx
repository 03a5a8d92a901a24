import { Compartment, EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { useEffect, useRef } from 'react';
import { yCollab } from 'y-codemirror.next';
import { WebsocketProvider } from 'y-websocket';
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

/** Where the collab engine is: same origin, `/collab/<room>` (nginx spreads rooms over nodes). */
export function collabBaseUrl(location: Location = window.location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/collab`;
}

/**
 * The shared editor: CodeMirror 6 bound to the room's Y.Text "code" through y-websocket, with
 * everyone's cursor and selection (awareness) in their colour and name. Read-only is shown and
 * enforced locally; the collab server enforces it too (the ticket's role).
 */
export function CollabEditor({ room, ticket, readOnly, language, user, label, onStatus, renewTicket, onMeta, onChat }: Props) {
  const parent = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const provider = useRef<WebsocketProvider | null>(null);
  const readOnlyCompartment = useRef(new Compartment());
  const callbacks = useRef({ onStatus, renewTicket, onMeta, onChat });
  callbacks.current = { onStatus, renewTicket, onMeta, onChat };

  useEffect(() => {
    const doc = new Y.Doc();
    const ws = new WebsocketProvider(collabBaseUrl(), room, doc, { params: { ticket }, disableBc: true });
    provider.current = ws;
    const ytext = doc.getText('code');
    // Only signals: what they carry is re-read from the dojo API, the record (a client with
    // write access could write into these shared types too).
    doc.getMap('dojo').observe(() => callbacks.current.onMeta?.());
    doc.getArray('chat').observe(() => callbacks.current.onChat?.());
    const { color, light } = userColor(user.id);
    ws.awareness.setLocalStateField('user', { name: user.name, color, colorLight: light, id: user.id });
    ws.on('status', ({ status }) => callbacks.current.onStatus(status));
    // How many people (with a cursor) are here: shown to tests and assistive tech.
    ws.awareness.on('change', () => {
      const states = [...ws.awareness.getStates().values()];
      parent.current?.setAttribute('data-peers', String(states.length));
      parent.current?.setAttribute('data-cursors', String(states.filter((s) => s.cursor).length));
    });
    ws.on('closed', ({ code }) => {
      if (code === 4401) {
        // The ticket expired: get a new one and reconnect.
        callbacks.current.onStatus('connecting');
        void callbacks.current.renewTicket().then((fresh) => {
          ws.params = { ticket: fresh };
          ws.connect();
        });
      } else callbacks.current.onStatus(code === 4403 ? 'forbidden' : 'disconnected');
    });
    const undoManager = new Y.UndoManager(ytext);
    const state = EditorState.create({
      doc: ytext.toString(),
      extensions: [
        basicSetup,
        languageExtension(language),
        readOnlyCompartment.current.of(EditorState.readOnly.of(readOnly)),
        EditorView.contentAttributes.of({ 'aria-label': label }),
        yCollab(ytext, ws.awareness, { undoManager }),
      ],
    });
    view.current = new EditorView({ state, parent: parent.current! });
    return () => {
      view.current?.destroy();
      view.current = null;
      ws.destroy();
      doc.destroy();
      provider.current = null;
    };
    // The room, language and user define the session; the ticket and role change live.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [room, language, user.id, user.name]);

  useEffect(() => {
    view.current?.dispatch({ effects: readOnlyCompartment.current.reconfigure(EditorState.readOnly.of(readOnly)) });
    view.current?.contentDOM.setAttribute('aria-readonly', String(readOnly));
  }, [readOnly]);

  useEffect(() => {
    const ws = provider.current;
    if (!ws) return;
    // A new ticket (new role, or an extension) replaces the old one on the live connection.
    ws.params = { ticket };
    if (ws.ws && ws.ws.readyState === WebSocket.OPEN) ws.ws.send(ticket);
  }, [ticket]);

  return <div ref={parent} className={`editor ${readOnly ? 'read-only' : ''}`} data-testid="editor" />;
}
