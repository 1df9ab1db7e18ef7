// Strict standard base64 (RFC 4648 §4, padded). Node's decoder skips characters outside the
// alphabet, so hostile text is checked against the alphabet and re-encoded before it is trusted.

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decodes canonical padded base64, or returns undefined (wrong alphabet, padding, or bits). */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!B64_RE.test(text)) return undefined;
  const buf = Buffer.from(text, 'base64');
  // Non-zero trailing bits would make two texts decode to the same bytes: refuse them.
  if (buf.toString('base64') !== text) return undefined;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
