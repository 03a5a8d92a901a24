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

/** mm:ss of the time left until `endsAt`, never negative. */
export function timeLeft(endsAt: string | null, now: number): string {
  if (!endsAt) return '--:--';
  const seconds = Math.max(0, Math.round((Date.parse(endsAt) - now) / 1000));
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}
