// The sign-in logic behind every handler: issue, inspect and redeem links and codes, with the
// limits, the mailer and the events.
import type { Request } from 'express';
import { clientIpKey } from './client-ip.js';
import { withDeadline } from './deadline.js';
import { MagicLinkError, type ErrorCode } from './errors.js';
import { emitEvent, type EventDetails } from './events.js';
import { assertNotBlocked, consumePoint, createLimiters, refundPoint, retryAfterSeconds, unavailable, type Limiters } from './limits.js';
import type { MagicLinkConfig } from './options.js';
import { MemoryTokenStore } from './stores/memory-store.js';
import { isCluster } from './stores/redis-client.js';
import { GUARDED_REDEEM, RedisTokenStore, type GuardedRedeemResult } from './stores/redis-store.js';
import { requestIdOf } from './request-id.js';
import {
  codeDigest,
  emailDigest,
  emailKeyOf,
  isWellFormedCode,
  isWellFormedToken,
  newCode,
  newToken,
  seal,
  tagOfEmailDigest,
  tokenKey,
  unseal,
  type TokenKey,
} from './tokens.js';
import type { TokenRecord } from './types.js';

export interface IssuedLink {
  readonly email: string;
  readonly expiresAt: number;
  readonly sentAt: number;
}

/** What a token opens to: the canonical email, its digest and the stored redirect. */
export interface LinkContent {
  readonly email: string;
  readonly emailDigest: string;
  readonly redirect: string | null;
}

export type LinkState =
  | { readonly status: 'valid' | 'already_used' | 'expired'; readonly content: LinkContent; readonly expiresAt: number }
  | { readonly status: 'not_found' };

export type RedeemOutcome =
  | { readonly ok: true; readonly content: LinkContent }
  | { readonly ok: false; readonly code: 'magic_link_not_found' | 'magic_link_expired' | 'magic_link_already_used' }
  | { readonly ok: false; readonly code: 'magic_link_ip_limit_exceeded'; readonly retryAfter: number };

export type ExchangeOutcome =
  | { readonly ok: true; readonly content: LinkContent }
  | { readonly ok: false; readonly code: 'exchange_code_not_found' | 'exchange_code_already_used' };

export const REDEEM_CODES = {
  not_found: 'magic_link_not_found',
  expired: 'magic_link_expired',
  already_used: 'magic_link_already_used',
} as const;

interface SavedLink {
  readonly token: string;
  readonly code: string;
  readonly key: TokenKey;
}

/**
 * Fresh codes tried before giving up on a save. An address holding n records refuses a code with
 * probability n / 1,000,000: with the default per-address limit that is a few in ten thousand, and
 * even 100,000 records for one address (limits lifted) fail ten draws in a row once in 10^10.
 */
const SAVE_ATTEMPTS = 10;

const LIMIT_CODES = new Set<ErrorCode>(['magic_link_ip_limit_exceeded', 'magic_link_email_limit_exceeded', 'exchange_code_attempt_limit_exceeded']);

/** Marks a request whose failed-verify check is left to the redeem script (the IP key to check). */
const CHECK_IN_REDEEM = Symbol('express-magic-link failed-verify check in the redeem');
type WithDeferredCheck = Request & { [CHECK_IN_REDEEM]?: string };

export class SignInService {
  readonly config: MagicLinkConfig;
  readonly #limiters: Limiters;
  /**
   * On one Redis server (not a Cluster) holding both the links and the limits, the failed-verify
   * check runs inside the redeem script: one round trip per verify instead of two, and still no
   * link is read or spent for a blocked IP. On a Cluster the counter sits in another slot.
   */
  readonly #redisStore: RedisTokenStore | undefined;

  constructor(config: MagicLinkConfig) {
    this.config = config;
    this.#limiters = createLimiters(config.limits, config.keyPrefix, config.redis, Math.floor(config.storeTimeoutMs / 2));
    this.#redisStore = config.redis && !isCluster(config.redis) && config.store instanceof RedisTokenStore ? config.store : undefined;
  }

  ipKeyOf(req: Request): string {
    return clientIpKey(req.ip, this.config.ipv6SubnetBits);
  }

  /** Reports a sign-in event; never blocks or fails the request. */
  emit(req: Request, details: DistributiveEvent, emailDigestValue: string | null): void {
    if (!this.config.onEvent) return;
    emitEvent(this.config.onEvent, { ...details, requestId: requestIdOf(req), emailDigest: emailDigestValue, ipKey: this.ipKeyOf(req) } as EventDetails, this.config.now());
  }

  /** Reports a refusal: a spent budget as `limit_exceeded`, anything else as the given rejection. */
  emitRefusal(req: Request, error: MagicLinkError, rejection: 'redeem_rejected' | 'code_rejected', emailDigestValue: string | null): void {
    if (LIMIT_CODES.has(error.code)) {
      this.emit(req, { type: 'limit_exceeded', code: error.code as LimitCode }, emailDigestValue);
    } else if (error.status < 500) {
      this.emit(req, rejection === 'redeem_rejected' ? { type: rejection, code: error.code } : { type: rejection, code: error.code }, emailDigestValue);
    }
  }

