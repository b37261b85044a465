// Public types: options (each with its default), the mailer contract and the token store interface.
import type { Request } from 'express';
import type { Authenticator } from 'passport';
import type { RedisClient } from './stores/redis-client.js';
import type { TokenKey } from './tokens.js';

export type { TokenKey };

/** What the mailer is asked to deliver for one sign-in. */
export interface MagicLinkMessage {
  /** The canonical address: trimmed, NFC, lower-cased, domain in ASCII. */
  readonly to: string;
  /** The confirm-page link, built from `baseUrl` only (never from the request's Host). */
  readonly url: string;
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
  /** When the link stops working (ms since the epoch). */
  readonly expiresAt: number;
  /** When the record may be forgotten; until then spent links answer `already_used`/`expired`. */
  readonly retainUntil: number;
  /** When it was redeemed, or null while unused. */
  readonly usedAt: number | null;
}

export type RedeemResult =
  | { readonly status: 'redeemed'; readonly record: TokenRecord }
  | { readonly status: 'not_found' | 'expired' | 'already_used' };

/**
 * Storage for link records. Implementations know nothing of HTTP; each method is one atomic
 * operation on one key (the tag keeps all of one email's keys in one Redis Cluster slot).
 */
export interface TokenStore {
  /** Stores a new record at time `now`; it may be forgotten from `record.retainUntil` on. */
  save(key: TokenKey, record: TokenRecord, now: number): Promise<void>;
  /** Reads a record without consuming it; null when unknown or past retention. */
  peek(key: TokenKey, now: number): Promise<TokenRecord | null>;
  /** Consumes a record: of any number of concurrent calls for one key, exactly one sees `redeemed`. */
  redeem(key: TokenKey, now: number): Promise<RedeemResult>;
  /** Forgets a record (its mail could not be sent). */
  delete(key: TokenKey): Promise<void>;
}

/** The app's lookup: the user for a redeemed link's email, or false when there is none. */
export type VerifyCallback = (email: string, request: Request) => Promise<Express.User | false | null | undefined>;
