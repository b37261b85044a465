// Link tokens and every digest the store, the limiters and the events hold.
//
// A token is `<tag><id><secret>`: the email's 3-character hash tag, the 11-character id its record
// is stored under, and 32 random characters (192 bits). The id is the keyed digest of the link's
// exchange code bound to the email, so a link and its code are one record, found from either: the
// token carries the id, and `{email, code}` recomputes it. The store also keeps a keyed digest of
// the whole token and refuses a token whose digest differs, so knowing an id never makes a link.
//
// Every digest is an HMAC-SHA256 under a server-side secret that never enters the store: without
// it, a dump and a list of addresses yield no address, no code and no token.
import * as crypto from 'node:crypto';
import { createCipheriv, createDecipheriv, createHash, createHmac, createSecretKey, randomInt, type KeyObject } from 'node:crypto';
import type { TokenKey } from '../stores/contract.js';
import { randomBytesFromPool } from './random-pool.js';

/** Characters of hash tag at the front of a token (18 bits of the email digest). */
export const TAG_LENGTH = 3;
/** Characters of record id: 64 bits of the code digest, base64url. */
const ID_LENGTH = 11;
/** 24 random bytes = 192 bits = 32 base64url characters. */
const RANDOM_BYTES = 24;
export const TOKEN_LENGTH = TAG_LENGTH + ID_LENGTH + (RANDOM_BYTES * 4) / 3;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{46}$/;
const CODE_SHAPE = /^\d{6}$/;

/**
 * The server-side secrets and every keyed digest made with them. The first secret makes new
 * records; the others (during a rotation) still open links issued under them.
 */
const PSEUDONYM_CACHE = 10_000;

export class Keyring {
  // Key objects, made once: an HMAC keyed with a Buffer imports the key anew every time.
  readonly #keys: readonly KeyObject[];
  readonly #pseudonyms = new Map<string, string>();