  /**
   * Spends the IP then the email budget, stores the link and its code, and mails them. A mail failure
   * deletes both and refunds the email's point, so nothing is left half-done.
   */
  async requestLink(req: Request, email: string, redirect: string | null): Promise<IssuedLink> {
    const { config } = this;
    const digest = emailDigest(email);
    this.emit(req, { type: 'link_requested' }, digest);
    try {
      // The IP budget first: a request refused for its IP does not spend the email's budget.
      await consumePoint(this.#limiters, this.#limiters.linkRequestsPerIp, this.ipKeyOf(req), 'magic_link_ip_limit_exceeded', config.storeTimeoutMs);
      await consumePoint(this.#limiters, this.#limiters.linkRequestsPerEmail, digest, 'magic_link_email_limit_exceeded', config.storeTimeoutMs);
    } catch (error) {
      if (error instanceof MagicLinkError) this.emitRefusal(req, error, 'redeem_rejected', digest);
      throw error;
    }

    const issuedAt = config.now();
    const expiresAt = issuedAt + config.ttlSeconds * 1000;
    let issued: SavedLink;
    try {
      issued = await this.#store(() => this.#saveLink(email, digest, redirect, issuedAt, expiresAt));
    } catch (error) {
      await refundPoint(this.#limiters, this.#limiters.linkRequestsPerEmail, digest, config.storeTimeoutMs);
      throw error;
    }
    const { token, code, key } = issued;

    const url = `${config.baseHref}${config.confirmPath}?token=${token}`;
    try {
      await withDeadline(
        Promise.resolve().then(() => config.mailer.send({ to: email, url, code, expiresAt: new Date(expiresAt), request: req })),
        config.mailTimeoutMs,
        'mailer',
      );
    } catch (error) {
      await Promise.allSettled([
        this.#store(() => config.store.delete(key)),
        refundPoint(this.#limiters, this.#limiters.linkRequestsPerEmail, digest, config.storeTimeoutMs),
      ]);
      this.emit(req, { type: 'mail_failed', code: 'email_delivery_failed' }, digest);
      throw new MagicLinkError('email_delivery_failed', { cause: error });
    }
    this.emit(req, { type: 'link_sent' }, digest);
    return { email, expiresAt, sentAt: config.now() };
  }

  /** Reads a link's state without consuming it (the confirm page). */
  async inspect(token: string): Promise<LinkState> {
    if (!isWellFormedToken(token)) return { status: 'not_found' };
    const now = this.config.now();
    const record = await this.#store(() => this.config.store.peek(tokenKey(token), now));
    const content = record && openRecord(token, record);
    if (!record || !content) return { status: 'not_found' };
    const status = record.usedAt !== null ? 'already_used' : now >= record.expiresAt ? 'expired' : 'valid';
    return { status, content, expiresAt: record.expiresAt };
  }

  /**
   * Consumes a link (and its code); exactly one of any number of concurrent redeems succeeds. For a
   * request whose failed-verify check was left to it, a blocked IP is refused here, atomically.
   */
  async redeem(token: string, req?: Request): Promise<RedeemOutcome> {
    if (!isWellFormedToken(token)) return { ok: false, code: 'magic_link_not_found' };
    const { config } = this;
    const key = tokenKey(token);
    const options = { now: config.now(), burnOthers: config.burnOtherLinksOnSignIn, linkTtlMs: config.ttlSeconds * 1000 };
    const ipKey = req && (req as WithDeferredCheck)[CHECK_IN_REDEEM];
    const store = this.#redisStore;
    const limiter = this.#limiters.failedVerifiesPerIp;
    const result: GuardedRedeemResult = await this.#store(() =>
      store && ipKey !== undefined ? store[GUARDED_REDEEM](key, options, { key: limiter.getKey(ipKey), points: limiter.points }) : config.store.redeem(key, options),
    );
    if (result.status === 'blocked') return { ok: false, code: 'magic_link_ip_limit_exceeded', retryAfter: retryAfterSeconds(result.msBeforeNext) };
    if (result.status !== 'redeemed') return { ok: false, code: REDEEM_CODES[result.status] };
    const content = openRecord(token, result.record);
    return content ? { ok: true, content } : { ok: false, code: 'magic_link_not_found' };
  }

  /** Consumes a sign-in by its email and code (and so its link). */
  async exchange(email: string, code: string): Promise<ExchangeOutcome> {
    const { config } = this;
    const digest = emailDigest(email);
    const content = { email, emailDigest: digest, redirect: null };
    // A malformed code cannot match; it is still a wrong try for the limits, counted by the caller.
    if (!isWellFormedCode(code)) return { ok: false, code: 'exchange_code_not_found' };
    const result = await this.#store(() =>
      config.store.exchange({ tag: tagOfEmailDigest(digest), digest: emailKeyOf(digest) }, codeDigest(digest, code), {
        now: config.now(),
        burnOthers: config.burnOtherLinksOnSignIn,
        linkTtlMs: config.ttlSeconds * 1000,
        maxFailures: config.codeAttempts,
      }),
    );
    if (result.status === 'redeemed') return { ok: true, content };
    return { ok: false, code: result.status === 'already_used' ? 'exchange_code_already_used' : 'exchange_code_not_found' };
  }

  /**
   * Refuses a verify from an IP whose failed-verify budget is spent; on a single Redis the check is
   * left to this request's redeem, which makes it in the same script.
   */
  async checkVerifyAllowed(req: Request): Promise<void> {
    if (this.#redisStore) {
      (req as WithDeferredCheck)[CHECK_IN_REDEEM] = this.ipKeyOf(req);
      return;
    }
    await assertNotBlocked(this.#limiters, this.#limiters.failedVerifiesPerIp, this.ipKeyOf(req), 'magic_link_ip_limit_exceeded', this.config.storeTimeoutMs);
  }

  /** Counts a failed verify; throws the 429 when this failure spends the budget. */
  async countFailedVerify(req: Request): Promise<void> {
    await consumePoint(this.#limiters, this.#limiters.failedVerifiesPerIp, this.ipKeyOf(req), 'magic_link_ip_limit_exceeded', this.config.storeTimeoutMs);
  }

  /** Refuses an exchange while the IP's or the email's wrong-code budget is spent, even for a right code. */
  async assertExchangeAllowed(req: Request, emailDigestValue: string): Promise<void> {
    const refusal = 'exchange_code_attempt_limit_exceeded';
    // Both checks at once: one round trip of latency; the IP's answer wins when both refuse.
    await firstFailure([
      assertNotBlocked(this.#limiters, this.#limiters.failedExchangesPerIp, this.ipKeyOf(req), refusal, this.config.storeTimeoutMs),
      assertNotBlocked(this.#limiters, this.#limiters.failedExchangesPerEmail, emailDigestValue, refusal, this.config.storeTimeoutMs),
    ]);
  }

  /** Counts a wrong code against the IP and the email; throws the 429 when either budget is spent. */
  async countFailedExchange(req: Request, emailDigestValue: string): Promise<void> {
    const refusal = 'exchange_code_attempt_limit_exceeded';
    // Both budgets are spent whatever the other says, so rotating IPs cannot spare the email's.
    await firstFailure([
      consumePoint(this.#limiters, this.#limiters.failedExchangesPerIp, this.ipKeyOf(req), refusal, this.config.storeTimeoutMs),
      consumePoint(this.#limiters, this.#limiters.failedExchangesPerEmail, emailDigestValue, refusal, this.config.storeTimeoutMs),
    ]);
  }

  /**
   * Draws a code and stores the link under its digest. The email may already hold a record with
   * that digest (one chance in a million per record it holds); the store then refuses and we draw again.
   */
  async #saveLink(email: string, digest: string, redirect: string | null, now: number, expiresAt: number): Promise<SavedLink> {
    const { config } = this;
    const tag = tagOfEmailDigest(digest);
    for (let attempt = 1; ; attempt++) {
      const code = newCode();
      const token = newToken(tag, codeDigest(digest, code));
      const key = tokenKey(token);
      const record: TokenRecord = {
        sealed: seal(token, { email, redirect }),
        emailKey: emailKeyOf(digest),
        expiresAt,
        retainUntil: expiresAt + config.retentionSeconds * 1000,
        usedAt: null,
      };
      if (await config.store.save(key, record, { now, revokeOthers: config.revokeEarlierLinks })) return { token, code, key };
      if (attempt === SAVE_ATTEMPTS) throw new Error(`the token store refused ${SAVE_ATTEMPTS} fresh codes in a row`);
    }
  }

  // A thunk, so a store that throws synchronously is handled like one that rejects. The in-process
  // store cannot hang, so it skips the deadline's timer.
  async #store<T>(call: () => Promise<T>): Promise<T> {
    try {
      if (this.config.store instanceof MemoryTokenStore) return await call();
      return await withDeadline(new Promise<T>((resolve) => resolve(call())), this.config.storeTimeoutMs, 'token store');
    } catch (error) {
      throw error instanceof MagicLinkError ? error : unavailable(error);
    }
  }
}

type LimitCode = 'magic_link_ip_limit_exceeded' | 'magic_link_email_limit_exceeded' | 'exchange_code_attempt_limit_exceeded';
type DistributiveEvent = EventDetails extends infer E ? (E extends unknown ? Omit<E, 'requestId' | 'emailDigest' | 'ipKey'> : never) : never;

/** Waits for all; rethrows the first failure in list order. */
async function firstFailure(work: Array<Promise<void>>): Promise<void> {
  const results = await Promise.allSettled(work);
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
}

function openRecord(token: string, record: TokenRecord): LinkContent | null {
  const content = unseal(token, record.sealed);
  return content && { email: content.email, emailDigest: emailDigest(content.email), redirect: content.redirect };
}
