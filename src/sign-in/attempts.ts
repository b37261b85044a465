// Cross-device attempts (SPEC §8): what the asking browser holds, the match number, and how an
// attempt's stored state reads to the asking browser.
//
// The asking browser's cookie is `<tag><id><secret>`: its link's hash tag and record id (so the
// store finds the attempt with the link, in the same slot) and 256 random bits. The store keeps a
// keyed digest of the secret, and the address sealed under it, so only that browser can collect.
// The match number's digest is bound to the link (its tag and id), which both the asking browser
// and the approving device (through the token) know; the number itself is never stored readable.
import { randomInt } from 'node:crypto';
import type { AttemptRecord } from '../stores/contract.js';
import { randomBytesFromPool } from './random-pool.js';
import { TAG_LENGTH } from './tokens.js';

/** How long after its approval the asking browser may collect its sign-in. */
export const COLLECT_WINDOW_MS = 60_000;
/** How often the asking browser is told to poll (`Retry-After`). */
export const POLL_SECONDS = 2;
const ID_LENGTH = 11;
const SECRET_BYTES = 32;
const COOKIE_SHAPE = /^[A-Za-z0-9_-]{57}$/;
const MATCH_SHAPE = /^[1-9]\d$/;

/** The asking browser's share of a new attempt: its secret and the number its screen shows. */
export interface NewAttempt {
  readonly secret: string;
  readonly match: number;
}

export function newAttempt(): NewAttempt {
  // 10–99 from the CSPRNG: a guess is right one time in 90.
  return { secret: randomBytesFromPool(SECRET_BYTES).toString('base64url'), match: randomInt(10, 100) };
}

export function attemptCookieValue(tag: string, id: string, secret: string): string {
  return `${tag}${id}${secret}`;
}

/** A well-formed cookie naming no link, for a link withheld by `beforeSend`: it must look like a real one. */
export function decoyAttemptCookie(secret: string): string {
  return (
    randomBytesFromPool(11)
      .toString('base64url')
      .slice(0, TAG_LENGTH + ID_LENGTH) + secret
  );
}

/** The cookie's parts, or null when it is not one of ours. */
export function parseAttemptCookie(value: string | undefined): { tag: string; id: string; secret: string } | null {
  if (value === undefined || !COOKIE_SHAPE.test(value)) return null;
  return { tag: value.slice(0, TAG_LENGTH), id: value.slice(TAG_LENGTH, TAG_LENGTH + ID_LENGTH), secret: value.slice(TAG_LENGTH + ID_LENGTH) };
}

/** What the match digest is made of: the link (tag and id) and the number. */
export function matchInput(tag: string, id: string, match: number): string {
  return `${tag}${id}\0${match}`;
}

/** A typed match number: two digits, 10–99 (a person may type spaces around it). */
export function parseMatch(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  return MATCH_SHAPE.test(text) ? Number(text) : null;
}

export type AttemptStatusName = 'pending' | 'approved' | 'expired' | 'collected';

/** How a stored attempt reads to the asking browser at `now`. */
export function attemptStatusOf(record: AttemptRecord, now: number): AttemptStatusName {
  if (record.state === 'collected') return 'collected';
  if (record.revoked) return 'expired';
  if (record.state === 'approved') return record.approvedAt !== null && now - record.approvedAt < COLLECT_WINDOW_MS ? 'approved' : 'expired';
  if (record.state === 'denied' || record.usedAt !== null || now >= record.expiresAt) return 'expired';
  return 'pending';
}
