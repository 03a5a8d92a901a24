import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { useCallback, useEffect, useRef, useState } from 'react';
import { saveBlob } from '../api/download';
import { useI18n, type MessageKey } from '../i18n';
import {
  exportDojo,
  getSnapshot,
  listSnapshots,
  restoreSnapshot,
  snapshotDiff,
  takeSnapshot,
  type Dojo,
  type Participant,
  type Snapshot,
} from './api';
import { languageExtension } from './languages';
import { shownName } from './names';

type Props = {
  dojo: Dojo;
  people: Participant[];
  manager: boolean;
  /** Changes when the dojo changes (a rotation takes a snapshot): read the list again. */
  refreshKey: string;
  onRestored: () => void;
};

/**
 * The snapshot timeline (the dojo service takes one at the start, at every rotation, every
 * few minutes while the code changes, on demand and at the end): a replay slider showing the
 * code of each, the service's unified diff against the one before, restore (facilitator) and
 * the session's export.
 */
export function Snapshots({ dojo, people, manager, refreshKey, onRestored }: Props) {
  const { t, locale } = useI18n();
  const [items, setItems] = useState<Snapshot[]>([]);
  const [index, setIndex] = useState(0);
  const [code, setCode] = useState<string | null>(null);
  const [diff, setDiff] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const host = useRef<HTMLDivElement>(null);
  const count = useRef(0);
  const id = dojo.dojo_id;

  const load = useCallback(
    () =>
      listSnapshots(id).then(({ items: newestFirst }) => {
        const next = [...newestFirst].reverse();
        // A new snapshot: show it (otherwise stay where the slider is).
        if (next.length !== count.current) setIndex(Math.max(0, next.length - 1));
        count.current = next.length;
        setItems(next);
      }),
    [id],
  );

  useEffect(() => {
    void load().catch(() => undefined);
  }, [load, refreshKey]);

  const current = items[index];
  const previous = index > 0 ? items[index - 1] : undefined;
  const currentId = current?.snapshot_id;
  const previousId = previous?.snapshot_id;

  useEffect(() => {
    if (!currentId) return;
    let alive = true;
    setCode(null);
    setDiff(null);
    getSnapshot(id, currentId).then((s) => alive && setCode(s.code), () => undefined);
    if (previousId) snapshotDiff(id, previousId, currentId).then((d) => alive && setDiff(d.diff), () => undefined);
    return () => {
      alive = false;
    };
  }, [id, currentId, previousId]);

  useEffect(() => {
    if (!host.current || code === null) return;
    const view = new EditorView({
      state: EditorState.create({
        doc: code,
        extensions: [
          basicSetup,
          languageExtension(dojo.language),
          EditorState.readOnly.of(true),
          EditorView.editable.of(false),
          EditorView.contentAttributes.of({ 'aria-label': t('room.replayCode') }),
        ],
      }),
      parent: host.current,
    });
    return () => view.destroy();
  }, [code, dojo.language, t]);

  const run = (action: () => Promise<unknown>, done: MessageKey) => () =>
    void action()
      .then(() => {
        setNotice(t(done));
        return load();
      })
      .catch((e: unknown) => setNotice(e instanceof Error ? e.message : String(e)));

  const download = async () => {
    saveBlob(await exportDojo(id), `dojo-${id}.zip`);
  };

  const nameOf = (uid: string | null) => {
    const name = people.find((p) => p.user_id === uid)?.display_name;
    return name === undefined ? undefined : shownName(name, t);
  };
  const live = dojo.status === 'active';

  return (
    <section className="panel snapshots" aria-labelledby="snapshots-title">
      <div className="panel-head">
        <h2 id="snapshots-title">{t('room.snapshots')}</h2>
        <div className="actions">
          {live && (
            <button type="button" onClick={run(() => takeSnapshot(id), 'room.snapshotTaken')}>
              {t('room.takeSnapshot')}
            </button>
          )}
          <button type="button" onClick={() => void download().catch((e: unknown) => setNotice(String(e)))}>
            {t('room.export')}
          </button>
        </div>
      </div>
      {notice && (
        <p className="hint" role="status">
          {notice}
        </p>
      )}
      {!current ? (
        <p className="hint">{t('room.noSnapshots')}</p>
      ) : (
        <>
          <label htmlFor="replay">{t('room.replay')}</label>
          <input
            id="replay"
            type="range"
            min={0}
            max={items.length - 1}
            value={index}
            onChange={(e) => setIndex(Number(e.target.value))}
            aria-valuetext={t('room.snapshotOf', { n: index + 1, total: items.length, time: new Date(current.timestamp).toLocaleTimeString(locale) })}
          />
          <p aria-live="polite" data-testid="snapshot-info">
            {t('room.snapshotOf', { n: index + 1, total: items.length, time: new Date(current.timestamp).toLocaleTimeString(locale) })}
            {' · '}
            {t(`room.reason.${current.reason}` as MessageKey)}
            {nameOf(current.driver_id) ? ` · ${t('room.drivenBy', { name: nameOf(current.driver_id)! })}` : ''}
          </p>
          <div ref={host} className="replay" data-testid="snapshot-code" />
          {manager && live && (
            <button type="button" onClick={run(() => restoreSnapshot(id, current.snapshot_id).then(onRestored), 'room.restored')}>
              {t('room.restore')}
            </button>
          )}
          <h3>{t('room.diff')}</h3>
          <div className="diff" data-testid="snapshot-diff">
            {!previous ? (
              <p className="hint">{t('room.firstSnapshot')}</p>
            ) : diff === null ? (
              <p className="hint">{t('common.loading')}</p>
            ) : diff === '' ? (
              <p className="hint">{t('room.noChanges')}</p>
            ) : (
              <pre>
                {diff.split('\n').map((line, i) => (
                  <span key={i} className={diffClass(line)}>
                    {line}
                    {'\n'}
                  </span>
                ))}
              </pre>
            )}
          </div>
        </>
      )}
    </section>
  );
}

function diffClass(line: string): string {
  if (line.startsWith('+++') || line.startsWith('---')) return 'diff-file';
  if (line.startsWith('@@')) return 'diff-hunk';
  if (line.startsWith('+')) return 'diff-add';
  if (line.startsWith('-')) return 'diff-del';
  return '';
}
