import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/http';
import { FormError, SelectField, TextField } from '../components/Field';
import { useI18n, type MessageKey } from '../i18n';
import { STATUSES } from '../pocs/api';
import {
  cancelRequest,
  createRequest,
  deleteRequest,
  downloadLink,
  getRequest,
  isActive,
  KINDS,
  listRequests,
  type ContentRequest,
  type ContentRequestIn,
  type Download,
  type Kind,
} from './api';

/** How often a request being generated is asked for its progress. */
const POLL_MS = 1000;

const newKey = () => crypto.randomUUID();
const splitList = (value: FormDataEntryValue | null) =>
  String(value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

/** PDF reports and yearly videos of your POCs: ask for one, follow it, download or watch it. */
export function ReportsPage() {
  const { t, locale } = useI18n();
  const [items, setItems] = useState<ContentRequest[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [flash, setFlash] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [period, setPeriod] = useState<'year' | 'range'>('year');
  // One key per submission: resubmitting after a lost answer returns the same request.
  const key = useRef(newKey());

  useEffect(() => {
    listRequests().then(
      (page) => {
        setItems(page.items);
        setNext(page.next_cursor);
      },
      () => setError(t('content.unavailable')),
    );
  }, [t]);

  const replace = useCallback((request: ContentRequest) => {
    setItems((current) => current && current.map((r) => (r.request_id === request.request_id ? request : r)));
  }, []);
  const drop = useCallback((id: string) => setItems((current) => current && current.filter((r) => r.request_id !== id)), []);

  // Follow what is still being generated, until it ends: one round of questions per tick,
  // the next tick only once the round is answered.
  const following = (items ?? [])
    .filter(isActive)
    .map((r) => r.request_id)
    .join(' ');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!following) return;
    let alive = true;
    const timer = setTimeout(() => {
      const round = following.split(' ').map((id) =>
        getRequest(id).then(
          (r) => alive && replace(r),
          (e: unknown) => {
            // Deleted meanwhile (another tab): gone. Anything else: asked again next tick.
            if (alive && e instanceof ApiError && e.status === 404) drop(id);
          },
        ),
      );
      void Promise.all(round).then(() => alive && setTick((n) => n + 1));
    }, POLL_MS);
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [following, tick, replace, drop]);

  const more = async () => {
    try {
      const page = await listRequests(next);
      setItems((current) => [...(current ?? []), ...page.items.filter((r) => !current?.some((c) => c.request_id === r.request_id))]);
      setNext(page.next_cursor);
    } catch {
      setError(t('content.unavailable'));
    }
  };

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const input: ContentRequestIn = { type: data.get('type') as Kind, language: data.get('language') as ContentRequestIn['language'] };
    if (period === 'year') input.year = Number(data.get('year'));
    else {
      input.from = String(data.get('from') ?? '');
      input.to = String(data.get('to') ?? '');
    }
    const title = String(data.get('title') ?? '').trim();
    if (title) input.title = title;
    const filter = { language: String(data.get('poc_language') ?? '').trim() || null, tags: splitList(data.get('tags')), status: String(data.get('status') ?? '') || null };
    if (filter.language || filter.tags.length || filter.status) input.filter = filter;
    setErrors({});
    setFlash(null);
    setBusy(true);
    try {
      const created = await createRequest(input, key.current);
      key.current = newKey();
      setItems((current) => [created, ...(current ?? []).filter((r) => r.request_id !== created.request_id)]);
      setFlash(t(created.poc_count === 1 ? 'content.requested.one' : 'content.requested', { title: created.title, count: created.poc_count }));
    } catch (e) {
      if (e instanceof ApiError) {
        const fields = e.fieldErrors();
        // A rule about the request as a whole (the period, say) has no field: it is the message.
        const rule = fields._?.replace(/^Value error, /, '');
        const whole = rule && rule.charAt(0).toUpperCase() + rule.slice(1);
        setErrors({ ...fields, _form: whole || (e.status === 422 ? t('common.fixErrors') : e.message) });
      } else setErrors({ _form: t('common.error') });
    } finally {
      setBusy(false);
    }
  };

  const thisYear = new Date().getFullYear();
  return (
    <div className="lobby">
      <h1>{t('content.title')}</h1>
      <p className="hint">{t('content.help')}</p>
      <FormError message={error} />
      <div className="lobby-grid">
        <section aria-labelledby="content-list-title">
          <h2 id="content-list-title">{t('content.yours')}</h2>
          {items === null && !error && <p>{t('common.loading')}</p>}
          {items?.length === 0 && <p data-testid="no-content">{t('content.none')}</p>}
          <ul className="cards">
            {items?.map((r) => (
              <RequestCard key={r.request_id} request={r} locale={locale} onChange={replace} onGone={drop} />
            ))}
          </ul>
          {next && (
            <button type="button" onClick={() => void more()}>
              {t('content.loadMore')}
            </button>
          )}
        </section>
        <section className="panel" aria-labelledby="new-content-title">
          <h2 id="new-content-title">{t('content.new')}</h2>
          <form onSubmit={(e) => void onSubmit(e)} noValidate>
            <FormError message={errors._form} />
            <fieldset className="choice">
              <legend>{t('content.kind')}</legend>
              {KINDS.map((kind) => (
                <label key={kind} className="check">
                  <input type="radio" name="type" value={kind} defaultChecked={kind === 'report'} /> {t(`content.kind.${kind}` as MessageKey)}
                </label>
              ))}
            </fieldset>
            <SelectField
              label={t('content.period')}
              name="period"
              value={period}
              onChange={(e) => setPeriod(e.target.value as 'year' | 'range')}
              options={[
                { value: 'year', label: t('content.period.year') },
                { value: 'range', label: t('content.period.range') },
              ]}
            />
            {period === 'year' ? (
              <TextField label={t('content.year')} name="year" type="number" min={2000} max={2100} defaultValue={thisYear} required error={errors.year} />
            ) : (
              <div className="row">
                <TextField label={t('content.from')} name="from" type="date" required error={errors.from} />
                <TextField label={t('content.to')} name="to" type="date" required error={errors.to} />
              </div>
            )}
            <SelectField
              label={t('content.language')}
              name="language"
              defaultValue={locale}
              options={[
                { value: 'pt-BR', label: t('lang.pt-BR') },
                { value: 'en', label: t('lang.en') },
              ]}
              error={errors.language}
            />
            <TextField label={t('content.docTitle')} name="title" maxLength={200} hint={t('content.docTitleHint')} error={errors.title} />
            <fieldset className="choice">
              <legend>{t('content.filter')}</legend>
              <p className="hint">{t('content.filterHint')}</p>
              <FormError message={errors.filter} />
              <TextField label={t('poc.language')} name="poc_language" maxLength={50} />
              <TextField label={t('poc.tags')} name="tags" />
              <SelectField
                label={t('poc.status')}
                name="status"
                defaultValue=""
                options={[{ value: '', label: t('content.anyStatus') }, ...STATUSES.map((s) => ({ value: s, label: t(`status.${s}` as MessageKey) }))]}
              />
            </fieldset>
            <button type="submit" className="primary" disabled={busy}>
              {t('content.create')}
            </button>
          </form>
          <div aria-live="polite">{flash && <p className="flash">{flash}</p>}</div>
        </section>
      </div>
    </div>
  );
}

