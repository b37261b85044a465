// The token store contract: what every backend implements. Knows nothing of HTTP or Passport.
import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/** How the store finds and checks a token's record; the token itself is never stored. */
export interface TokenKey {
  /** Shared by every record of one email, so that a Redis Cluster script stays in one slot. */
  readonly tag: string;
  /** The record's id: the keyed digest of its exchange code, unique among the email's records. */
  readonly id: string;
  /** A keyed digest of the whole token: the store answers not found unless it (or a former one) matches. */
  readonly check: string;
  /** The same digest under secrets being rotated out: links issued under them still match. */
  readonly formerChecks?: readonly string[];
}

/** A link's record as stored: a sealed payload and times, never a token or a plain address. */
export interface TokenRecord {
  /** Email and redirect, encrypted under a key only the token yields. */
  readonly sealed: string;
  /** Which email's sign-in this is, as a keyed digest: groups one email's links and codes. */
  readonly emailKey: string;
  /** When the link (and its code) stops working, in ms since the epoch. */
  readonly expiresAt: number;
  /** When the record may be forgotten; until then spent links answer `already_used`/`expired`. */
  readonly retainUntil: number;
  /** When it was redeemed (by link or by code), or null while unused. */
  readonly usedAt: number | null;
  /** The cross-device attempt started with this link (`crossDevice`), saved with it; absent without one. */
  readonly attempt?: AttemptFields | undefined;
}

/**
 * What a store keeps of a cross-device attempt (SPEC §8), with its link: digests and a sealed
 * payload only, so a dump neither collects nor approves anything.
 */
export interface AttemptFields {
  /** Keyed digest of the secret in the asking browser's cookie: the attempt answers only to it. */
  readonly check: string;
  /** Keyed digest of the match number: an approve must bring the same. */
  readonly match: string;
  /** Address, redirect and app data (and the number), encrypted under the asking browser's secret. */
  readonly sealed: string;
}

/** How the asking browser finds its attempt: the link's tag and id, and the digest of its secret. */
export interface AttemptKey {
  readonly tag: string;
  readonly id: string;
  readonly check: string;
}

export interface ApproveOptions {
  readonly now: number;
  /** After an approval, expire the email's other live links and codes (`burnOtherLinksOnSignIn`). */
  readonly burnOthers: boolean;
  readonly linkTtlMs: number;
  /** The digest of the number typed; null for "Not me". Anything but the attempt's own denies. */
  readonly match: string | null;
}

/**
 * `approved`: the number matched; the link is used and the attempt may be collected. `denied`:
 * a wrong number or "Not me"; link and attempt are burnt. Otherwise the link's own state (an
 * unknown link, or one without an attempt, is `not_found`).
 */
export type ApproveResult = { readonly status: 'approved' | 'denied' | 'not_found' | 'expired' | 'already_used' };

export interface AttemptOptions {
  readonly now: number;
  /**
   * `read`: change nothing. `collect`: an approved attempt, within `collectWindowMs` of its
   * approval, becomes collected (exactly one caller sees `taken`). `release`: a collected one is
   * approved again (its session could not be saved).
   */
  readonly step: 'read' | 'collect' | 'release';
  readonly collectWindowMs: number;
}

/** An attempt as stored, with what its link's state says of it; the store decides nothing else. */
export interface AttemptRecord {
  readonly state: 'pending' | 'approved' | 'denied' | 'collected';
  /** The attempt's sealed payload (under the asking browser's secret). */
  readonly sealed: string;
  /** The link's expiry; a link burnt by a later sign-in reads as expired at `now`. */
  readonly expiresAt: number;
  /** When the link was used (by anyone), or revoked; null while unused. */
  readonly usedAt: number | null;
  readonly approvedAt: number | null;
  /** Revoked (`magicLink.revoke`) since: nothing of it may be collected. */
  readonly revoked: boolean;
  /** This call collected it (`step: 'collect'`). */
  readonly taken: boolean;
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
  /**
   * Digests of secrets only the presenting browser holds. A successful redeem keeps the first with
   * the record; an already-redeemed record whose kept digest is among them, within
   * `replayWindowMs`, is `redeemed` again (`replayed`) instead of `already_used`: a double press
   * or a lost response never strands the person who redeemed it.
   */
  readonly bindings?: readonly string[];
  /** How long after the redeem a matching binding may replay it. Default 0 (never). */
  readonly replayWindowMs?: number;
}

export interface ExchangeOptions extends RedeemOptions {
  /** Wrong tries after which a code is dead. */
  readonly maxFailures: number;
}

export type RedeemResult =
  { readonly status: 'redeemed'; readonly record: TokenRecord; readonly replayed?: boolean } | { readonly status: 'not_found' | 'expired' | 'already_used' };

/**
 * `redeemed`: the code matched a live link, which is now used. `already_used`: it matched a link
 * already redeemed. `not_found`: wrong, expired, or dead after too many wrong tries; a wrong code
 * (`wrong: true`) counted one failure against every live code of the email.
 */
export type ExchangeResult = { readonly status: 'redeemed' | 'already_used' } | { readonly status: 'not_found'; readonly wrong: boolean };

export interface RevokeOptions {
  readonly now: number;
  /** The longest a link can live (`maxTtlSeconds` in ms): the revoke must outlive every link it burns. */
  readonly linkTtlMs: number;
}

/** One rate limit as the library needs it: `points` per `duration` seconds, then blocked for `blockDuration`. */
export interface LimiterSpec {
  /** Which budget (`link-ip`, `verify-ip`, …); a store puts its own prefix in front. */
  readonly name: string;
  readonly points: number;
  readonly duration: number;
  readonly blockDuration: number;
}

/**
 * Storage for links and their exchange codes: one record per link, under `TokenKey.id`, which is
 * also its code's digest, so a link and its code are found (and burnt) together. Each method is one
 * atomic operation; all the keys it touches share the email's tag, so on Redis Cluster they sit in
 * one slot. `test/helpers/token-store-conformance.ts` is the suite an implementation must pass.
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
  /**
   * Optional: the store lives in this process and cannot hang (the memory store). Its calls skip the
   * deadline's timer, and no shared `secret` is required. Default: false.
   */
  readonly inProcess?: boolean;
  /**
   * Optional: the store also keeps the rate-limit counters, so every process sharing it shares the
   * budgets. Returns a rate-limiter-flexible limiter on the store. Without it, limits are per process.
   */
  createLimiter?(spec: LimiterSpec): RateLimiterAbstract;
  /**
   * Optional: burns every outstanding link and code of the email at once (`magicLink.revoke`); from
   * then on they redeem and exchange as `already_used` and peek as used at `options.now`. Links
   * saved afterwards are unaffected.
   */
  revoke?(email: EmailKey, options: RevokeOptions): Promise<void>;
  /**
   * Optional, for `crossDevice`: approves (or denies) the attempt saved with a link, consuming the
   * link, atomically with every redeem and exchange of it: exactly one of them wins.
   */
  approve?(key: TokenKey, options: ApproveOptions): Promise<ApproveResult>;
  /** Optional, for `crossDevice`: reads (or collects) an attempt by its key; null when unknown or past retention. */
  attempt?(key: AttemptKey, options: AttemptOptions): Promise<AttemptRecord | null>;
}
