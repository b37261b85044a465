/// <reference types="passport" preserve="true" />
// `Express.User` and `req.logIn` come from @types/passport, which a TypeScript app installs with
// passport; the package depends on no @types package, so a JavaScript app gets none.
// The app-facing public types: options (each with its default), the mailer contract, events, the
// verify callback and what the handlers answer. The store contract's types live in stores/contract.ts.
import type { Request } from 'express';
import type { ErrorCode, LimitCode } from './errors.js';
import type { TokenStore } from './stores/contract.js';
import type { PostgresClient } from './stores/postgres-client.js';
import type { RedisClient } from './stores/redis-client.js';

/** Every event carries these. */
export interface MagicLinkEventBase {
  /** The request's id (as in `X-Request-Id`). */
  readonly requestId: string;
  /** Keyed digest (HMAC under `secret`) of the canonical email; null when the request named no known email. */
  readonly emailDigest: string | null;
  /** A keyed pseudonym of the client's limiter key (its IP, or IPv6 subnet); never the IP itself. */
  readonly ipKey: string;
  /** UTC to the second: `2026-05-25T12:34:56Z`. */
  readonly timestamp: string;
}

export type MagicLinkEvent = MagicLinkEventBase &
  (
    | { readonly type: 'link_requested' }
    | { readonly type: 'link_sent' }
    /** `beforeSend` returned false: answered as sent, nothing mailed or stored. */
    | { readonly type: 'link_withheld' }
    | { readonly type: 'mail_failed'; readonly code: 'email_delivery_failed' }
    | { readonly type: 'limit_exceeded'; readonly code: LimitCode }
    | { readonly type: 'link_redeemed' }
    | { readonly type: 'link_rejected'; readonly code: ErrorCode }
    | { readonly type: 'code_redeemed' }
    | { readonly type: 'code_rejected'; readonly code: ErrorCode }
    /** `magicLink.revoke(email)` burnt the address's outstanding links and codes. */
    | { readonly type: 'links_revoked' }
    /** Another device typed the right match number: the asking browser may now collect its sign-in. */
    | { readonly type: 'attempt_approved' }
    /** Another device typed a wrong number or said "Not me": link and attempt are burnt. */
    | { readonly type: 'attempt_denied'; readonly reason: 'wrong_number' | 'not_me' }
    /** The asking browser collected an approved attempt and is signed in. */
    | { readonly type: 'attempt_collected' }
  );

export type MagicLinkEventType = MagicLinkEvent['type'];

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
  /**
   * Wrong exchange codes across the whole app per window: bounds what any number of hosts can
   * guess (see the README's guessing arithmetic); past it codes are refused for `blockSeconds`,
   * links keep working. Scale it with your traffic. Default `1000`.
   */
  failedExchangesTotal?: number;
  /**
   * Polls and collects of cross-device attempts (`crossDevice`) from one client IP per window: a
   * waiting tab polls every 2 s for as long as its link lives. Default `1200`.
   */
  attemptChecksPerIp?: number;
  /** Length of the counting window. Default `3600`. */
  windowSeconds?: number;
  /** How long a key stays refused once its budget is spent (at most 3600). Default `3600`. */
  blockSeconds?: number;
}

