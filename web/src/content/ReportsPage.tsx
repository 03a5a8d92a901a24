import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { saveLink } from '../api/download';
import { ApiError } from '../api/http';
import { FormError, SelectField, TextField } from '../components/Field';
import { summary } from '../components/useSubmit';
import { useI18n, type MessageKey } from '../i18n';
import { splitList, STATUSES } from '../pocs/api';
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

/** How often a request being made is asked for its progress; longer after failed rounds. */
const POLL_MS = 1000;
const POLL_MAX_MS = 30_000;
/** A progress question that takes longer than this is given up (asked again next round). */
const ASK_WITHIN_MS = 10_000;
const KEY_REUSED = 'https://mrbill.dev/problems/idempotency-key-reuse';

/** PDF reports and yearly videos of your POCs: ask for one, follow it, download or watch it. */
export function ReportsPage() {
  const { t, locale } = useI18n();
  const [items, setItems] = useState<ContentRequest[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [flash, setFlash] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [period, setPeriod] = useState<'year' | 'range'>('year');
  const heading = useRef<HTMLHeadingElement>(null);
  // The idempotency key of the last submission that did not clearly succeed, with its body:
  // sending the same again after a lost answer returns the request it may have made; a
  // changed form is another request, with a key of its own.
  const attempt = useRef<{ body: string; key: string } | null>(null);

  // Requests listed newest first; ones made meanwhile (a submission before the list came) stay.
  const merge = useCallback((listed: ContentRequest[], current: ContentRequest[] | null) => {
    const known = new Set(listed.map((r) => r.request_id));
    return [...(current ?? []).filter((r) => !known.has(r.request_id)), ...listed];
  }, []);

  useEffect(() => {
    listRequests().then(
      (page) => {
        setItems((current) => merge(page.items, current));
        setNext(page.next_cursor);
        setUnavailable(false);
      },
      () => setUnavailable(true),
    );
  }, [merge]);

  const replace = useCallback((request: ContentRequest) => {
    setItems((current) => current && current.map((r) => (r.request_id === request.request_id ? request : r)));
  }, []);
  const drop = useCallback((id: string) => setItems((current) => current && current.filter((r) => r.request_id !== id)), []);

  // Follow what is still being made, until it ends: one round of questions per tick, the
  // next only once the round is answered, and slower while rounds fail.
  const following = (items ?? [])
    .filter(isActive)
    .map((r) => r.request_id)
    .join(' ');
  const [round, setRound] = useState({ n: 0, failures: 0 });
  useEffect(() => {
    if (!following) return;
    const stop = new AbortController();
    const delay = Math.min(POLL_MS * 2 ** round.failures, POLL_MAX_MS);
    const timer = setTimeout(() => {
      const questions = following.split(' ').map((id) => {
        const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(ASK_WITHIN_MS)]);
        return getRequest(id, signal).then(
          (r) => (replace(r), true),
          (e: unknown) => {
            // Deleted meanwhile (in another tab): gone. Anything else: asked again later.
            if (e instanceof ApiError && e.status === 404) return (drop(id), true);
            return false;
          },
        );
      });
      void Promise.all(questions).then((answers) => {
        if (stop.signal.aborted) return;
        setRound(({ n, failures }) => ({ n: n + 1, failures: answers.every(Boolean) ? 0 : failures + 1 }));
      });
    }, delay);
    return () => {
      stop.abort();
      clearTimeout(timer);
    };
  }, [following, round, replace, drop]);

  const more = async () => {
    try {
      const page = await listRequests(next);
      setItems((current) => [...(current ?? []), ...page.items.filter((r) => !current?.some((c) => c.request_id === r.request_id))]);
      setNext(page.next_cursor);
      setUnavailable(false);
    } catch {
      setUnavailable(true);
    }
  };

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const input: ContentRequestIn = { type: data.get('type') as Kind, language: data.get('language') as ContentRequestIn['language'] };
    const missing: Record<string, string> = {};
    if (period === 'year') {
      const year = String(data.get('year') ?? '').trim();
      if (year) input.year = Number(year);
      else missing.year = t('common.required');
    } else {
      for (const end of ['from', 'to'] as const) {
        const day = String(data.get(end) ?? '');
        if (day) input[end] = day;
        else missing[end] = t('common.required');
      }
      // Said here, at the field: the API's refusal of it names no field, only its own names.
      if (input.from && input.to && input.to < input.from) missing.to = t('content.toBeforeFrom');
    }
    setFlash(null);
    if (Object.keys(missing).length) return setErrors({ ...missing, _form: t('common.fixErrors') });
    const title = String(data.get('title') ?? '').trim();
    if (title) input.title = title;
    const filter = { language: String(data.get('poc_language') ?? '').trim() || null, tags: splitList(String(data.get('tags') ?? '')), status: String(data.get('status') ?? '') || null };
    if (filter.language || filter.tags.length || filter.status) input.filter = filter;
    const body = JSON.stringify(input);
    if (attempt.current?.body !== body) attempt.current = { body, key: crypto.randomUUID() };
    setErrors({});
    setBusy(true);
    try {
      const created = await createRequest(input, attempt.current.key);
      attempt.current = null;
      setItems((current) => [created, ...(current ?? []).filter((r) => r.request_id !== created.request_id)]);
      setFlash(t(created.poc_count === 1 ? 'content.requested.one' : 'content.requested', { title: created.title, count: created.poc_count }));
    } catch (e) {
      if (e instanceof ApiError && e.problem.type === KEY_REUSED) attempt.current = null; // not ours to reuse: a new one next time
      if (e instanceof ApiError) {
        const fields = e.fieldErrors();
        setErrors({ ...fields, _form: summary(e, fields, t('common.fixErrors')) });
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
      <FormError message={unavailable ? t('content.unavailable') : null} />
      <div className="lobby-grid">
        <section aria-labelledby="content-list-title">
          <h2 id="content-list-title" ref={heading} tabIndex={-1}>
            {t('content.yours')}
          </h2>
          {items === null && !unavailable && <p>{t('common.loading')}</p>}
          {items?.length === 0 && <p data-testid="no-content">{t('content.none')}</p>}
          <ul className="cards">
            {items?.map((r) => (
              <RequestCard
                key={r.request_id}
                request={r}
                locale={locale}
                onChange={replace}
                onGone={(id) => {
                  drop(id);
                  heading.current?.focus();
                }}
              />
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
  const titleId = useId();
  const [error, setError] = useState<string | null>(null);
  const [video, setVideo] = useState<Download | null>(null);
  const [confirming, setConfirming] = useState(false);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const player = useRef<HTMLVideoElement>(null);
  const relinked = useRef(0); // when the player last asked for a fresh link
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
      saveLink(link.url, link.filename);
    });
  const watch = () =>
    act(async () => {
      setVideo(await downloadLink(r.request_id));
      relinked.current = Date.now();
    });
  // Links are short-lived: a player that fails (its link expired while paused, say) gets a
  // fresh one and goes on from where it was; at most once every 10 s, so a broken file ends.
  const relink = () => {
    const at = player.current?.currentTime ?? 0;
    if (Date.now() - relinked.current < 10_000) return setError(t('content.videoFailed'));
    relinked.current = Date.now();
    void act(async () => {
      const link = await downloadLink(r.request_id);
      setVideo(link);
      player.current?.addEventListener('loadedmetadata', () => player.current && (player.current.currentTime = at), { once: true });
    });
  };
  useEffect(() => {
    if (video) player.current?.focus();
  }, [video]);

  const described = { 'aria-describedby': titleId };
  return (
    <li className="card" data-testid="content-card" data-status={r.status}>
      <h3 id={titleId}>{r.title}</h3>
      <p className="meta">
        <span className="badge">{t(`content.kind.${r.type}` as MessageKey)}</span>
        <span aria-live="polite" className={`status status-${r.status}`}>
          {t(`content.status.${r.status}` as MessageKey)}
        </span>
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
        <video ref={player} className="player" controls tabIndex={0} src={video.url} poster={video.thumbnail_url ?? undefined} aria-label={r.title} onError={relink}>
          <a href={video.url}>{t('content.downloadVideo')}</a>
        </video>
      )}
      <div className="actions">
        {r.status === 'succeeded' && (
          <button type="button" className="primary" onClick={() => void download()} {...described}>
            {t(r.type === 'video' ? 'content.downloadVideo' : 'content.download')}
          </button>
        )}
        {r.status === 'succeeded' && r.type === 'video' && !video && (
          <button type="button" onClick={() => void watch()} {...described}>
            {t('content.watch')}
          </button>
        )}
        {isActive(r) && (
          <button type="button" onClick={() => void act(async () => onChange(await cancelRequest(r.request_id)))} {...described}>
            {t('content.cancel')}
          </button>
        )}
        {confirming ? (
          <>
            <span>{t('content.confirmDelete')}</span>
            <button
              type="button"
              className="danger"
              autoFocus
              onClick={() => void act(async () => (await deleteRequest(r.request_id), onGone(r.request_id)))}
              {...described}
            >
              {t('common.delete')}
            </button>
            <button
              type="button"
              onClick={() => {
                setConfirming(false);
                setTimeout(() => deleteButton.current?.focus());
              }}
            >
              {t('common.cancel')}
            </button>
          </>
        ) : (
          <button type="button" className="link" ref={deleteButton} onClick={() => setConfirming(true)} {...described}>
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
