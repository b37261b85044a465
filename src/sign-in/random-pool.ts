// CSPRNG bytes drawn from a pooled buffer: one randomFillSync per 4 KiB instead of one per token.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** Where the next `size` fresh bytes start in the pool (refilled when short). */
function take(size: number): number {
  if (offset + size > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += size;
  return start;
}

/** `size` fresh random bytes (at most the pool size); every byte is handed out once. */
export function randomBytesFromPool(size: number): Buffer {
  const start = take(size);
  // A copy, so that a later refill never changes bytes already handed out.
  return Buffer.from(pool.subarray(start, start + size));
}

/** `count` characters drawn from a 32-character alphabet, straight from the pool (no copy). */
export function randomBase32(alphabet: string, count: number): string {
  const start = take(count);
  let text = '';
  for (let i = start; i < start + count; i++) text += alphabet[pool[i]! & 31];
  return text;
}
