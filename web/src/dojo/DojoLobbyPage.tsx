import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { ApiError } from '../api/http';
import { useAuth } from '../auth/AuthContext';
import { FormError, SelectField, TextArea, TextField } from '../components/Field';
import { useI18n, type MessageKey } from '../i18n';
import { createDojo, listDojos, type Dojo, type DojoFormat } from './api';
import { InviteButton } from './Invites';
import { LANGUAGE_NAMES, languageName } from './languages';

const FORMATS: DojoFormat[] = ['randori', 'prepared', 'free'];

/** Whether the signed-in user manages `dojo` (its facilitator, or a tenant owner/admin). */
export function canManage(dojo: Pick<Dojo, 'creator_id'>, me: { user: { user_id: string; role: string } } | null): boolean {
  return !!me && (dojo.creator_id === me.user.user_id || me.user.role === 'owner' || me.user.role === 'admin');
}

export function DojoLobbyPage() {
  const { t, locale } = useI18n();
  const { me } = useAuth();
  const navigate = useNavigate();
  const [dojos, setDojos] = useState<Dojo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});

  useEffect(() => {
    listDojos().then(
      (out) => setDojos(out.items),
      () => setError(t('dojos.unavailable')),
    );
  }, [t]);

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const when = String(data.get('scheduled_start_time') ?? '');
    setErrors({});
    try {
      const dojo = await createDojo({
        name: String(data.get('name') ?? '').trim(),
        description: String(data.get('description') ?? '').trim(),
        language: String(data.get('language')),
        format: String(data.get('format')) as DojoFormat,
        scheduled_start_time: when ? new Date(when).toISOString() : null,
        rotation_seconds: Math.round(Number(data.get('rotation') || 5) * 60),
      });
      navigate(`/dojos/${dojo.dojo_id}`);
    } catch (e) {
      if (e instanceof ApiError) {
        const fields = e.fieldErrors();
        setErrors({ ...fields, rotation: fields.rotation_seconds, _form: e.message });
      } else setErrors({ _form: t('common.error') });
    }
  };

  return (
    <div className="lobby">
      <h1>{t('dojos.title')}</h1>
      <FormError message={error} />
      <div className="lobby-grid">
        <section aria-labelledby="dojo-list-title">
          <h2 id="dojo-list-title" className="sr-only">
            {t('dojos.title')}
          </h2>
          {dojos === null && !error && <p>{t('common.loading')}</p>}
          {dojos?.length === 0 && <p data-testid="no-dojos">{t('dojos.none')}</p>}
          <ul className="cards">
            {dojos?.map((dojo) => {
              const when = dojo.started_at ?? dojo.scheduled_start_time;
              return (
                <li key={dojo.dojo_id} className="card" data-testid="dojo-card">
                  <h3>
                    <Link to={`/dojos/${dojo.dojo_id}`}>{dojo.name}</Link>
                  </h3>
                  <p className="meta">
                    <span className="badge">{languageName(dojo.language)}</span>
                    <span className={`status status-${dojo.status}`}>{t(`dojos.status.${dojo.status}` as MessageKey)}</span>
                    <span>{t(`dojos.format.${dojo.format}` as MessageKey)}</span>
                    {when && <time dateTime={when}>{new Date(when).toLocaleString(locale)}</time>}
                    <span>{t('dojos.participants', { count: dojo.participant_count })}</span>
                  </p>
                  <div className="actions">
                    <Link className="button primary" to={`/dojos/${dojo.dojo_id}`}>
                      {t('dojos.open')}
                    </Link>
                    {canManage(dojo, me) && (dojo.status === 'scheduled' || dojo.status === 'active') && <InviteButton dojoId={dojo.dojo_id} />}
                  </div>
                </li>
              );
            })}
          </ul>
        </section>
        <section className="panel" aria-labelledby="new-dojo-title">
          <h2 id="new-dojo-title">{t('dojos.new')}</h2>
          <form onSubmit={(e) => void onSubmit(e)} noValidate>
            <FormError message={errors._form} />
            <TextField label={t('dojos.name')} name="name" required maxLength={100} error={errors.name} />
            <SelectField
              label={t('dojos.language')}
              name="language"
              defaultValue="python"
              options={Object.entries(LANGUAGE_NAMES).map(([value, label]) => ({ value, label }))}
              error={errors.language}
            />
            <SelectField
              label={t('dojos.formatLabel')}
              name="format"
              defaultValue="randori"
              options={FORMATS.map((value) => ({ value, label: t(`dojos.format.${value}` as MessageKey) }))}
              error={errors.format}
            />
            <TextArea label={t('dojos.description')} name="description" rows={3} maxLength={20000} error={errors.description} />
            <TextField
              label={t('dojos.scheduledAt')}
              name="scheduled_start_time"
              type="datetime-local"
              error={errors.scheduled_start_time}
            />
            <TextField label={t('dojos.rotation')} name="rotation" type="number" min={1} max={60} defaultValue={5} error={errors.rotation} />
            <button type="submit" className="primary">
              {t('dojos.create')}
            </button>
          </form>
        </section>
      </div>
    </div>
  );
}