function RequestCard({
  request: r,
  locale,
  onChange,
  onGone,
}: {
  request: ContentRequest;
  locale: string;
  onChange: (r: ContentRequest) => void;
  onGone: (id: string) => void;
}) {
  const { t } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const [video, setVideo] = useState<Download | null>(null);
  const [confirming, setConfirming] = useState(false);
  const day = (iso: string) => new Date(`${iso}T00:00:00`).toLocaleDateString(locale);
  const act = async (action: () => Promise<void>) => {
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e instanceof Error ? e.message : t('common.error'));
    }
  };
  const download = () =>
    act(async () => {
      const link = await downloadLink(r.request_id);
      const a = document.createElement('a');
      a.href = link.url;
      a.download = link.filename; // same origin locally; S3's links carry the file name themselves
      document.body.append(a);
      a.click();
      a.remove();
    });

  return (
    <li className="card" data-testid="content-card" data-status={r.status}>
      <h3>{r.title}</h3>
      <p className="meta">
        <span className="badge">{t(`content.kind.${r.type}` as MessageKey)}</span>
        <span className={`status status-${r.status}`}>{t(`content.status.${r.status}` as MessageKey)}</span>
        <span>
          {day(r.from)} – {day(r.to)}
        </span>
        <span>{t(r.poc_count === 1 ? 'content.pocs.one' : 'content.pocs', { count: r.poc_count })}</span>
        {r.size_bytes != null && <span>{formatSize(r.size_bytes, locale)}</span>}
      </p>
      {isActive(r) && (
        <p className="progress-line">
          <progress max={100} value={r.progress} aria-label={t('content.progressOf', { title: r.title })} />
          <span>{r.progress}%</span>
        </p>
      )}
      {r.status === 'failed' && <FormError message={t('content.failed', { reason: r.error ?? t('common.error') })} />}
      <FormError message={error} />
      {video && (
        <video className="player" controls autoPlay src={video.url} poster={video.thumbnail_url ?? undefined} aria-label={r.title}>
          <a href={video.url}>{t('content.download')}</a>
        </video>
      )}
      <div className="actions">
        {r.status === 'succeeded' && (
          <button type="button" className="primary" onClick={() => void download()}>
            {t(r.type === 'video' ? 'content.downloadVideo' : 'content.download')}
          </button>
        )}
        {r.status === 'succeeded' && r.type === 'video' && !video && (
          <button type="button" onClick={() => void act(async () => setVideo(await downloadLink(r.request_id)))}>
            {t('content.watch')}
          </button>
        )}
        {isActive(r) && (
          <button type="button" onClick={() => void act(async () => onChange(await cancelRequest(r.request_id)))}>
            {t('content.cancel')}
          </button>
        )}
        {confirming ? (
          <>
            <span>{t('content.confirmDelete')}</span>
            <button type="button" className="danger" onClick={() => void act(async () => (await deleteRequest(r.request_id), onGone(r.request_id)))}>
              {t('common.delete')}
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              {t('common.cancel')}
            </button>
          </>
        ) : (
          <button type="button" className="link" onClick={() => setConfirming(true)}>
            {t('common.delete')}
          </button>
        )}
      </div>
    </li>
  );
}

function formatSize(bytes: number, locale: string): string {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return new Intl.NumberFormat(locale, { style: 'unit', unit: units[unit], unitDisplay: 'short', maximumFractionDigits: 1 }).format(value);
}
