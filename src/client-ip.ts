// Limiter keys for client addresses: IPv4-mapped IPv6 folds to IPv4, IPv6 is keyed by its subnet.
import { isIPv4, isIPv6 } from 'node:net';

function expandIPv6(address: string): number[] | null {
  let text = address.split('%')[0]!;
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

/**
 * The key a client address is limited under. `subnetBits` (default 64) groups IPv6 addresses, since
 * one subscriber usually holds a whole /64 and could otherwise rotate through it.
 */
export function clientIpKey(ip: string | undefined, subnetBits: number): string {
  if (!ip) return 'unknown';
  if (isIPv4(ip)) return ip;
  if (!isIPv6(ip)) return ip;
  const hextets = expandIPv6(ip);
  if (!hextets) return ip;
  const isMapped = hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff;
  if (isMapped) return `${hextets[6]! >> 8}.${hextets[6]! & 255}.${hextets[7]! >> 8}.${hextets[7]! & 255}`;
  const kept = hextets.map((hextet, index) => {
    const bitsLeft = subnetBits - index * 16;
    if (bitsLeft >= 16) return hextet;
    if (bitsLeft <= 0) return 0;
    return hextet & (0xffff << (16 - bitsLeft)) & 0xffff;
  });
  return `${kept.map((h) => h.toString(16)).join(':')}/${subnetBits}`;
}
