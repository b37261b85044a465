// Limiter keys for client addresses. Only a real address becomes a key: ports, brackets and junk
// never make budgets of their own. IPv4-mapped IPv6 folds to IPv4; IPv6 is keyed by its subnet and
// also by a wider prefix, so one allocation cannot multiply a budget by 65,536.
import { isIP, isIPv4, isIPv6 } from 'node:net';

/** Longest text looked at as an address: a forwarded header can carry anything. */
const MAX_ADDRESS_LENGTH = 64;

/**
 * A usable address from what Express reports, or null. Accepts `1.2.3.4:5678`, `[2001:db8::1]`
 * and `[2001:db8::1]:443` as their address; refuses anything `net.isIP` does not (leading zeros,
 * names, junk).
 */
export function parseAddress(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_ADDRESS_LENGTH) return null;
  let text = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  // A zone id (fe80::1%eth0) names the interface, not the client.
  text = text.split('%')[0]!;
  return isIP(text) === 0 ? null : text.toLowerCase();
}

function expandIPv6(address: string): number[] | null {
  let text = address;
  // A trailing dotted quad (::ffff:1.2.3.4 and friends) becomes two hextets.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const parts = quad[1]!.split('.').map(Number);
    text = `${text.slice(0, -quad[1]!.length)}${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return null;
  return [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right].map((h) => parseInt(h, 16));
}

function prefix(hextets: readonly number[], bits: number): string {
  const kept = hextets.map((hextet, index) => {
    const bitsLeft = bits - index * 16;
    if (bitsLeft >= 16) return hextet;
    if (bitsLeft <= 0) return 0;
    return hextet & (0xffff << (16 - bitsLeft)) & 0xffff;
  });
  return `${kept.map((h) => h.toString(16)).join(':')}/${bits}`;
}

/** The keys a client is limited under: its own (IPv4, or IPv6 subnet), then its wider IPv6 prefix. */
export interface ClientIpKeys {
  readonly narrow: string;
  /** Only for IPv6 (and only when it is wider than `narrow`). */
  readonly wide: string | null;
}

export function clientIpKeys(address: string | null, subnetBits: number, wideBits: number): ClientIpKeys {
  if (address === null) return { narrow: 'unknown', wide: null };
  if (isIPv4(address)) return { narrow: address, wide: null };
  const hextets = isIPv6(address) ? expandIPv6(address) : null;
  if (!hextets) return { narrow: 'unknown', wide: null };
  const isMapped = hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff;
  if (isMapped) return { narrow: `${hextets[6]! >> 8}.${hextets[6]! & 255}.${hextets[7]! >> 8}.${hextets[7]! & 255}`, wide: null };
  return { narrow: prefix(hextets, subnetBits), wide: wideBits < subnetBits ? prefix(hextets, wideBits) : null };
}
