import { describe, expect, it } from 'vitest';
import { remainingMs, timeLeft } from './cue';
import { userColor } from './languages';

describe('rotation timer', () => {
  it('shows mm:ss and stops at zero', () => {
    expect(timeLeft(330_000)).toBe('05:30');
    expect(timeLeft(-5)).toBe('00:00');
    expect(timeLeft(null)).toBe('--:--');
  });
  it("counts down from the server's reading on our own clock", () => {
    const received = 1_000_000; // whatever our clock says: only the elapsed time matters
    expect(remainingMs({ state: 'running', remaining_ms: 60_000, received }, received + 15_000)).toBe(45_000);
    expect(remainingMs({ state: 'running', remaining_ms: 1_000, received }, received + 5_000)).toBe(0);
    expect(remainingMs({ state: 'paused', remaining_ms: 42_000, received }, received + 99_000)).toBe(42_000);
    expect(remainingMs({ state: 'stopped', remaining_ms: null, received }, received)).toBeNull();
  });
  it('gives each user a stable colour', () => {
    expect(userColor('a').color).toBe(userColor('a').color);
  });
});
