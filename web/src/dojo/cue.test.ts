import { describe, expect, it } from 'vitest';
import { timeLeft } from './cue';
import { userColor } from './languages';

describe('rotation timer', () => {
  it('counts down in mm:ss and stops at zero', () => {
    const now = Date.parse('2026-01-01T10:00:00Z');
    expect(timeLeft('2026-01-01T10:05:30Z', now)).toBe('05:30');
    expect(timeLeft('2026-01-01T09:00:00Z', now)).toBe('00:00');
    expect(timeLeft(null, now)).toBe('--:--');
  });
  it('gives each user a stable colour', () => {
    expect(userColor('a').color).toBe(userColor('a').color);
  });
});
