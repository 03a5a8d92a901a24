import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { ApiError } from '../api/http';
import { FormError, SelectField, TextField } from '../components/Field';
import { useI18n, type MessageKey } from '../i18n';
import { createDojo, listDojos, type Dojo } from './api';
import { LANGUAGE_NAMES } from './languages';

export function DojoLobbyPage() {
  const { t, locale } = useI18n();
  const navigate = useNavigate();
  const [dojos, setDojos] = useState<Dojo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [copied, setCopied] = useState<string | null>(null);

  useEffect(() => {
    listDojos().then(
      (out) => setDojos(out.items),
      () => setError(t('dojos.unavailable')),
    );
  }, [t]);

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const when = String(data.get('scheduled_at') ?? '');
    setErrors({});
    try {
      const dojo = await createDojo({
        title: String(data.get('title') ?? '').trim(),
        language: String(data.get('language')),
        scheduled_at: when ? new Date(when).toISOString() : null,
        rotation_seconds: Math.round(Number(data.get('rotation') || 5) * 60),
      });
      navigate(`/dojos/${dojo.dojo_id}`);
    } catch (e) {
      if (e instanceof ApiError) setErrors({ ...e.fieldErrors(), _form: e.message });
      else setErrors({ _form: t('common.error') });
    }
  };

  const copyInvite = async (dojo: Dojo) => {
    const url = `${window.location.origin}/dojos/${dojo.dojo_id}`;
    try {
      await navigator.clipboard.writeText(url);
    } catch {
      /* clipboard refused (e.g. not https): the link is shown instead */
    }
    setCopied(url);
  };

  return (
    <div className="lobby">
      <h1>{t('dojos.title')}</h1>
      <FormError message={error} />
      {copied && (
        <p className="flash" role="status">
          {t('dojos.copied')} <code>{copied}</code>
        </p>
      )}
      <div className="lobby-grid">
        <section aria-labelledby="dojo-list-title">
          <h2 id="dojo-list-title" className="sr-only">
            {t('dojos.title')}
          </h2>
          {dojos?.length === 0 && <p>{t('dojos.none')}</p>}
          <ul className="cards">
            {dojos?.map((dojo) => (
              <li key={dojo.dojo_id} className="card">
                <h3>
                  <Link to={`/dojos/${dojo.dojo_id}`}>{dojo.title}</Link>
                </h3>
                <p className="meta">
                  <span className="badge">{LANGUAGE_NAMES[dojo.language] ?? dojo.language}</span>
                  <span className={`status status-${dojo.status}`}>{t(`dojos.status.${dojo.status}` as MessageKey)}</span>
                  {dojo.scheduled_at && <time dateTime={dojo.scheduled_at}>{new Date(dojo.scheduled_at).toLocaleString(locale)}</time>}
                  <span>{t('dojos.participants', { count: dojo.participants.length })}</span>
                </p>
                <div className="actions">
                  <Link className="button primary" to={`/dojos/${dojo.dojo_id}`}>
                    {t('dojos.join')}
                  </Link>
                  <button type="button" onClick={() => void copyInvite(dojo)}>
                    {t('dojos.invite')}
                  </button>
                </div>
              </li>
            ))}
          </ul>
        </section>
        <section className="panel" aria-labelledby="new-dojo-title">
          <h2 id="new-dojo-title">{t('dojos.new')}</h2>
          <form onSubmit={(e) => void onSubmit(e)} noValidate>
            <FormError message={errors._form} />
            <TextField label={t('dojos.name')} name="title" required maxLength={100} error={errors.title} />
            <SelectField
              label={t('dojos.language')}
              name="language"
              defaultValue="python"
              options={Object.entries(LANGUAGE_NAMES).map(([value, label]) => ({ value, label }))}
              error={errors.language}
            />
            <TextField label={t('dojos.scheduledAt')} name="scheduled_at" type="datetime-local" error={errors.scheduled_at} />
            <TextField label={t('dojos.rotation')} name="rotation" type="number" min={1} max={60} defaultValue={5} error={errors.rotation_seconds} />
            <button type="submit" className="primary">
              {t('dojos.create')}
            </button>
          </form>
        </section>
      </div>
    </div>
  );
}
