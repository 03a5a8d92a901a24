// A search page whose words and facet filters live in the URL (`?q=…&language=a&status=b`):
// results follow the URL, typing updates it after a pause, and "load more" pages on.
import { useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { toggleParam, withQuery } from './Facets';

type Page = { items: unknown[]; next_cursor: string | null };
type Search<F extends string, R extends Page> = (
  q: string,
  filters: Record<F, string[]>,
  cursor: string | null,
  signal?: AbortSignal,
) => Promise<R>;

const TYPING_PAUSE_MS = 350;

/** ``enabled`` says whether to search at all (a page may show something else meanwhile). */
export function useUrlSearch<F extends string, R extends Page>(
  facets: readonly F[],
  search: Search<F, R>,
  enabled: (q: string, filters: Record<F, string[]>) => boolean = () => true,
) {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const filters = Object.fromEntries(facets.map((f) => [f, params.getAll(f)])) as Record<F, string[]>;
  const active = enabled(q, filters);
  const key = params.toString();
  // The debounced search runs after later renders: it must build on the newest URL, not the one it
  // saw when the typing started, or a facet ticked in between would be dropped.
  const latest = useRef(params);
  latest.current = params;
  const [text, setText] = useState(q);
  const [result, setResult] = useState<R | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!active) {
      setResult(null);
      setError(null);
      return;
    }
    const controller = new AbortController();
    search(q, filters, null, controller.signal)
      .then((out) => {
        setResult(out);
        setError(null);
      })
      .catch((e: Error) => e.name !== 'AbortError' && setError(e.message));
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  // The words can change without typing (the page's link in the header, a link to a search):
  // the box shows the words the results are for.
  useEffect(() => {
    if (q !== text.trim()) setText(q);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q]);

  // Results follow the typing (debounced); Enter or a suggestion applies at once.
  useEffect(() => {
    if (text.trim() === q) return;
    const timer = setTimeout(() => submit(text), TYPING_PAUSE_MS);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);

  const submit = (value: string) => setParams(withQuery(latest.current, value), { replace: true });
  const toggle = (facet: F, value: string) => setParams(toggleParam(latest.current, facet, value), { replace: true });
  const clearFilters = () => setParams(q ? { q } : {}, { replace: true });
  // The search a page of "load more" belongs to: one that comes after the words or filters
  // changed is dropped; a refusal or no answer is said (`moreError`, for beside the button).
  const current = useRef(key);
  current.current = key;
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<string | null>(null);
  useEffect(() => setMoreError(null), [key]);
  const more = async () => {
    if (!result?.next_cursor || loadingMore) return;
    const asked = key;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await search(q, filters, result.next_cursor);
      if (current.current === asked) setResult({ ...page, items: [...result.items, ...page.items] });
    } catch (e) {
      if (current.current === asked) setMoreError(e instanceof Error ? e.message : String(e));
    } finally {
      setLoadingMore(false);
    }
  };

  return { q, filters, active, text, setText, result, error, submit, toggle, clearFilters, more, loadingMore, moreError };
}
