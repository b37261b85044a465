// CSPRNG bytes drawn from a pooled buffer: one randomFillSync per 4 KiB instead of one per token.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** `size` fresh random bytes (at most the pool size); every byte is handed out once. */
export function randomBytesFromPool(size: number): Buffer {
  if (offset + size > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  // A copy, so that a later refill never changes bytes already handed out.
  const bytes = Buffer.from(pool.subarray(offset, offset + size));
  offset += size;
  return bytes;
}