export interface MagicLinkOptions {
  /**
   * Server-side secret(s) for every digest the store, the limiters and the events hold (HMAC-SHA256):
   * without it a store dump names no address and yields no code or token. At least 32 characters of
   * real randomness, e.g. `openssl rand -base64 32`. A list rotates: the first is used for new
   * records, the others still redeem links issued under them until those expire. Required with
   * `redis` or a custom `store`; with the memory store a random per-process secret is used.
   */
  secret?: string | readonly string[];
  /**
   * The app's public origin, e.g. `https://app.example.com`. Links are built from it alone, and a
   * POST whose `Origin` differs is refused as cross-site. Required.
   */
  baseUrl: string;
  /** Sends the link mail. Required. */
  mailer: Mailer;
  /** Path where the confirm page is mounted; the mailed link points there. Default `/auth/magic-link/confirm`. */
  confirmPath?: string;
  /**
   * Where tokens live. Default: a `RedisTokenStore` on `redis` or a `PostgresTokenStore` on
   * `postgres` when given, else a new `MemoryTokenStore()` (one process only). A store that offers
   * `createLimiter` keeps the rate limits too.
   */
  store?: TokenStore;
  /**
   * An ioredis `Redis` or `Cluster` client: links and every rate limit then live in Redis and hold
   * across all processes sharing it. Default: none (memory).
   */
  redis?: RedisClient;
  /**
   * A node-postgres `Pool` (or any client with `query(text, values)`): links and every rate limit then
   * live in PostgreSQL and hold across all processes sharing the database. Run the schema first
   * (`migrate(pool)` or the shipped `schema.sql`). Default: none (memory).
   */
  postgres?: PostgresClient;
  /** Prefix of every PostgreSQL table (with `postgres`). Default `magic_link_`. */
  tablePrefix?: string;
  /**
   * With `redis` behind a replicated setup (Sentinel): redeems and exchanges wait until this many
   * replicas hold them (Redis `WAIT`, in the same round trip), so an answered sign-in survives a
   * failover; fewer in time answers `service_unavailable`. Default `0`.
   */
  waitForReplicas?: number;
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
   * Cross-device approval (SPEC §8, docs/cross-device.md): a link request from a browser starts an
   * attempt, bound to that browser by a cookie, with a 2-digit match number shown only there
   * (`data.match`); the confirm page in another browser can approve it when the number is typed,
   * and the asking browser then signs in by itself (`attemptStatusHandler`, `attemptCollectHandler`).
   * Default `false`.
   */
  crossDevice?: boolean;
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
  /**
   * IPv6 clients are also limited on this wider prefix, at ten times each per-IP budget, so one
   * allocation (a /48 holds 65,536 /64s) does not multiply the budget. Default `48`.
   */
  ipv6WideSubnetBits?: number;
  /** Same-origin path the confirm form redirects to when the link carried no `redirect`. Default `/`. */
  successRedirect?: string;
  /**
   * The longest lifetime one link may be given (`magicLink.requestLink(req, { ttlSeconds })`, for an
   * invite that lasts a week). Default: `ttlSeconds`. At most 30 days.
   */
  maxTtlSeconds?: number;
  /**
   * Origins besides `baseUrl`'s that may call the JSON endpoints and `crossSiteGuard()` routes: a
   * single-page app on another origin (`http://localhost:5173`, `https://app.example.com` calling
   * `api.example.com`). Exact origins only (scheme, host, port). Default: none. The confirm form
   * stays same-origin: its page is served by this app.
   */
  trustedOrigins?: readonly string[];
  /**
   * `redirect` targets beyond same-origin paths: whole origins (`"https://www.example.com"`) and app
   * schemes for mobile deep links (`"myapp:"`). Default: none (same-origin paths only).
   * `javascript:`, `data:` and the like are refused.
   */
  allowedRedirects?: readonly string[];
  /**
   * Address domains that may sign in: exact (`"example.com"`) or every subdomain of one
   * (`"*.example.com"`, not the apex), compared after IDNA and lower-casing. Unset: every domain.
   * Any other address is refused as `invalid_email` (detail `domain_not_allowed`) before any budget.
   */
  allowedDomains?: readonly string[];
  /** Address domains that may not sign in (disposable mail, say), in the same forms; wins over `allowedDomains`. */
  blockedDomains?: readonly string[];
  /**
   * Runs for each link request after the IP budget is taken and before the address's (a CAPTCHA or
   * Turnstile check, a sign-up gate), bounded by `mailTimeoutMs`. Throw a `MagicLinkError` to refuse
   * with it (anything else thrown, or a timeout, is a 503); return `false` to answer the same 202 as
   * a sent link with nothing mailed, stored or counted against the address.
   */
  beforeSend?: (req: Request, link: { readonly email: string }) => boolean | void | Promise<boolean | void>;
  /** Path of the app's sign-in page, linked from the confirm page when a link is spent. Default `/`. */
  signInPath?: string;
  /** Receives every failure answered as a 5xx, with its request id, for logging; never shown to callers. Default: `console.error`. */
  onError?: (error: unknown, requestId: string) => void;
  /** Name shown on the confirm page ("Sign in to …"). Default: the host of `baseUrl`. */
  appName?: string;
  /** What the verify endpoint returns as `data.user`. Default: the user as the verify callback gave it. */
  publicUser?: (user: Express.User) => unknown;
  /** Clock in milliseconds since the epoch, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * App data sealed with one link (`magicLink.requestLink(req, { email, data })`): a sign-up name, an
 * invite's team. Flat JSON values, at most 1 KiB; encrypted under the token, so the store never
 * holds it readable.
 */
export type LinkData = Readonly<Record<string, string | number | boolean | null>>;

/** How this sign-in came in, for the verify callback. */
export interface SignInDetails {
  /** `link`: a token (verify or the confirm page); `code`: the mail's code typed on another device. */
  readonly via: 'link' | 'code';
  /**
   * The data sealed with the link, when it had any. Absent on a code sign-in: a 6-digit code is far
   * too short a key to seal anything with, so the data travels with the link only.
   */
  readonly data: LinkData | undefined;
}

/** The app's lookup: the user for a redeemed link's email, or false when there is none. */
export type VerifyCallback = (email: string, request: Request, details: SignInDetails) => Promise<Express.User | false | null | undefined>;

/** What `success` passes on as `info`: how, where the link asked to go, and whose email it was (as a digest). */
export interface MagicLinkAuthInfo {
  /** `link` for a token, `code` for an exchange code. */
  readonly method: 'link' | 'code';
  /** The link's stored redirect; null for codes and for links without one. */
  readonly redirect: string | null;
  /** The keyed digest of the email (as in events), never the address. */
  readonly emailDigest: string;
  /** True when the same browser presented an already-redeemed link again within the grace window. */
  readonly replayed: boolean;
}

/** What a link request returns to the caller: the normalised address and the link's times. */
/** What `magicLink.issueLink()` answers: a link and its code, minted on the server and not mailed. */
export interface LinkIssued {
  /** The confirm-page link, as a mail would carry it. */
  readonly url: string;
  /** Its 6-digit exchange code. */
  readonly code: string;
  readonly expiresAt: Date;
}

export interface LinkSent {
  readonly email: string;
  readonly expiresAt: Date;
  readonly sentAt: Date;
  /** The link's lifetime in seconds. */
  readonly expiresIn: number;
  /**
   * With `crossDevice`: the match number (10–99) to show on the asking screen only, never in a
   * mail or a URL. Absent without `crossDevice`.
   */
  readonly match?: number;
}

/** The asking browser's cross-device attempt, as `magicLink.attempt(req)` and the status endpoint see it. */
export interface AttemptStatus {
  /**
   * `pending`: waiting for the other device. `approved`: collect it now (within 60 s). `collected`:
   * done. `expired`: the link expired, was used another way, or was denied.
   */
  readonly status: 'pending' | 'approved' | 'expired' | 'collected';
  /** The match number, while it is still worth showing (pending). */
  readonly match: number | null;
}

/** The exact body of every failure, keys in the documented order (SPEC §3). */
export interface ErrorEnvelope {
  success: false;
  error: string;
  message: string;
  details: unknown[];
  retry_after: number | null;
  doc_url: string;
  request_id: string;
  timestamp: string;
}

/** Options of `magicLink.requestLinkHandler()`. */
export interface RequestLinkHandlerOptions {
  /**
   * `false`: this route has no session on purpose, as express-session is mounted only on the verify,
   * exchange and confirm routes (a link request needs none). Default `true`: while the MagicLink's
   * handlers sign into sessions, a link request without one is refused and nothing is mailed.
   */
  sessionRequired?: boolean;
}
