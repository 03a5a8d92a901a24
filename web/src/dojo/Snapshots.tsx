import { MergeView } from '@codemirror/merge';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { useEffect, useRef, useState } from 'react';
import { useI18n } from '../i18n';
import { listSnapshots, type Snapshot } from './api';
import { languageExtension } from './languages';

/** The snapshot timeline: a replay slider over the snapshots and a diff against the one before. */
export function Snapshots({ dojoId, language, refreshKey }: { dojoId: string; language: string; refreshKey: unknown }) {
  const { t, locale } = useI18n();
  const [items, setItems] = useState<Snapshot[]>([]);
  const [index, setIndex] = useState(0);
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    listSnapshots(dojoId).then(
      ({ items: next }) => {
        setItems(next);
        setIndex(Math.max(0, next.length - 1));
      },
      () => undefined,
    );
  }, [dojoId, refreshKey]);

  const current = items[index];
  const previous = index > 0 ? items[index - 1] : undefined;
  useEffect(() => {
    if (!host.current || !current) return;
    const extensions = [basicSetup, languageExtension(language), EditorState.readOnly.of(true), EditorView.editable.of(false)];
    const merge = new MergeView({
      a: { doc: previous?.text ?? '', extensions },
      b: { doc: current.text, extensions },
      parent: host.current,
    });
    return () => merge.destroy();
  }, [current, previous, language]);

  return (
    <section className="panel snapshots" aria-labelledby="snapshots-title">
      <h2 id="snapshots-title">{t('room.snapshots')}</h2>
      {items.length === 0 ? (
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
            aria-valuetext={t('room.snapshotOf', { n: index + 1, total: items.length, time: '' })}
          />
          <p aria-live="polite">
            {t('room.snapshotOf', {
              n: index + 1,
              total: items.length,
              time: new Date(current.created_at).toLocaleTimeString(locale),
            })}
            {current.driver_name ? ` · ${current.driver_name}` : ''}
          </p>
          <h3>{t('room.diff')}</h3>
          <div ref={host} className="diff" data-testid="snapshot-diff" />
        </>
      )}
    </section>
  );
}
