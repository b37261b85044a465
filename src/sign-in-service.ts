// The sign-in logic behind every handler: issue, inspect and redeem links, with limits and the mailer.
import type { Request } from 'express';
import { clientIpKey } from './client-ip.js';
import { withDeadline } from './deadline.js';
import { MagicLinkError } from './errors.js';
import { assertNotBlocked, consumePoint, createLimiters, refundPoint, unavailable, type Limiters } from './limits.js';
import type { MagicLinkConfig } from './options.js';
import { emailDigest, isWellFormedToken, newToken, seal, tagOfEmailDigest, tokenKey, unseal } from './tokens.js';
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
  | { readonly ok: false; readonly code: 'magic_link_not_found' | 'magic_link_expired' | 'magic_link_already_used' };

export const REDEEM_CODES = {
  not_found: 'magic_link_not_found',
  expired: 'magic_link_expired',
  already_used: 'magic_link_already_used',
} as const;

export class SignInService {
  readonly config: MagicLinkConfig;
  readonly #limiters: Limiters;

  constructor(config: MagicLinkConfig) {
    this.config = config;
    this.#limiters = createLimiters(config.limits, config.keyPrefix, config.redis, Math.floor(config.storeTimeoutMs / 2));
  }

  ipKeyOf(req: Request): string {
    return clientIpKey(req.ip, this.config.ipv6SubnetBits);
  }

  /**
   * Spends the IP then the email budget, stores the link and mails it. A mail failure deletes the
   * link and refunds the email's point, so nothing is left half-done.
   */
  async requestLink(req: Request, email: string, redirect: string | null): Promise<IssuedLink> {
    const { config } = this;
    const digest = emailDigest(email);
    // The IP budget first: a request refused for its IP does not spend the email's budget.
    await consumePoint(this.#limiters, this.#limiters.linkRequestsPerIp, this.ipKeyOf(req), 'magic_link_ip_limit_exceeded', config.storeTimeoutMs);
    await consumePoint(this.#limiters, this.#limiters.linkRequestsPerEmail, digest, 'magic_link_email_limit_exceeded', config.storeTimeoutMs);

    const token = newToken(tagOfEmailDigest(digest));
    const key = tokenKey(token);
    const issuedAt = config.now();
    const expiresAt = issuedAt + config.ttlSeconds * 1000;
    const record: TokenRecord = {
      sealed: seal(token, { email, redirect }),
      expiresAt,
      retainUntil: expiresAt + config.retentionSeconds * 1000,
      usedAt: null,
    };
    try {
      await this.#store(() => config.store.save(key, record, issuedAt));
    } catch (error) {
      await refundPoint(this.#limiters, this.#limiters.linkRequestsPerEmail, digest, config.storeTimeoutMs);
      throw error;
    }

    const url = `${config.baseHref}${config.confirmPath}?token=${token}`;
    try {
      await withDeadline(
        Promise.resolve().then(() => config.mailer.send({ to: email, url, expiresAt: new Date(expiresAt), request: req })),
        config.mailTimeoutMs,
        'mailer',
      );
    } catch (error) {
      await Promise.allSettled([
        this.#store(() => config.store.delete(key)),
        refundPoint(this.#limiters, this.#limiters.linkRequestsPerEmail, digest, config.storeTimeoutMs),
      ]);
      throw new MagicLinkError('email_delivery_failed', { cause: error });
    }
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

  /** Consumes a link; exactly one of any number of concurrent redeems succeeds. */
  async redeem(token: string): Promise<RedeemOutcome> {
    if (!isWellFormedToken(token)) return { ok: false, code: 'magic_link_not_found' };
    const result = await this.#store(() => this.config.store.redeem(tokenKey(token), this.config.now()));
    if (result.status !== 'redeemed') return { ok: false, code: REDEEM_CODES[result.status] };
    const content = openRecord(token, result.record);
    return content ? { ok: true, content } : { ok: false, code: 'magic_link_not_found' };
  }

  /** Refuses a verify from an IP whose failed-verify budget is spent. */
  async assertVerifyAllowed(req: Request): Promise<void> {
    await assertNotBlocked(this.#limiters, this.#limiters.failedVerifiesPerIp, this.ipKeyOf(req), 'magic_link_ip_limit_exceeded', this.config.storeTimeoutMs);
  }

  /** Counts a failed verify; throws the 429 when this failure spends the last of the budget's slack. */
  async countFailedVerify(req: Request): Promise<void> {
    await consumePoint(this.#limiters, this.#limiters.failedVerifiesPerIp, this.ipKeyOf(req), 'magic_link_ip_limit_exceeded', this.config.storeTimeoutMs);
  }

  // A thunk, so a store that throws synchronously is handled like one that rejects.
  async #store<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(new Promise<T>((resolve) => resolve(call())), this.config.storeTimeoutMs, 'token store');
    } catch (error) {
      throw error instanceof MagicLinkError ? error : unavailable(error);
    }
  }
}

function openRecord(token: string, record: TokenRecord): LinkContent | null {
  const content = unseal(token, record.sealed);
  return content && { email: content.email, emailDigest: emailDigest(content.email), redirect: content.redirect };
}
