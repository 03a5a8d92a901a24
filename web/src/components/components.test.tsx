import { render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter, useLocation } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/http';
import { I18nProvider } from '../i18n';
import { TextField } from './Field';
import { Flash } from './Flash';
import { Highlight } from './Highlight';

describe('Highlight', () => {
  it('turns only <mark> into markup and decodes entities as text', () => {
    const { container } = render(
      <p>
        <Highlight html={'a <mark>Pyth&lt;on</mark> &lt;script&gt;x&lt;/script&gt;'} />
      </p>,
    );
    expect(container.querySelector('mark')?.textContent).toBe('Pyth<on');
    expect(container.querySelector('script')).toBeNull();
    expect(container.textContent).toBe('a Pyth<on <script>x</script>');
  });
});

describe('TextField', () => {
  it('links the label and announces the error', () => {
    render(<TextField label="Name" name="name" error="Field required" />);
    const input = screen.getByLabelText('Name');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    const error = screen.getByRole('alert');
    expect(input.getAttribute('aria-describedby')).toContain(error.id);
  });
});

describe('ApiError', () => {
  it('maps problem+json errors to fields', () => {
    const error = new ApiError({
      title: 'Unprocessable',
      status: 422,
      errors: [
        { loc: ['body', 'name'], msg: 'String should have at least 1 character', type: 'string_too_short' },
        { loc: ['body', 'tags', 3], msg: 'too long', type: 'x' },
      ],
    });
    expect(error.fieldErrors()).toEqual({ name: 'String should have at least 1 character', tags: 'too long' });
  });
});

describe('Flash', () => {
  function Where() {
    const location = useLocation();
    return <span data-testid="where">{JSON.stringify(location.state)}</span>;
  }

  it('says the message once: the history entry forgets it, so a reload does not repeat it', async () => {
    render(
      <I18nProvider initial="en">
        <MemoryRouter initialEntries={[{ pathname: '/pocs', state: { flash: 'poc.deleted' } }]}>
          <Flash />
          <Where />
        </MemoryRouter>
      </I18nProvider>,
    );
    expect(screen.getByRole('status').textContent).toBe('Moved to the trash.');
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('null'));
    expect(screen.getByRole('status').textContent).toBe('Moved to the trash.');
  });
});
