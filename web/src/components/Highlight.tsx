import type { ReactNode } from 'react';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#x27': "'", '#39': "'" };
const decode = (text: string) => text.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (_, name: string) => ENTITIES[name]);

/**
 * Render the search service's highlight (HTML-escaped text with `<mark>` around matches) as
 * React nodes, never as HTML: whatever the excerpt holds, only `<mark>` becomes markup.
 */
export function Highlight({ html }: { html: string }): ReactNode {
  const parts = html.split(/<mark>|<\/mark>/);
  return parts.map((part, index) => (index % 2 === 1 ? <mark key={index}>{decode(part)}</mark> : decode(part)));
}
