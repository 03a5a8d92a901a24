// Facet filters of a search page, kept in the URL (`?language=a&language=b&status=…`).

export type Facet = { value: string; count: number };

/** Selected values stay visible (with count 0) even when the current results lack them. */
export function mergeSelected(facets: Facet[], selected: string[]): Facet[] {
  const missing = selected.filter((value) => !facets.some((f) => f.value === value)).map((value) => ({ value, count: 0 }));
  return [...facets, ...missing];
}

/** `params` with `value` of `facet` switched on or off (the other values and parameters kept). */
export function toggleParam(params: URLSearchParams, facet: string, value: string): URLSearchParams {
  const next = new URLSearchParams(params);
  const values = next.getAll(facet);
  next.delete(facet);
  for (const v of values.includes(value) ? values.filter((v) => v !== value) : [...values, value]) next.append(facet, v);
  return next;
}

/** `params` with the search words `q` set (or removed when blank). */
export function withQuery(params: URLSearchParams, value: string): URLSearchParams {
  const next = new URLSearchParams(params);
  if (value.trim()) next.set('q', value.trim());
  else next.delete('q');
  return next;
}

type GroupProps = {
  facet: string;
  legend: string;
  facets: Facet[];
  selected: string[];
  label?: (value: string) => string;
  onToggle: (value: string) => void;
};

/** One facet as a group of labelled checkboxes, with the count of each value. */
export function FacetGroup({ facet, legend, facets, selected, label = (v) => v, onToggle }: GroupProps) {
  return (
    <fieldset data-facet={facet}>
      <legend>{legend}</legend>
      {mergeSelected(facets, selected).map((f) => (
        <label key={f.value} className="check">
          <input type="checkbox" checked={selected.includes(f.value)} onChange={() => onToggle(f.value)} />
          {label(f.value)} <span className="count">({f.count})</span>
        </label>
      ))}
    </fieldset>
  );
}
