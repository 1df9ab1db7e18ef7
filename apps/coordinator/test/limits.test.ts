// Per-address caps (THREATS C.41): the key an address is counted under, and the bounded table of
// challenge rate windows. One IPv6 /64 is one subscriber's allocation, so it counts as one address;
// an IPv4 client seen through a dual-stack socket (::ffff:a.b.c.d) counts as its IPv4 address.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RateWindows, addressKey, canonicalAddress, clientAddress } from '../src/limits.js';

const numRuns = Number(process.env['FC_NUM_RUNS'] ?? 20);

const word = fc.integer({ min: 0, max: 0xffff });
const words = (n: number) => fc.array(word, { minLength: n, maxLength: n });
const ipv4 = fc.ipV4();
/** An IPv6 address written out in full, and the same words written with `::` compression. */
const spellings = (w: number[]): string[] => {
  const hex = w.map((x) => x.toString(16));
  const full = hex.join(':');
  const out = [full, w.map((x) => x.toString(16).padStart(4, '0').toUpperCase()).join(':')];
  // Compress the longest run of zero words (any run is a valid spelling).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
  }
  if (bestLen > 0) {
    out.push(`${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`);
  }
  return out;
};

describe('addressKey', () => {
  it('keys IPv4 by the address and IPv6 by its /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::FFFF:cb00:7107')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0DB8:0001:0002:0:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    // Not an address (a socket already gone): counted under its own text.
    expect(addressKey('unknown')).toBe('unknown');
  });

  it('gives every address of one /64 the same key, in any spelling', () => {
    fc.assert(
      fc.property(words(4), words(4), words(4), (prefix, a, b) => {
        const keys = new Set(
          [...spellings([...prefix, ...a]), ...spellings([...prefix, ...b])].map(addressKey),
        );
        // ::ffff:0:0/96 is IPv4-mapped: a prefix of 0:0:0:0 with a = 0:ffff:… is an IPv4 address.
        fc.pre(!(prefix.every((x) => x === 0) && (a[0] === 0 || b[0] === 0)));
        expect(keys.size).toBe(1);
      }),
      { numRuns },
    );
  });

  it('gives addresses in different /64s different keys', () => {
    fc.assert(
      fc.property(words(8), words(8), (a, b) => {
        fc.pre(a.slice(0, 4).join() !== b.slice(0, 4).join());
        fc.pre(!a.slice(0, 4).every((x) => x === 0) && !b.slice(0, 4).every((x) => x === 0));
        expect(addressKey(spellings(a)[0]!)).not.toBe(addressKey(spellings(b)[0]!));
      }),
      { numRuns },
    );
  });

  it('keys an IPv4-mapped IPv6 address as its IPv4 address', () => {
    fc.assert(
      fc.property(ipv4, (v4) => {
        expect(addressKey(`::ffff:${v4}`)).toBe(v4);
        expect(addressKey(`0:0:0:0:0:FFFF:${v4}`)).toBe(v4);
        const [p, q, r, s] = v4.split('.').map(Number) as [number, number, number, number];
        const hex = `::ffff:${((p << 8) | q).toString(16)}:${((r << 8) | s).toString(16)}`;
        expect(addressKey(hex)).toBe(v4);
        expect(addressKey(v4)).toBe(v4);
      }),
      { numRuns },
    );
  });
});

describe('RateWindows', () => {
  it('allows perKey takes per window, then refuses until the window has passed', () => {
    const w = new RateWindows({ perKey: 3, windowMs: 1000, maxKeys: 10 });
    expect([0, 1, 2, 3].map((t) => w.take('a', t))).toEqual([true, true, true, false]);
    expect(w.take('b', 5)).toBe(true);
    expect(w.take('a', 999)).toBe(false);
    expect(w.take('a', 1000)).toBe(true);
  });

  it('when full, evicts the oldest window instead of resetting every address', () => {
    const w = new RateWindows({ perKey: 2, windowMs: 60_000, maxKeys: 3 });
    // The victim used up its window first; then the table fills with other addresses.
    expect(w.take('victim', 0)).toBe(true);
    expect(w.take('victim', 1)).toBe(true);
    expect(w.take('victim', 2)).toBe(false);
    for (let i = 0; i < 2; i++) expect(w.take(`other${i}`, 10 + i)).toBe(true);
    expect(w.take('busy', 20)).toBe(true);
    expect(w.take('busy', 21)).toBe(true);
    // A fourth address evicts only the oldest window (the victim's), never the busy one.
    expect(w.take('new', 30)).toBe(true);
    expect(w.size).toBe(3);
    expect(w.take('busy', 31)).toBe(false);
  });

  it('never holds more than maxKeys windows and keeps the newest', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (keys) => {
        const w = new RateWindows({ perKey: 1, windowMs: 1_000_000, maxKeys: 8 });
        keys.forEach((k, t) => w.take(String(k), t));
        expect(w.size).toBeLessThanOrEqual(8);
        const last = keys.at(-1);
        if (last !== undefined) expect(w.take(String(last), keys.length)).toBe(false);
      }),
      { numRuns },
    );
  });
});

describe('clientAddress (behind trusted reverse proxies)', () => {
  const proxies = new Set(['10.0.0.1', '0:0:0:0:0:0:0:1']);

  it('takes the right-most forwarded address that is not a trusted proxy, only from a trusted peer', () => {
    expect(clientAddress('10.0.0.1', '203.0.113.7', proxies)).toBe('203.0.113.7');
    expect(clientAddress('::ffff:10.0.0.1', '203.0.113.7', proxies)).toBe('203.0.113.7');
    expect(clientAddress('::1', ['198.51.100.1, 203.0.113.7', '10.0.0.1'], proxies)).toBe(
      '203.0.113.7',
    );
    // From any other peer the header is the client's own word: ignored.
    expect(clientAddress('198.51.100.9', '203.0.113.7', proxies)).toBe('198.51.100.9');
    // No header, only proxies in it, or no address where the proxy appends: the peer itself.
    expect(clientAddress('10.0.0.1', undefined, proxies)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', '10.0.0.1', proxies)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', '203.0.113.7, unknown', proxies)).toBe('10.0.0.1');
    // No trusted proxies: every peer is the client.
    expect(clientAddress('10.0.0.1', '203.0.113.7', new Set())).toBe('10.0.0.1');
  });

  it('a client cannot choose its key: whatever it puts in the header, the proxy’s entry decides', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(ipv4, fc.string()), { maxLength: 5 }), ipv4, (forged, real) => {
        fc.pre(!proxies.has(real));
        const header = [...forged, real].join(', ');
        expect(clientAddress('10.0.0.1', header, proxies)).toBe(real);
      }),
      { numRuns },
    );
  });

  it('canonicalAddress spells one address one way', () => {
    expect(canonicalAddress('::1')).toBe('0:0:0:0:0:0:0:1');
    expect(canonicalAddress('0:0::1')).toBe('0:0:0:0:0:0:0:1');
    expect(canonicalAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalAddress('proxy.internal')).toBeUndefined();
  });
});
