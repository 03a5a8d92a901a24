import { useState } from 'react';
import { Link, useLocation } from 'react-router-dom';
import { FacetGroup } from '../components/Facets';
import { FormError } from '../components/Field';
import { Flash } from '../components/Flash';
import { Highlight } from '../components/Highlight';
import { useUrlSearch } from '../components/useUrlSearch';
import { useI18n, type MessageKey } from '../i18n';
import { exportPocs, searchPocs } from './api';
import { SearchBox } from './SearchBox';

const FACETS = ['language', 'tags', 'status'] as const;

export function PocListPage() {
  const { t } = useI18n();
  const { q, filters, text, setText, result, error, submit, toggle, clearFilters, more, loadingMore, moreError } = useUrlSearch(
    FACETS,
    searchPocs,
  );
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);
  const download = async (format: 'csv' | 'json') => {
    setExporting(true);
    setExportError(null);
    try {
      await exportPocs(format);
    } catch (e) {
      setExportError(e instanceof Error ? e.message : t('common.error'));
    } finally {
      setExporting(false);
    }
  };

  // A POC deleted a moment ago may still be in the search index (it hears of the deletion
  // shortly after): the detail page says which, and it is left out here.
  const deleted = (useLocation().state as { deleted?: string } | null)?.deleted;
  const items = result?.items.filter((hit) => hit.poc_id !== deleted) ?? [];
  const total = result ? result.total - (result.items.length - items.length) : 0;

  const facetLabel = (facet: (typeof FACETS)[number], value: string) =>
    facet === 'status' ? t(`status.${value}` as MessageKey) : value;

  return (
    <div className="poc-list">
      <Flash />
      <div className="page-head">
        <h1>{t('pocs.title')}</h1>
        <div className="actions">
          <Link className="button primary" to="/pocs/new">
            {t('pocs.new')}
          </Link>
          <Link className="button" to="/pocs/import">
            {t('pocs.import')}
          </Link>
          <button type="button" disabled={exporting} onClick={() => void download('csv')}>
            {t('pocs.exportCsv')}
          </button>
          <button type="button" disabled={exporting} onClick={() => void download('json')}>
            {t('pocs.exportJson')}
          </button>
        </div>
      </div>
      <FormError message={exportError} />
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
            <button type="button" className="link" onClick={clearFilters}>
              {t('pocs.clearFilters')}
            </button>
          )}
        </aside>
        <section className="results" aria-labelledby="results-title">
          <SearchBox value={text} onChange={setText} onSubmit={submit} />
          <FormError message={error} />
          <h2 id="results-title" className="results-count" aria-live="polite">
            {result ? t('pocs.results', { count: total }) : t('common.loading')}
          </h2>
          {result && items.length === 0 && (
            // No words and no filter: nothing to match, the organization has no POC yet.
            <p data-testid="no-pocs">{t(!q && !FACETS.some((f) => filters[f].length) ? 'pocs.empty' : 'pocs.none')}</p>
          )}
          <ul className="cards">
            {items.map((hit) => (
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
          <FormError message={moreError} />
          {result?.next_cursor && (
            <button type="button" disabled={loadingMore} onClick={() => void more()}>
              {t('pocs.loadMore')}
            </button>
          )}
        </section>
      </div>
    </div>
  );
}
