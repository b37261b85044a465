// Request ids: reuse a well-formed incoming X-Request-Id, otherwise mint `req_` + ULID.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytesFromPool } from './random-pool.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const INCOMING_ID = /^[A-Za-z0-9._-]{1,128}$/;
const assigned = new WeakMap<IncomingMessage, string>();

/** A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32 (26 characters). */
export function ulid(now: number = Date.now()): string {
  let time = '';
  let ms = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[ms % 32] + time;
    ms = Math.floor(ms / 32);
  }
  const bytes = randomBytesFromPool(16);
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[bytes[i]! & 31];
  return time + random;
}

/**
 * The id of this request, assigned once and echoed in `X-Request-Id` (idempotent, so every handler
 * and the error handler may call it).
 */
export function requestIdOf(req: IncomingMessage, res?: ServerResponse): string {
  let id = assigned.get(req);
  if (id === undefined) {
    const incoming = req.headers['x-request-id'];
    id = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : `req_${ulid()}`;
    assigned.set(req, id);
  }
  if (res && !res.headersSent && res.getHeader('X-Request-Id') !== id) res.setHeader('X-Request-Id', id);
  return id;
}

/**
 * Middleware that gives every response an `X-Request-Id`; mount it first so routes that are not
 * the library's carry the same id as its errors would.
 */
export function requestId() {
  return function requestIdMiddleware(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    requestIdOf(req, res);
    next();
  };
}
