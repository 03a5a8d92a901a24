import { cpp } from '@codemirror/lang-cpp';
import { go } from '@codemirror/lang-go';
import { java } from '@codemirror/lang-java';
import { javascript } from '@codemirror/lang-javascript';
import { python } from '@codemirror/lang-python';
import { rust } from '@codemirror/lang-rust';
import type { Extension } from '@codemirror/state';

/** The dojo languages the editor highlights; anything else is plain text. */
export const LANGUAGES: Record<string, () => Extension> = {
  python: () => python(),
  javascript: () => javascript(),
  typescript: () => javascript({ typescript: true }),
  java: () => java(),
  go: () => go(),
  rust: () => rust(),
  cpp: () => cpp(),
};

export const LANGUAGE_NAMES: Record<string, string> = {
  python: 'Python',
  javascript: 'JavaScript',
  typescript: 'TypeScript',
  java: 'Java',
  go: 'Go',
  rust: 'Rust',
  cpp: 'C++',
};

/** The display name of a dojo language (the service keeps it as typed). */
export function languageName(name: string): string {
  return LANGUAGE_NAMES[name.toLowerCase()] ?? name;
}

export function languageExtension(name: string): Extension {
  const factory = LANGUAGES[name.toLowerCase()];
  return factory ? factory() : [];
}

const PALETTE = [0, 30, 120, 165, 200, 230, 270, 300, 330];

/** A stable colour per user, readable on white, for cursors and the participant list. */
export function userColor(userId: string): { color: string; light: string } {
  let hash = 2166136261;
  for (const char of userId) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  const hue = PALETTE[hash % PALETTE.length];
  return { color: `hsl(${hue} 65% 28%)`, light: `hsl(${hue} 65% 28% / 0.2)` };
}
