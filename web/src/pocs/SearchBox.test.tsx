import { act, fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { I18nProvider } from '../i18n';
import { SearchBox } from './SearchBox';

function Harness({ onSubmit, fetchSuggestions }: { onSubmit: (v: string) => void; fetchSuggestions: never }) {
  const [value, setValue] = useState('');
  return <SearchBox value={value} onChange={setValue} onSubmit={onSubmit} fetchSuggestions={fetchSuggestions} />;
}

describe('SearchBox', () => {
  it('suggests as you type and picks a suggestion with the keyboard', async () => {
    vi.useFakeTimers();
    const fetchSuggestions = vi.fn().mockResolvedValue({ names: ['Python crawler'], tags: ['python'] });
    const onSubmit = vi.fn();
    render(
      <I18nProvider initial="en">
        <Harness onSubmit={onSubmit} fetchSuggestions={fetchSuggestions as never} />
      </I18nProvider>,
    );
    const box = screen.getByRole('combobox', { name: 'Search POCs' });
    fireEvent.change(box, { target: { value: 'pyhton' } });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(200);
    });
    expect(fetchSuggestions).toHaveBeenCalledWith('pyhton', expect.anything());
    expect(box.getAttribute('aria-expanded')).toBe('true');
    expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual(['Python crawler', '#python']);
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onSubmit).toHaveBeenCalledWith('python');
    vi.useRealTimers();
  });
});
