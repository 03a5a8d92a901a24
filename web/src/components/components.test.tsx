import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/http';
import { TextField } from './Field';
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
