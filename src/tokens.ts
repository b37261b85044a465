// Link tokens: CSPRNG secrets that only ever reach the store as digests, plus the sealed payload
// (email and redirect) that only the token itself can open.
import { createCipheriv, createDecipheriv, createHash, randomInt } from 'node:crypto';
import { randomBytesFromPool } from './random-pool.js';

/** Characters of hash tag at the front of a token (18 bits of the email digest). */
export const TAG_LENGTH = 3;
/** 30 random bytes = 240 bits = 40 base64url characters. */
const RANDOM_BYTES = 30;
export const TOKEN_LENGTH = TAG_LENGTH + (RANDOM_BYTES * 4) / 3;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** How the store finds a token's record: the digest, and the hash tag shared by one email's records. */
export interface TokenKey {
  /** Shared by every record of one email, so that a Redis Cluster script stays in one slot. */
  readonly tag: string;
  /** base64url of the first 128 bits of the token's SHA-256; the token itself is never stored. */
  readonly digest: string;
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

export function newToken(tag: string): string {
  return tag + randomBytesFromPool(RANDOM_BYTES).toString('base64url');
}

/** Cheap shape check so malformed tokens are answered without a store round trip. */
export function isWellFormedToken(value: string): boolean {
  return value.length === TOKEN_LENGTH && TOKEN_SHAPE.test(value);
}

/** A token's lookup key: 128 bits of its SHA-256 are plenty for an id and keep Redis keys short. */
export function tokenKey(token: string): TokenKey {
  return { tag: token.slice(0, TAG_LENGTH), digest: sha256(token).subarray(0, 16).toString('base64url') };
}

function sealKey(token: string): Buffer {
  return sha256(`express-magic-link/seal\0${token}`);
}

// Each key derives from one token and seals exactly one message, so a fixed nonce never repeats
// under a key; it saves 12 bytes per stored link.
const NONCE = Buffer.alloc(12);

/** AES-256-GCM under a key derived from the token: a store dump shows no address or redirect. */
export function seal(token: string, content: SealedContent): string {
  const cipher = createCipheriv('aes-256-gcm', sealKey(token), NONCE);
  // Neither part can hold a newline: emails and redirects with control characters are refused.
  const body = Buffer.concat([cipher.update(`${content.email}\n${content.redirect ?? ''}`, 'utf8'), cipher.final()]);
  return Buffer.concat([body, cipher.getAuthTag()]).toString('base64url');
}

/** Opens a sealed payload; null when it was not sealed for this token (or was tampered with). */
export function unseal(token: string, sealed: string): SealedContent | null {
  try {
    const bytes = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', sealKey(token), NONCE);
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const text = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString('utf8');
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

/** What the store keeps of a code: 64 bits of a digest bound to the email, never the digits. */
export function codeDigest(emailDigestValue: string, code: string): string {
  return sha256(`express-magic-link/code\0${emailDigestValue}\0${code}`).subarray(0, 8).toString('base64url');
}

/** The short form of an email digest that groups one email's records in the store (132 bits). */
export function emailKeyOf(emailDigestValue: string): string {
  return emailDigestValue.slice(0, 22);
}
