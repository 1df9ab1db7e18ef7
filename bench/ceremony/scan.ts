/**
 * Looks for secret bytes where they must not be: in another process's memory (/proc/PID/mem, every
 * readable mapping) and in files (the coordinator's SQLite database and WAL). Each needle is
 * searched as raw bytes; hex needles are searched as their lowercase ASCII text.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';

export interface Needle {
  readonly label: string;
  readonly bytes: Buffer;
}

export interface ScanResult {
  readonly target: string;
  readonly regions: number;
  readonly bytesScanned: number;
  readonly unreadableRegions: number;
  readonly ms: number;
  /** Occurrences per needle label. */
  readonly hits: Readonly<Record<string, number>>;
  readonly error?: string;
}

function countIn(hay: Buffer, needle: Buffer, from: number): number {
  let n = 0;
  let at = hay.indexOf(needle, from);
  while (at !== -1) {
    n++;
    at = hay.indexOf(needle, at + 1);
  }
  return n;
}

const CHUNK = 16 * 1024 * 1024;

export function scanProcess(pid: number, needles: readonly Needle[]): ScanResult {
  const t0 = performance.now();
  const hits: Record<string, number> = Object.fromEntries(needles.map((n) => [n.label, 0]));
  const maxLen = Math.max(...needles.map((n) => n.bytes.length));
  let regions = 0;
  let unreadable = 0;
  let scanned = 0;
  let fd: number;
  let maps: string;
  try {
    maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    fd = openSync(`/proc/${pid}/mem`, 'r');
  } catch (e) {
    return {
      target: `pid ${pid}`,
      regions: 0,
      bytesScanned: 0,
      unreadableRegions: 0,
      ms: performance.now() - t0,
      hits,
      error: e instanceof Error ? e.message : String(e),
    };
  }
  const buf = Buffer.allocUnsafe(CHUNK + maxLen);
  try {
    for (const line of maps.split('\n')) {
      const [range, perms, , , , path] = line.trim().split(/\s+/);
      if (range === undefined || perms === undefined || !perms.startsWith('r')) continue;
      if (path === '[vvar]' || path === '[vsyscall]' || path === '[vvar_vclock]') continue;
      const [a, b] = range.split('-');
      const start = Number.parseInt(a ?? '', 16);
      const end = Number.parseInt(b ?? '', 16);
      if (!Number.isFinite(start) || !Number.isFinite(end)) continue;
      regions++;
      let carry = 0;
      for (let pos = start; pos < end; pos += CHUNK) {
        const len = Math.min(CHUNK, end - pos);
        let got: number;
        try {
          got = readSync(fd, buf, carry, len, pos);
        } catch {
          unreadable++;
          carry = 0;
          break;
        }
        const view = buf.subarray(0, carry + got);
        for (const n of needles) {
          // Count matches that end inside the new bytes (the carried tail was searched before).
          const from = Math.max(0, carry - n.bytes.length + 1);
          hits[n.label] = (hits[n.label] ?? 0) + countIn(view, n.bytes, from);
        }
        scanned += got;
        const keep = Math.min(maxLen - 1, view.length);
        view.copy(buf, 0, view.length - keep);
        carry = keep;
        if (got < len) break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return {
    target: `pid ${pid}`,
    regions,
    bytesScanned: scanned,
    unreadableRegions: unreadable,
    ms: performance.now() - t0,
    hits,
  };
}

export function scanFiles(paths: readonly string[], needles: readonly Needle[]): ScanResult {
  const t0 = performance.now();
  const hits: Record<string, number> = Object.fromEntries(needles.map((n) => [n.label, 0]));
  let scanned = 0;
  let regions = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const data = readFileSync(p);
    regions++;
    scanned += data.length;
    for (const n of needles) hits[n.label] = (hits[n.label] ?? 0) + countIn(data, n.bytes, 0);
  }
  return {
    target: paths.filter((p) => existsSync(p)).join(', '),
    regions,
    bytesScanned: scanned,
    unreadableRegions: 0,
    ms: performance.now() - t0,
    hits,
  };
}

/** Needles for a secret: its raw bytes and its lowercase hex text. */
export function needlesFor(label: string, secret: Uint8Array): Needle[] {
  const raw = Buffer.from(secret);
  return [
    { label: `${label} (raw)`, bytes: raw },
    { label: `${label} (hex)`, bytes: Buffer.from(raw.toString('hex'), 'latin1') },
  ];
}
