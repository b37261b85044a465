// Request ids: reuse a well-formed incoming X-Request-Id, otherwise mint `req_` + ULID.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBase32 } from '../sign-in/random-pool.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const INCOMING_ID = /^[A-Za-z0-9._-]{1,128}$/;
// A symbol-keyed property rather than a WeakMap: a WeakMap entry per request costs the GC far more.
const ASSIGNED = Symbol('express-magic-link request id');
type WithId = IncomingMessage & { [ASSIGNED]?: string };

/** A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32 (26 characters). */
export function ulid(now: number = Date.now()): string {
  return timePart(now) + randomBase32(CROCKFORD, 16);
}

// Requests arrive many per millisecond under load: encode each millisecond once.
let lastMs = -1;
let lastTime = '';
function timePart(now: number): string {
  if (now !== lastMs) {
    let time = '';
    let ms = now;
    for (let i = 0; i < 10; i++) {
      time = CROCKFORD[ms % 32] + time;
      ms = Math.floor(ms / 32);
    }
    lastMs = now;
    lastTime = time;
  }
  return lastTime;
}

/**
 * The id of this request, assigned once and echoed in `X-Request-Id` (idempotent, so every handler
 * and the error handler may call it).
 */
export function requestIdOf(req: IncomingMessage, res?: ServerResponse): string {
  let id = (req as WithId)[ASSIGNED];
  if (id === undefined) {
    const incoming = req.headers['x-request-id'];
    id = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : `req_${ulid()}`;
    (req as WithId)[ASSIGNED] = id;
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
