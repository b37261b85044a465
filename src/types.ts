// Public types: options (each with its default), the mailer contract and the token store interface.
import type { Request } from 'express';
import type { Authenticator } from 'passport';
import type { MagicLinkEvent } from './events.js';
import type { RedisClient } from './stores/redis-client.js';
import type { TokenKey } from './tokens.js';

export type { TokenKey };

/** What the mailer is asked to deliver for one sign-in. */
export interface MagicLinkMessage {
  /** The canonical address: trimmed, NFC, lower-cased, domain in ASCII. */
  readonly to: string;
  /** The confirm-page link, built from `baseUrl` only (never from the request's Host). */
  readonly url: string;
  /** The 6-digit exchange code, for reading the mail on another device: `POST {email, code}`. */
  readonly code: string;
  readonly expiresAt: Date;
  /** The request that asked for the link, e.g. for locale or logging. */
  readonly request: Request;
}

/** Delivers link mails. A rejection or a timeout answers `email_delivery_failed` and voids the link. */
export interface Mailer {
  send(message: MagicLinkMessage): Promise<void>;
}

/** Budgets; each key is blocked for `blockSeconds` once its budget is spent. */
export interface LimitOptions {
  /** Link requests from one client IP per window. Default `20`. */
  linkRequestsPerIp?: number;
  /** Link requests for one email per window. Default `5`. */
  linkRequestsPerEmail?: number;
  /** Failed verifies (unknown, expired or used tokens) from one client IP per window. Default `20`. */
  failedVerifiesPerIp?: number;
  /** Wrong exchange codes from one client IP per window; past it even a right code is refused. Default `10`. */
  failedExchangesPerIp?: number;
  /** Wrong exchange codes for one email, from any IPs, per window. Default `20`. */
  failedExchangesPerEmail?: number;
  /** Length of the counting window. Default `3600`. */
  windowSeconds?: number;
  /** How long a key stays refused once its budget is spent (at most 3600). Default `3600`. */
  blockSeconds?: number;
}

export interface MagicLinkOptions {
  /**
   * The app's public origin, e.g. `https://app.example.com`. Links are built from it alone, and a
   * POST whose `Origin` differs is refused as cross-site. Required.
   */
  baseUrl: string;
  /** Sends the link mail. Required. */
  mailer: Mailer;
  /** Path where the confirm page is mounted; the mailed link points there. Default `/auth/magic-link/confirm`. */
  confirmPath?: string;
  /** Where tokens live. Default: a `RedisTokenStore` on `redis` when given, else a new `MemoryTokenStore()` (one process only). */
  store?: TokenStore;
  /**
   * An ioredis `Redis` or `Cluster` client: links and every rate limit then live in Redis and hold
   * across all processes sharing it. Default: none (memory).
   */
  redis?: RedisClient;
  /** Prefix of every Redis key (tokens and limiters). Default `ml:`. */
  keyPrefix?: string;
  /** Lifetime of a link, a whole number of seconds from 1 to 86,400. Default `900`. */
  ttlSeconds?: number;
  /** How long used and expired records are kept so that they answer `expired`/`already_used` rather than `not_found`. Default `86400`. */
  retentionSeconds?: number;
  /** Rate-limit budgets. Defaults as in `LimitOptions`. */
  limits?: LimitOptions;
  /** Wrong tries after which an exchange code is dead (`exchange_code_not_found`, even when right). Default `5`. */
  codeAttempts?: number;
  /** A new link request expires the email's earlier links and codes. Default `false` (all stay valid). */
  revokeEarlierLinks?: boolean;
  /** A sign-in (by link or code) expires the email's other outstanding links and codes. Default `true`. */
  burnOtherLinksOnSignIn?: boolean;
  /**
   * Receives sign-in events (requested, sent, mail failed, limit exceeded, redeemed, rejected), with the
   * request id, the email's digest and the client IP key, never an address or a token. Called after the
   * answer is on its way; its time and its errors never change it. Default: none.
   */
  onEvent?: (event: MagicLinkEvent) => void | Promise<void>;
  /** How long the mailer may take before the request answers `email_delivery_failed`. Default `10000`. */
  mailTimeoutMs?: number;
  /** Deadline for every store or limiter call; past it the request answers `service_unavailable`. Default `1000`. */
  storeTimeoutMs?: number;
  /** Base of `doc_url` in error bodies. Default `https://docs.asterwise.com/reference/errors`. */
  docsBaseUrl?: string;
  /** IPv6 clients are limited per subnet of this many leading bits. Default `64`. */
  ipv6SubnetBits?: number;
  /** Same-origin path the confirm form redirects to when the link carried no `redirect`. Default `/`. */
  successRedirect?: string;
  /** Path of the app's sign-in page, linked from the confirm page when a link is spent. Default `/`. */
  signInPath?: string;
  /** Receives every failure answered as a 5xx, with its request id, for logging; never shown to callers. Default: `console.error`. */
  onError?: (error: unknown, requestId: string) => void;
  /** Name shown on the confirm page ("Sign in to …"). Default: the host of `baseUrl`. */
  appName?: string;
  /** What the verify endpoint returns as `data.user`. Default: the user as the verify callback gave it. */
  publicUser?: (user: Express.User) => unknown;
  /** The Passport instance the strategy is registered on. Default: the `passport` module's singleton. */
  passport?: Pick<Authenticator, 'authenticate'>;
  /** Clock in milliseconds since the epoch, for tests. Default `Date.now`. */
  now?: () => number;
}

