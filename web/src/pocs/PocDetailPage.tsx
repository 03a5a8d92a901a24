import { useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext';
import { FormError } from '../components/Field';
import { Flash } from '../components/Flash';
import { useI18n, type MessageKey } from '../i18n';
import { deletePoc, getPoc, type Poc } from './api';

export function PocDetailPage() {
  const { t, locale } = useI18n();
  const { me } = useAuth();
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const [poc, setPoc] = useState<Poc | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Deleting asks first (one stray click would lose the POC: the trash has no page here).
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const deleteButton = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    getPoc(id).then(
      (out) => setPoc(out.poc),
      (e: Error) => setError(e.message),
    );
  }, [id]);

  if (error) return <FormError message={error} />;
  if (!poc) return <p>{t('common.loading')}</p>;
  const mine = me?.user.user_id === poc.owner_id;
  const remove = async () => {
    setDeleting(true);
    setDeleteError(null);
    try {
      await deletePoc(poc.poc_id);
      navigate('/pocs', { state: { flash: 'poc.deleted', deleted: poc.poc_id } });
    } catch (e) {
      setDeleteError(e instanceof Error ? e.message : t('common.error'));
      setDeleting(false);
    }
  };
  return (
    <article className="poc-detail" aria-labelledby="poc-title">
      <Flash />
      <div className="page-head">
        <h1 id="poc-title">{poc.name}</h1>
        <div className="actions">
          {mine && (
            <Link className="button" to={`/pocs/${poc.poc_id}/edit`}>
              {t('common.edit')}
            </Link>
          )}
          {mine &&
            (confirming ? (
              <>
                <span>{t('poc.confirmDelete')}</span>
                <button type="button" className="danger" autoFocus disabled={deleting} onClick={() => void remove()}>
                  {t('common.delete')}
                </button>
                <button
                  type="button"
                  disabled={deleting}
                  onClick={() => {
                    setConfirming(false);
                    setDeleteError(null);
                    setTimeout(() => deleteButton.current?.focus());
                  }}
                >
                  {t('common.cancel')}
                </button>
              </>
            ) : (
              <button type="button" className="danger" ref={deleteButton} onClick={() => setConfirming(true)}>
                {t('common.delete')}
              </button>
            ))}
        </div>
      </div>
      <FormError message={deleteError} />
      <dl className="facts">
        <dt>{t('poc.language')}</dt>
        <dd>{poc.language ?? '—'}</dd>
        <dt>{t('poc.status')}</dt>
        <dd>{t(`status.${poc.status}` as MessageKey)}</dd>
        <dt>{t('poc.visibility')}</dt>
        <dd>{t(`visibility.${poc.visibility}` as MessageKey)}</dd>
        <dt>{t('facet.tags')}</dt>
        <dd>{poc.tags.length ? poc.tags.map((tag) => <span key={tag} className="tag">#{tag}</span>) : '—'}</dd>
        <dt>Frameworks</dt>
        <dd>{poc.frameworks.join(', ') || '—'}</dd>
        <dt>{t('poc.repository')}</dt>
        <dd>{poc.repository_url ? <a href={poc.repository_url} rel="noopener noreferrer">{poc.repository_url}</a> : '—'}</dd>
        <dt>{t('poc.startedOn')}</dt>
        <dd>{poc.started_on ? day(poc.started_on, locale) : '—'}</dd>
        <dt>{t('poc.finishedOn')}</dt>
        <dd>{poc.finished_on ? day(poc.finished_on, locale) : '—'}</dd>
      </dl>
      {/* Markdown is shown as text: never rendered as HTML from user input. */}
      {poc.description && <pre className="description">{poc.description}</pre>}
      <p>
        <Link to="/pocs">{t('common.back')}</Link>
      </p>
    </article>
  );
}

/** A day (YYYY-MM-DD) as the reader writes it: 01/05/2026 in Portuguese, 5/1/2026 in English. */
function day(iso: string, locale: string): string {
  return new Date(`${iso}T00:00:00`).toLocaleDateString(locale);
}
