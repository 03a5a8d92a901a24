import { describe, expect, it } from 'vitest';
import { fileText } from './api';

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