/** A link's record as stored: a sealed payload and times, never a token or a plain address. */
export interface TokenRecord {
  /** Email and redirect, encrypted under a key only the token yields. */
  readonly sealed: string;
  /** Which email's sign-in this is, as a digest: groups one email's links and codes. */
  readonly emailKey: string;
  /** When the link (and its code) stops working, in ms since the epoch. */
  readonly expiresAt: number;
  /** When the record may be forgotten; until then spent links answer `already_used`/`expired`. */
  readonly retainUntil: number;
  /** When it was redeemed (by link or by code), or null while unused. */
  readonly usedAt: number | null;
}

/** How one email's state is found: its hash tag and `TokenRecord.emailKey`. */
export interface EmailKey {
  readonly tag: string;
  readonly digest: string;
}

export interface SaveOptions {
  readonly now: number;
  /** First expire the email's other live links and codes (`revokeEarlierLinks`). */
  readonly revokeOthers: boolean;
}

export interface RedeemOptions {
  readonly now: number;
  /** After a success, expire the email's other live links and codes (`burnOtherLinksOnSignIn`). */
  readonly burnOthers: boolean;
  /** Lifetime of a link (`ttlSeconds` in ms): the email's policy state must outlive every link it applies to. */
  readonly linkTtlMs: number;
}

export interface ExchangeOptions extends RedeemOptions {
  /** Wrong tries after which a code is dead. */
  readonly maxFailures: number;
}

export type RedeemResult =
  | { readonly status: 'redeemed'; readonly record: TokenRecord }
  | { readonly status: 'not_found' | 'expired' | 'already_used' };

/**
 * `redeemed`: the code matched a live link, which is now used. `already_used`: it matched a link
 * already redeemed. `not_found`: wrong, expired, or dead after too many wrong tries; a wrong code
 * (`wrong: true`) counted one failure against every live code of the email.
 */
export type ExchangeResult =
  | { readonly status: 'redeemed' | 'already_used' }
  | { readonly status: 'not_found'; readonly wrong: boolean };

/**
 * Storage for links and their exchange codes: one record per link, under `TokenKey.id`, which is
 * also its code's digest, so a link and its code are found (and burnt) together. Implementations
 * know nothing of HTTP. Each method is one atomic operation; all the keys it touches share the
 * email's tag, so on Redis Cluster they sit in one slot. `test/helpers/token-store-conformance.ts`
 * is the suite an implementation must pass.
 */
export interface TokenStore {
  /**
   * Stores a new link under `key.id`; false, storing nothing, when the email already has a record
   * (live or retained) with that id, so the caller draws another code. The record may be forgotten
   * from `record.retainUntil` on.
   */
  save(key: TokenKey, record: TokenRecord, options: SaveOptions): Promise<boolean>;
  /** Reads a link without consuming it; null when unknown, past retention or `key.check` differs. A burnt link reads as expired at `now`. */
  peek(key: TokenKey, now: number): Promise<TokenRecord | null>;
  /** Consumes a link, and so its code: of any number of concurrent redeems, exactly one sees `redeemed`. */
  redeem(key: TokenKey, options: RedeemOptions): Promise<RedeemResult>;
  /** Consumes a link by its code: of any number of concurrent link and code redeems, exactly one wins. */
  exchange(email: EmailKey, codeDigest: string, options: ExchangeOptions): Promise<ExchangeResult>;
  /** Forgets a link and its code (its mail could not be sent). */
  delete(key: TokenKey): Promise<void>;
}

/** The app's lookup: the user for a redeemed link's email, or false when there is none. */
export type VerifyCallback = (email: string, request: Request) => Promise<Express.User | false | null | undefined>;
