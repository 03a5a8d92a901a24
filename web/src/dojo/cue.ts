/** A short two-tone chime for the rotation (Web Audio; silent where audio is unavailable). */
export function playChime(): void {
  try {
    const AudioContextClass = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!AudioContextClass) return;
    const context = new AudioContextClass();
    [660, 880].forEach((frequency, index) => {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.15, context.currentTime + index * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + index * 0.18 + 0.3);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(context.currentTime + index * 0.18);
      oscillator.stop(context.currentTime + index * 0.18 + 0.3);
    });
    setTimeout(() => void context.close(), 1000);
  } catch {
    /* no audio: the visual cue remains */
  }
}

/** mm:ss of `ms` milliseconds, never negative; `--:--` when there is no running turn. */
export function timeLeft(ms: number | null): string {
  if (ms === null) return '--:--';
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

type TimerReading = {
  state: 'stopped' | 'running' | 'paused';
  remaining_ms: number | null;
  /** Our clock (ms) when the server's answer arrived. */
  received: number;
};

/**
 * What is left of the turn at `now`: the server's `remaining_ms` (as of its answer) minus the
 * time that passed on our clock since, so a client whose clock is off still counts right.
 */
export function remainingMs(timer: TimerReading, now: number): number | null {
  if (timer.remaining_ms === null || timer.state === 'stopped') return null;
  if (timer.state === 'paused') return timer.remaining_ms;
  return Math.max(0, timer.remaining_ms - (now - timer.received));
}
