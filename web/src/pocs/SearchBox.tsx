import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { useI18n } from '../i18n';
import { suggest } from './api';

type Props = {
  value: string;
  onChange: (value: string) => void;
  onSubmit: (value: string) => void;
  fetchSuggestions?: typeof suggest;
  /** The input's label and placeholder (default: those of the POC search). */
  label?: string;
  placeholder?: string;
};

/** A search input with as-you-type suggestions: the ARIA 1.2 combobox pattern (list autocomplete). */
export function SearchBox({ value, onChange, onSubmit, fetchSuggestions = suggest, label, placeholder }: Props) {
  const { t } = useI18n();
  const id = useId();
  const listId = `${id}-list`;
  const [options, setOptions] = useState<string[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const typed = useRef(false);

  useEffect(() => {
    if (!typed.current || value.trim().length < 2) {
      setOptions([]);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      fetchSuggestions(value.trim(), controller.signal)
        .then((out) => {
          const seen = new Set<string>();
          const next = [...out.names, ...out.tags.map((tag) => `#${tag}`)].filter((v) => !seen.has(v) && seen.add(v));
          setOptions(next);
          setOpen(next.length > 0);
          setActive(-1);
        })
        .catch(() => undefined);
    }, 150);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [value, fetchSuggestions]);

  const choose = (option: string) => {
    const text = option.startsWith('#') ? option.slice(1) : option;
    typed.current = false;
    onChange(text);
    onSubmit(text);
    setOpen(false);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'ArrowDown' && options.length) {
      event.preventDefault();
      setOpen(true);
      setActive((i) => (i + 1) % options.length);
    } else if (event.key === 'ArrowUp' && options.length) {
      event.preventDefault();
      setActive((i) => (i <= 0 ? options.length - 1 : i - 1));
    } else if (event.key === 'Enter') {
      event.preventDefault();
      if (open && active >= 0) choose(options[active]);
      else {
        setOpen(false);
        onSubmit(value);
      }
    } else if (event.key === 'Escape') setOpen(false);
  };

  return (
    <div className="searchbox">
      <label htmlFor={id}>{label ?? t('pocs.search')}</label>
      <input
        id={id}
        type="search"
        role="combobox"
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && active >= 0 ? `${listId}-${active}` : undefined}
        autoComplete="off"
        placeholder={placeholder ?? t('pocs.searchPlaceholder')}
        value={value}
        onChange={(event) => {
          typed.current = true;
          onChange(event.target.value);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
      />
      <ul id={listId} role="listbox" aria-label={t('pocs.suggestions')} hidden={!open}>
        {options.map((option, index) => (
          <li
            key={option}
            id={`${listId}-${index}`}
            role="option"
            aria-selected={index === active}
            onMouseDown={(event) => {
              event.preventDefault();
              choose(option);
            }}
          >
            {option}
          </li>
        ))}
      </ul>
    </div>
  );
}
