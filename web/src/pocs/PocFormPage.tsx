import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { ApiError } from '../api/http';
import { FormError, SelectField, TextArea, TextField } from '../components/Field';
import { said, useSubmit } from '../components/useSubmit';
import { useI18n, type MessageKey } from '../i18n';
import { createPoc, getPoc, keyFor, splitList, STATUSES, updatePoc, type Poc, type PocIn, type Status, type Visibility } from './api';

const blank = (value: FormDataEntryValue | null) => {
  const text = String(value ?? '').trim();
  return text === '' ? null : text;
};

function readForm(form: HTMLFormElement): PocIn {
  const data = new FormData(form);
  return {
    name: String(data.get('name') ?? '').trim(),
    description: blank(data.get('description')),
    language: blank(data.get('language')),
    frameworks: splitList(String(data.get('frameworks') ?? '')),
    tags: splitList(String(data.get('tags') ?? '')),
    repository_url: blank(data.get('repository_url')),
    status: String(data.get('status')) as Status,
    visibility: String(data.get('visibility')) as Visibility,
    started_on: blank(data.get('started_on')),
    finished_on: blank(data.get('finished_on')),
  };
}

/** Create (no id) or edit a POC. Validation messages are the API's (problem+json `errors`). */
export function PocFormPage() {
  const { t } = useI18n();
  const { id } = useParams();
  const navigate = useNavigate();
  const [existing, setExisting] = useState<{ poc: Poc; etag: string } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const { errors, message, busy, run } = useSubmit();
  // A new POC's last body and its Idempotency-Key: saving it again unchanged is a retry.
  const attempt = useRef<{ body: string; key: string } | null>(null);

  useEffect(() => {
    if (id) getPoc(id).then(setExisting, (e: Error) => setLoadError(e.message));
  }, [id]);

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const input = readForm(event.currentTarget);
    void run(async () => {
      // Said here, at the field: the API's refusal of it names no field, only its own names.
      if (input.started_on && input.finished_on && input.finished_on < input.started_on)
        throw new ApiError({
          title: t('common.fixErrors'),
          status: 422,
          errors: [{ loc: ['body', 'finished_on'], msg: t('poc.finishedBeforeStarted'), type: 'said' }],
        });
      try {
        const poc = existing
          ? await updatePoc(existing.poc.poc_id, existing.etag, input)
          : await createPoc(input, keyFor(attempt, JSON.stringify(input)));
        navigate(`/pocs/${poc.poc_id}`, { state: { flash: existing ? 'poc.saved' : 'poc.created' } });
      } catch (error) {
        throw said(error, { 412: ['_', t('poc.conflict')] }); // someone changed it meanwhile
      }
    });
  };

  // Back where the reader came from, when that is a page of the app; a form opened first in
  // its tab (a new tab, a bookmark, the log-in on the way) goes to the POC or the list instead
  // of leaving the app. (The router numbers its entries in history.state.idx.)
  const cancel = () => {
    const idx = (window.history.state as { idx?: number } | null)?.idx;
    if (typeof idx === 'number' && idx > 0) navigate(-1);
    else navigate(id ? `/pocs/${id}` : '/pocs', { replace: true });
  };

  if (id && !existing) return loadError ? <FormError message={loadError} /> : <p>{t('common.loading')}</p>;
  const poc = existing?.poc;
  return (
    <section className="form-page" aria-labelledby="poc-form-title">
      <h1 id="poc-form-title">{t(poc ? 'poc.editTitle' : 'poc.newTitle')}</h1>
      <form onSubmit={(e) => void onSubmit(e)} noValidate>
        <FormError message={message} />
        <TextField label={t('poc.name')} name="name" required maxLength={100} defaultValue={poc?.name} error={errors.name} />
        <TextArea label={t('poc.description')} name="description" rows={5} defaultValue={poc?.description ?? ''} error={errors.description} />
        <div className="row">
          <TextField label={t('poc.language')} name="language" defaultValue={poc?.language ?? ''} error={errors.language} list="languages" />
          <datalist id="languages">
            {['Python', 'TypeScript', 'JavaScript', 'Go', 'Rust', 'Java', 'Kotlin', 'C#', 'C++', 'Ruby', 'Elixir'].map((l) => (
              <option key={l} value={l} />
            ))}
          </datalist>
          <SelectField
            label={t('poc.status')}
            name="status"
            defaultValue={poc?.status ?? 'idea'}
            error={errors.status}
            options={STATUSES.map((s) => ({ value: s, label: t(`status.${s}` as MessageKey) }))}
          />
          <SelectField
            label={t('poc.visibility')}
            name="visibility"
            defaultValue={poc?.visibility ?? 'tenant'}
            error={errors.visibility}
            options={[
              { value: 'tenant', label: t('visibility.tenant') },
              { value: 'private', label: t('visibility.private') },
            ]}
          />
        </div>
        <TextField label={t('poc.tags')} name="tags" defaultValue={poc?.tags.join(', ')} error={errors.tags} />
        <TextField label={t('poc.frameworks')} name="frameworks" defaultValue={poc?.frameworks.join(', ')} error={errors.frameworks} />
        <TextField label={t('poc.repository')} name="repository_url" type="url" defaultValue={poc?.repository_url ?? ''} error={errors.repository_url} />
        <div className="row">
          <TextField label={t('poc.startedOn')} name="started_on" type="date" defaultValue={poc?.started_on ?? ''} error={errors.started_on} />
          <TextField label={t('poc.finishedOn')} name="finished_on" type="date" defaultValue={poc?.finished_on ?? ''} error={errors.finished_on} />
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {t('common.save')}
          </button>
          <button type="button" onClick={cancel}>
            {t('common.cancel')}
          </button>
        </div>
      </form>
    </section>
  );
}