  constructor(secrets: readonly string[]) {
    this.#keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  }

  /** How many secrets are accepted (more than one while rotating). */
  get size(): number {
    return this.#keys.length;
  }

  #mac(index: number, label: string, text: string): Buffer {
    return createHmac('sha256', this.#keys[index]!).update(`${label}\0${text}`).digest();
  }

  /** The digest that stands for an email in store keys and events; the address is never stored. */
  emailDigest(normalizedEmail: string, index = 0): string {
    return this.#mac(index, 'email', normalizedEmail).toString('base64url');
  }

  /** What the store keeps of a code, and the id of its record: 64 bits bound to the email, never the digits. */
  codeDigest(emailDigestValue: string, code: string, index = 0): string {
    return this.#mac(index, 'code', `${emailDigestValue}\0${code}`).subarray(0, 8).toString('base64url');
  }

  /** A client's limiter key as the store and the events see it: a pseudonym, never the IP. */
  ipPseudonym(ipKey: string): string {
    // A client sends many requests: remember recent pseudonyms (bounded, so a spray cannot grow it).
    let pseudonym = this.#pseudonyms.get(ipKey);
    if (pseudonym === undefined) {
      if (this.#pseudonyms.size >= PSEUDONYM_CACHE) this.#pseudonyms.clear();
      pseudonym = this.#mac(0, 'ip', ipKey).subarray(0, 12).toString('base64url');
      this.#pseudonyms.set(ipKey, pseudonym);
    }
    return pseudonym;
  }

  /** A well-formed token's lookup key, with its check under every accepted secret. */
  tokenKey(token: string): TokenKey {
    const checks = this.#keys.map((_, index) => this.#mac(index, 'token', token).subarray(0, 8).toString('base64url'));
    return {
      tag: token.slice(0, TAG_LENGTH),
      id: token.slice(TAG_LENGTH, TAG_LENGTH + ID_LENGTH),
      check: checks[0]!,
      ...(checks.length > 1 ? { formerChecks: checks.slice(1) } : {}),
    };
  }

  /**
   * A value derived from a browser's secret for one purpose: the confirm form's nonce, a redeem's
   * binding, a cross-device attempt's check, and its match number (`<secret>\0<number>`).
   */
  browserDigest(purpose: 'nonce' | 'binding' | 'attempt' | 'match', browserSecret: string): string {
    return this.#mac(0, purpose, browserSecret).subarray(0, 16).toString('base64url');
  }
}

/** The hash tag of an email digest: every key of one email's sign-ins carries it. */
export function tagOfEmailDigest(digest: string): string {
  return digest.slice(0, TAG_LENGTH);
}

/** The short form of an email digest that names the email's state in the store (72 bits). */
export function emailKeyOf(emailDigestValue: string): string {
  return emailDigestValue.slice(0, 12);
}

/** A new token for the record `id` (a code digest) of the email with hash tag `tag`. */
export function newToken(tag: string, id: string): string {
  return tag + id + randomBytesFromPool(RANDOM_BYTES).toString('base64url');
}

/** Cheap shape check so malformed tokens are answered without a store round trip. */
export function isWellFormedToken(value: string): boolean {
  return value.length === TOKEN_LENGTH && TOKEN_SHAPE.test(value);
}

/** A 6-digit exchange code from the CSPRNG (never Math.random). */
export function newCode(): string {
  return randomInt(0, 1_000_000).toString().padStart(6, '0');
}

export function isWellFormedCode(value: string): boolean {
  return CODE_SHAPE.test(value);
}

export interface SealedContent {
  email: string;
  redirect: string | null;
  /** The app's data for this link, as JSON (no raw newline: JSON escapes them). */
  data?: string | undefined;
  /**
   * A cross-device attempt's details, no newline: sealed with the link, when and from what kind of
   * browser it was asked (`<ms>:<family>`); sealed with the attempt, its match number.
   */
  attempt?: string | undefined;
}

// One-shot hashing (Node 20.12+) skips making a Hash object: a third of the time for a short input.
const oneShotHash = (crypto as { hash?: typeof crypto.hash }).hash;

function sealKey(token: string): Buffer {
  const input = `express-magic-link/seal\0${token}`;
  return oneShotHash ? oneShotHash('sha256', input, 'buffer') : createHash('sha256').update(input).digest();
}

// Each key derives from one token and seals exactly one message, so a fixed nonce never repeats
// under a key; it saves 12 bytes per stored link. A 96-bit tag (GCM's shortest recommended) saves 4.
const NONCE = Buffer.alloc(12);
const TAG_BYTES = 12;
/** Plaintext sizes a sealed payload is padded to, so its length says little about the address. */
const PAD_BUCKETS = [32, 64, 128, 256, 512, 1024, 2048, 4096];

function padded(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const size = PAD_BUCKETS.find((bucket) => bucket >= bytes.length) ?? bytes.length;
  // Zero bytes cannot occur in an email or a redirect (controls are refused), so they mark the end.
  return Buffer.concat([bytes, Buffer.alloc(size - bytes.length)]);
}

/** AES-256-GCM under a key derived from the token: a store dump shows no address or redirect. */
export function seal(token: string, content: SealedContent): string {
  const cipher = createCipheriv('aes-256-gcm', sealKey(token), NONCE, { authTagLength: TAG_BYTES });
  // No part can hold a newline: emails and redirects with control characters are refused, JSON escapes them.
  const tail = content.attempt === undefined ? (content.data === undefined ? [] : [content.data]) : [content.data ?? '', content.attempt];
  const text = [content.email, content.redirect ?? '', ...tail].join('\n');
  const body = Buffer.concat([cipher.update(padded(text)), cipher.final()]);
  return Buffer.concat([body, cipher.getAuthTag()]).toString('base64url');
}

/** Opens a sealed payload; null when it was not sealed for this token (or was tampered with). */
export function unseal(token: string, sealed: string): SealedContent | null {
  try {
    const bytes = Buffer.from(sealed, 'base64url');
    if (bytes.length < TAG_BYTES) return null;
    const decipher = createDecipheriv('aes-256-gcm', sealKey(token), NONCE, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]);
    const end = plain.indexOf(0);
    const text = (end === -1 ? plain : plain.subarray(0, end)).toString('utf8');
    const newline = text.indexOf('\n');
    if (newline <= 0) return null;
    // email \n redirect [\n data [\n attempt]]: records sealed before data existed have no second
    // newline; data is empty (never valid JSON) when an attempt follows without any.
    const [redirect = '', data, attempt] = text.slice(newline + 1).split('\n', 3);
    return {
      email: text.slice(0, newline),
      redirect: redirect === '' ? null : redirect,
      ...(data === undefined || data === '' ? {} : { data }),
      ...(attempt === undefined ? {} : { attempt }),
    };
  } catch {
    return null;
  }
}
