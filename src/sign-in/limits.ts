// Rate limits on rate-limiter-flexible. A guarded action takes a point of every counter that guards
// it *before* it runs (all or nothing) and gives them back when it turns out not to count, so that
// no concurrent burst gets more attempts evaluated than its budget.
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LimitsConfig } from '../config/options.js';
import { MagicLinkError, type LimitCode } from '../errors.js';
import type { BudgetCounter } from '../stores/capabilities.js';
import type { LimiterSpec } from '../stores/contract.js';
import { withDeadline } from './deadline.js';

/** Seconds a client waits when the store cannot be reached. */
export const UNAVAILABLE_RETRY_SECONDS = 5;
/** A wider IPv6 prefix gets this many times the per-IP budget. */
export const WIDE_PREFIX_FACTOR = 10;

/** One point of one limiter under one key, and what its refusal is called. */
export interface Counter {
  readonly limiter: RateLimiterAbstract;
  readonly key: string;
  readonly refusal: LimitCode;
}

/** A client's limiter keys, already pseudonymised. */
export interface ClientKeys {
  readonly narrow: string;
  readonly wide: string | null;
}

/** Makes one limiter: on the store when it keeps counters (every process shares them), else in memory. */
export type LimiterFactory = (spec: LimiterSpec) => RateLimiterAbstract;

export const memoryLimiter: LimiterFactory = ({ name, points, duration, blockDuration }) =>
  new RateLimiterMemory({ keyPrefix: name, points, duration, blockDuration });

export function retryAfterSeconds(msBeforeNext: number): number {
  return Math.min(3600, Math.max(1, Math.ceil(msBeforeNext / 1000)));
}

export function unavailable(cause: unknown): MagicLinkError {
  return new MagicLinkError('service_unavailable', { retryAfter: UNAVAILABLE_RETRY_SECONDS, cause });
}

export class Limits {
  readonly #timeoutMs: number | null;
  readonly #linkIp: RateLimiterAbstract;
  readonly #linkIpWide: RateLimiterAbstract;
  readonly #linkEmail: RateLimiterAbstract;
  readonly #verifyIp: RateLimiterAbstract;
  readonly #verifyIpWide: RateLimiterAbstract;
  readonly #exchangeIp: RateLimiterAbstract;
  readonly #exchangeIpWide: RateLimiterAbstract;
  readonly #exchangeEmail: RateLimiterAbstract;
  readonly #exchangeTotal: RateLimiterAbstract;
  readonly #attemptIp: RateLimiterAbstract;
  readonly #attemptIpWide: RateLimiterAbstract;

  /** `timeoutMs` bounds each limiter call; null for in-process limiters, which cannot hang. */
  constructor(limits: LimitsConfig, create: LimiterFactory, timeoutMs: number | null) {
    this.#timeoutMs = timeoutMs;
    const build = (name: string, points: number): RateLimiterAbstract =>
      create({ name, points, duration: limits.windowSeconds, blockDuration: limits.blockSeconds });
    this.#linkIp = build('link-ip', limits.linkRequestsPerIp);
    this.#linkIpWide = build('link-ipw', limits.linkRequestsPerIp * WIDE_PREFIX_FACTOR);
    this.#linkEmail = build('link-email', limits.linkRequestsPerEmail);
    this.#verifyIp = build('verify-ip', limits.failedVerifiesPerIp);
    this.#verifyIpWide = build('verify-ipw', limits.failedVerifiesPerIp * WIDE_PREFIX_FACTOR);
    this.#exchangeIp = build('exchange-ip', limits.failedExchangesPerIp);
    this.#exchangeIpWide = build('exchange-ipw', limits.failedExchangesPerIp * WIDE_PREFIX_FACTOR);
    this.#exchangeEmail = build('exchange-email', limits.failedExchangesPerEmail);
    this.#exchangeTotal = build('exchange-all', limits.failedExchangesTotal);
    this.#attemptIp = build('attempt-ip', limits.attemptChecksPerIp);
    this.#attemptIpWide = build('attempt-ipw', limits.attemptChecksPerIp * WIDE_PREFIX_FACTOR);
  }

