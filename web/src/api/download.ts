// Handing a file to the browser as a download.

/** Download what ``url`` points at as ``filename`` (``download`` names it for a same-origin
 * link; a presigned S3 link carries its own Content-Disposition). */
export function saveLink(url: string, filename: string): void {
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
}

/** Download ``blob`` (already fetched through the authenticated client) as ``filename``. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  saveLink(url, filename);
  // Revoked later, not at once: the browser starts the download after the click returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
