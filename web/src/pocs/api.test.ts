import { afterEach, describe, expect, it, vi } from 'vitest';
import { fileText, importPocs, keyFor } from './api';

describe('fileText', () => {
  it('reads a Windows-1252 file (a spreadsheet’s CSV in Brazil) with its accents', async () => {
    // "name\nAção,Café" as Windows-1252: ç = E7, ã = E3, é = E9
    const bytes = new Uint8Array([0x6e, 0x61, 0x6d, 0x65, 0x0a, 0x41, 0xe7, 0xe3, 0x6f, 0x2c, 0x43, 0x61, 0x66, 0xe9]);
    expect(await fileText(new Blob([bytes]))).toBe('name\nAção,Café');
  });

  it('reads UTF-8, with or without a byte-order mark', async () => {
    expect(await fileText(new Blob(['name\nAção 🚀']))).toBe('name\nAção 🚀');
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('name\nAção')]);
    expect(await fileText(new Blob([bom]))).toBe('name\nAção');
  });
});

describe('Idempotency-Key', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('keyFor keeps the key while the body is the same, and makes a new one for another', () => {
    const last = { current: null as { body: string; key: string } | null };
    const first = keyFor(last, 'a');
    expect(first).toBeTruthy();
    expect(keyFor(last, 'a')).toBe(first);
    const other = keyFor(last, 'b');
    expect(other).not.toBe(first);
    expect(keyFor(last, 'a')).not.toBe(first); // after another body, a new request
  });

  it('an import sends the key, a dry run none', async () => {
    const report = { total: 1, accepted: [1], rejected: [], imported: [], dry_run: false };
    const fetch = vi.fn(async () => new Response(JSON.stringify(report), { status: 201, headers: { 'content-type': 'application/json' } }));
    vi.stubGlobal('fetch', fetch);
    const file = new File(['name\nAção'], 'pocs.csv', { type: 'text/csv' });
    await importPocs(file, 'name\nAção', false, 'k-1');
    await importPocs(file, 'name\nAção', true, 'k-1');
    const sent = fetch.mock.calls.map((call) => ((call as unknown[])[1] as { headers: Record<string, string> }).headers['idempotency-key']);
    expect(sent).toEqual(['k-1', undefined]);
  });
});