  /**
   * Link requests: the client's budgets first (a refusal for the IP spends nothing of the email's),
   * then the email's, kept on its mailbox: every alias of a mailbox counts against one budget, and
   * an address never counts more than its mailbox, so the mailbox key alone is the per-email limit.
   */
  linkRequest(client: ClientKeys, mailboxKey: string): Counter[] {
    const counters = this.#ip(client, this.#linkIp, this.#linkIpWide, 'magic_link_ip_limit_exceeded');
    counters.push({ limiter: this.#linkEmail, key: mailboxKey, refusal: 'magic_link_email_limit_exceeded' });
    return counters;
  }

  /** Failed verifies (and confirm pages for unknown tokens) from one client. */
  failedVerify(client: ClientKeys): Counter[] {
    return this.#ip(client, this.#verifyIp, this.#verifyIpWide, 'magic_link_ip_limit_exceeded');
  }

  /** Wrong codes: from one client, for one email from anywhere, and across the app. */
  failedExchange(client: ClientKeys, emailDigest: string): Counter[] {
    const refusal = 'exchange_code_attempt_limit_exceeded';
    const counters = this.#ip(client, this.#exchangeIp, this.#exchangeIpWide, refusal);
    counters.push({ limiter: this.#exchangeEmail, key: emailDigest, refusal }, { limiter: this.#exchangeTotal, key: 'all', refusal });
    return counters;
  }

  /** Polls and collects of cross-device attempts from one client: each costs a point. */
  attemptCheck(client: ClientKeys): Counter[] {
    return this.#ip(client, this.#attemptIp, this.#attemptIpWide, 'magic_link_ip_limit_exceeded');
  }

  /**
   * The guard every budgeted action runs under: takes a point of each counter, runs `work`, and
   * gives the points back when it failed or when `refund(result)` says the attempt did not count.
   */
  async spend<T>(counters: readonly Counter[], work: () => Promise<T>, refund: (result: T) => boolean): Promise<T> {
    await this.take(counters);
    let result: T;
    try {
      result = await work();
    } catch (error) {
      await this.give(counters);
      throw error;
    }
    if (refund(result)) await this.give(counters);
    return result;
  }

  /**
   * Takes one point of every counter, or none: when one refuses, the others are given back and its
   * refusal (the first in list order) is thrown with its wait; a store failure is `service_unavailable`.
   */
  async take(counters: readonly Counter[]): Promise<void> {
    const results = await Promise.allSettled(counters.map((counter) => this.#bounded(() => counter.limiter.consume(counter.key))));
    const taken = counters.filter((_, index) => results[index]!.status === 'fulfilled');
    if (taken.length === counters.length) return;
    await this.give(taken);
    for (const result of results) {
      if (result.status === 'rejected' && !(result.reason instanceof RateLimiterRes)) throw unavailable(result.reason);
    }
    const index = results.findIndex((result) => result.status === 'rejected');
    const reason = (results[index] as PromiseRejectedResult).reason as RateLimiterRes;
    throw this.refusal(counters[index]!, reason.msBeforeNext);
  }

  /** Gives points back (their action did not count); best effort, a failure only costs the user a point. */
  async give(counters: readonly Counter[]): Promise<void> {
    await Promise.allSettled(counters.map((counter) => this.#bounded(() => counter.limiter.reward(counter.key, 1))));
  }

  refusal(counter: Counter, msBeforeNext: number): MagicLinkError {
    return new MagicLinkError(counter.refusal, { retryAfter: retryAfterSeconds(msBeforeNext) });
  }

  /** The counters as a store that keeps them itself sees them (its own key names, in ms). */
  inStore(counters: readonly Counter[]): BudgetCounter[] {
    return counters.map(({ limiter, key }) => ({
      key: limiter.getKey(key),
      points: limiter.points,
      windowMs: limiter.duration * 1000,
      blockMs: limiter.blockDuration * 1000,
    }));
  }

  #ip(client: ClientKeys, narrow: RateLimiterAbstract, wide: RateLimiterAbstract, refusal: LimitCode): Counter[] {
    const counters: Counter[] = [{ limiter: narrow, key: client.narrow, refusal }];
    if (client.wide !== null) counters.push({ limiter: wide, key: client.wide, refusal });
    return counters;
  }

  #bounded<T>(call: () => Promise<T>): Promise<T> {
    return this.#timeoutMs === null ? call() : withDeadline(call(), this.#timeoutMs, 'rate limiter');
  }
}
