import { useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { FacetGroup, toggleParam, withQuery } from '../components/Facets';
import { FormError } from '../components/Field';
import { Highlight } from '../components/Highlight';
import { useI18n, type MessageKey } from '../i18n';
import { exportPocs, searchPocs, type Filters, type SearchResult } from './api';
import { SearchBox } from './SearchBox';

const FACETS = ['language', 'tags', 'status'] as const;

export function PocListPage() {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const filters: Filters = { language: params.getAll('language'), tags: params.getAll('tags'), status: params.getAll('status') };
  const key = params.toString();
  // The debounced search runs after later renders: it must build on the newest URL, not the one it
  // saw when the typing started, or a facet ticked in between would be dropped.
  const latest = useRef(params);
  latest.current = params;
  const [text, setText] = useState(q);
  const [result, setResult] = useState<SearchResult | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    searchPocs(q, filters, null, controller.signal)
      .then((out) => {
        setResult(out);
        setError(null);
      })
      .catch((e: Error) => e.name !== 'AbortError' && setError(e.message));
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  // Results follow the typing too (debounced); Enter or a suggestion applies at once.
  useEffect(() => {
    if (text === q) return;
    const timer = setTimeout(() => submit(text), 350);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);

  const submit = (value: string) => setParams(withQuery(latest.current, value), { replace: true });
  const toggle = (facet: (typeof FACETS)[number], value: string) =>
    setParams(toggleParam(latest.current, facet, value), { replace: true });

  const more = async () => {
    if (!result?.next_cursor) return;
    const page = await searchPocs(q, filters, result.next_cursor);
    setResult({ ...page, items: [...result.items, ...page.items] });
  };

  const facetLabel = (facet: (typeof FACETS)[number], value: string) =>
    facet === 'status' ? t(`status.${value}` as MessageKey) : value;

  return (
    <div className="poc-list">
      <div className="page-head">
        <h1>{t('pocs.title')}</h1>
        <div className="actions">
          <Link className="button primary" to="/pocs/new">
            {t('pocs.new')}
          </Link>
          <Link className="button" to="/pocs/import">
            {t('pocs.import')}
          </Link>
          <button type="button" onClick={() => void exportPocs('csv')}>
            {t('pocs.exportCsv')}
          </button>
          <button type="button" onClick={() => void exportPocs('json')}>
            {t('pocs.exportJson')}
          </button>
        </div>
      </div>
      <div className="search-layout">
        <aside aria-label={t('pocs.filters')} className="facets">
          {FACETS.map((facet) => (
            <FacetGroup
              key={facet}
              facet={facet}
              legend={t(`facet.${facet}` as MessageKey)}
              facets={result?.facets[facet] ?? []}
              selected={filters[facet]}
              label={(value) => facetLabel(facet, value)}
              onToggle={(value) => toggle(facet, value)}
            />
          ))}
          {FACETS.some((f) => filters[f].length) && (
            <button type="button" className="link" onClick={() => setParams(q ? { q } : {}, { replace: true })}>
              {t('pocs.clearFilters')}
            </button>
          )}
        </aside>
        <section className="results" aria-labelledby="results-title">
          <SearchBox value={text} onChange={setText} onSubmit={submit} />
          <FormError message={error} />
          <h2 id="results-title" className="results-count" aria-live="polite">
            {result ? t('pocs.results', { count: result.total }) : t('common.loading')}
          </h2>
          {result && result.items.length === 0 && <p>{t('pocs.none')}</p>}
          <ul className="cards">
            {result?.items.map((hit) => (
              <li key={hit.poc_id} className="card">
                <h3>
                  <Link to={`/pocs/${hit.poc_id}`}>{hit.highlights?.name ? <Highlight html={hit.highlights.name} /> : hit.name}</Link>
                </h3>
                <p className="meta">
                  {hit.language && <span className="badge">{hit.language}</span>}
                  <span className={`status status-${hit.status}`}>{t(`status.${hit.status}` as MessageKey)}</span>
                  {hit.tags.map((tag) => (
                    <span key={tag} className="tag">
                      #{tag}
                    </span>
                  ))}
                </p>
                {hit.highlights?.description ? (
                  <p className="excerpt">
                    <Highlight html={hit.highlights.description} />
                  </p>
                ) : (
                  hit.description && <p className="excerpt">{hit.description}</p>
                )}
              </li>
            ))}
          </ul>
          {result?.next_cursor && (
            <button type="button" onClick={() => void more()}>
              {t('pocs.loadMore')}
            </button>
          )}
        </section>
      </div>
    </div>
  );
}
