import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { FacetGroup, mergeSelected, toggleParam, withQuery } from './Facets';

describe('facet parameters', () => {
  it('switches one value on and off and keeps the rest of the URL', () => {
    const params = new URLSearchParams('q=kata&status=active&language=go');
    const on = toggleParam(params, 'status', 'ended');
    expect(on.toString()).toBe('q=kata&language=go&status=active&status=ended');
    expect(toggleParam(on, 'status', 'active').getAll('status')).toEqual(['ended']);
    expect(params.toString()).toBe('q=kata&status=active&language=go');
  });
  it('sets the words trimmed, and drops them when blank', () => {
    const params = new URLSearchParams('status=active');
    expect(withQuery(params, '  fizz buzz ').toString()).toBe('status=active&q=fizz+buzz');
    expect(withQuery(new URLSearchParams('q=x&language=go'), '   ').toString()).toBe('language=go');
  });
  it('keeps a selected value that the results no longer count', () => {
    expect(mergeSelected([{ value: 'go', count: 2 }], ['rust', 'go'])).toEqual([
      { value: 'go', count: 2 },
      { value: 'rust', count: 0 },
    ]);
  });
});

describe('FacetGroup', () => {
  it('is a labelled group of labelled checkboxes', () => {
    const onToggle = vi.fn();
    render(
      <FacetGroup
        facet="status"
        legend="Status"
        facets={[{ value: 'active', count: 3 }]}
        selected={['ended']}
        label={(v) => v.toUpperCase()}
        onToggle={onToggle}
      />,
    );
    expect(screen.getByRole('group', { name: 'Status' })).toBeTruthy();
    const ended = screen.getByRole('checkbox', { name: 'ENDED (0)' }) as HTMLInputElement;
    expect(ended.checked).toBe(true);
    fireEvent.click(screen.getByRole('checkbox', { name: 'ACTIVE (3)' }));
    expect(onToggle).toHaveBeenCalledWith('active');
  });
});
