// Link tokens: CSPRNG secrets that only ever reach the store as digests, plus the sealed payload
// (email and redirect) that only the token itself can open.
//
// A token is `<tag><id><secret>`: the email's 3-character hash tag, the 11-character id its record
// is stored under, and 32 random characters. The id is the digest of the link's exchange code bound
// to the email, so a link and its code are one record, found from either: the token carries the id,
// and `{email, code}` recomputes it. The store also keeps a digest of the whole token and refuses a
// token whose digest differs, so knowing an id (or guessing a code) never makes a working link.
import { createCipheriv, createDecipheriv, createHash, randomInt } from 'node:crypto';
import { randomBytesFromPool } from './random-pool.js';

/** Characters of hash tag at the front of a token (18 bits of the email digest). */
export const TAG_LENGTH = 3;
/** Characters of record id: 64 bits of the code digest, base64url. */
const ID_LENGTH = 11;
/** 24 random bytes = 192 bits = 32 base64url characters. */
const RANDOM_BYTES = 24;
export const TOKEN_LENGTH = TAG_LENGTH + ID_LENGTH + (RANDOM_BYTES * 4) / 3;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{46}$/;

/** How the store finds and checks a token's record; the token itself is never stored. */
export interface TokenKey {
  /** Shared by every record of one email, so that a Redis Cluster script stays in one slot. */
  readonly tag: string;
  /** The record's id: the digest of its exchange code (`codeDigest`), unique among the email's records. */
  readonly id: string;
  /** 64 bits of the token's SHA-256: the store answers not found unless it matches. */
  readonly check: string;
}

export interface SealedContent {
  email: string;
  redirect: string | null;
}

function sha256(input: string): Buffer {
  return createHash('sha256').update(input).digest();
}

/** The digest that stands for an email in store keys and events; the address is never stored. */
export function emailDigest(normalizedEmail: string): string {
  return sha256(`express-magic-link/email\0${normalizedEmail}`).toString('base64url');
}

export function tagOfEmailDigest(digest: string): string {
  return digest.slice(0, TAG_LENGTH);
}

/** A new token for the record `id` (a code digest) of the email with hash tag `tag`. */
export function newToken(tag: string, id: string): string {
  return tag + id + randomBytesFromPool(RANDOM_BYTES).toString('base64url');
}

/** Cheap shape check so malformed tokens are answered without a store round trip. */
export function isWellFormedToken(value: string): boolean {
  return value.length === TOKEN_LENGTH && TOKEN_SHAPE.test(value);
}

/** A well-formed token's lookup key and check. */
export function tokenKey(token: string): TokenKey {
  return {
    tag: token.slice(0, TAG_LENGTH),
    id: token.slice(TAG_LENGTH, TAG_LENGTH + ID_LENGTH),
    check: sha256(token).subarray(0, 8).toString('base64url'),
  };
}

function sealKey(token: string): Buffer {
  return sha256(`express-magic-link/seal\0${token}`);
}

// Each key derives from one token and seals exactly one message, so a fixed nonce never repeats
// under a key; it saves 12 bytes per stored link. A 96-bit tag (GCM's shortest recommended) saves 4.
const NONCE = Buffer.alloc(12);
const TAG_BYTES = 12;

/** AES-256-GCM under a key derived from the token: a store dump shows no address or redirect. */
export function seal(token: string, content: SealedContent): string {
  const cipher = createCipheriv('aes-256-gcm', sealKey(token), NONCE, { authTagLength: TAG_BYTES });
  // Neither part can hold a newline: emails and redirects with control characters are refused.
  const body = Buffer.concat([cipher.update(`${content.email}\n${content.redirect ?? ''}`, 'utf8'), cipher.final()]);
  return Buffer.concat([body, cipher.getAuthTag()]).toString('base64url');
}

/** Opens a sealed payload; null when it was not sealed for this token (or was tampered with). */
export function unseal(token: string, sealed: string): SealedContent | null {
  try {
    const bytes = Buffer.from(sealed, 'base64url');
    if (bytes.length < TAG_BYTES) return null;
    const decipher = createDecipheriv('aes-256-gcm', sealKey(token), NONCE, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const text = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    const newline = text.indexOf('\n');
    if (newline <= 0) return null;
    const redirect = text.slice(newline + 1);
    return { email: text.slice(0, newline), redirect: redirect === '' ? null : redirect };
  } catch {
    return null;
  }
}

/** A 6-digit exchange code from the CSPRNG (never Math.random). */
export function newCode(): string {
  return randomInt(0, 1_000_000).toString().padStart(6, '0');
}

export function isWellFormedCode(value: string): boolean {
  return /^\d{6}$/.test(value);
}

/**
 * What the store keeps of a code, and the id of its record: 64 bits of a digest bound to the email,
 * never the digits. Two live records of one email cannot share it; the store refuses the second.
 */
export function codeDigest(emailDigestValue: string, code: string): string {
  return sha256(`express-magic-link/code\0${emailDigestValue}\0${code}`).subarray(0, 8).toString('base64url');
}

/** The short form of an email digest that names the email's state in the store (72 bits, 90 with the tag). */
export function emailKeyOf(emailDigestValue: string): string {
  return emailDigestValue.slice(0, 12);
}
