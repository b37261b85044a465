// Rate limits on rate-limiter-flexible: built in one place, and their answers turned into catalogue errors.
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { withDeadline } from './deadline.js';
import { MagicLinkError, type ErrorCode } from './errors.js';
import type { LimitsConfig } from './options.js';
import { untilReady, type RedisClient } from './stores/redis-client.js';

export interface Limiters {
  /** Resolves once the backing store can take commands (at once for memory). */
  readonly ready: () => Promise<void>;
  /** The Redis client behind the limiters, if any: calls then need the ready gate and a deadline. */
  readonly redis: RedisClient | undefined;
  readonly linkRequestsPerIp: RateLimiterAbstract;
  readonly linkRequestsPerEmail: RateLimiterAbstract;
  readonly failedVerifiesPerIp: RateLimiterAbstract;
  readonly failedExchangesPerIp: RateLimiterAbstract;
  readonly failedExchangesPerEmail: RateLimiterAbstract;
}

/** Seconds a client waits when the store cannot be reached. */
export const UNAVAILABLE_RETRY_SECONDS = 5;

/**
 * The one place limiters are built: in memory, or on the app's Redis client so that every process
 * shares the budgets. Each limiter touches one key per call, so Redis Cluster works.
 */
export function createLimiters(limits: LimitsConfig, keyPrefix: string, redis: RedisClient | undefined, readyTimeoutMs: number): Limiters {
  const build = (name: string, points: number): RateLimiterAbstract => {
    const options = { keyPrefix: `${keyPrefix}rl:${name}`, points, duration: limits.windowSeconds, blockDuration: limits.blockSeconds };
    // rejectIfRedisNotReady: fail at once during an outage instead of queueing behind a reconnect.
    return redis ? new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true }) : new RateLimiterMemory(options);
  };
  return Object.freeze({
    ready: redis ? () => untilReady(redis, readyTimeoutMs) : () => Promise.resolve(),
    redis,
    linkRequestsPerIp: build('link-ip', limits.linkRequestsPerIp),
    linkRequestsPerEmail: build('link-email', limits.linkRequestsPerEmail),
    failedVerifiesPerIp: build('verify-ip', limits.failedVerifiesPerIp),
    failedExchangesPerIp: build('exchange-ip', limits.failedExchangesPerIp),
    failedExchangesPerEmail: build('exchange-email', limits.failedExchangesPerEmail),
  });
}

/** A limiter call, once the store is ready and within the deadline when the store is remote. */
function bounded<T>(limiters: Limiters, call: () => Promise<T>, timeoutMs: number): Promise<T> {
  return limiters.redis ? withDeadline(limiters.ready().then(call), timeoutMs, 'rate limiter') : call();
}

export function retryAfterSeconds(msBeforeNext: number): number {
  return Math.min(3600, Math.max(1, Math.ceil(msBeforeNext / 1000)));
}

export function unavailable(cause: unknown): MagicLinkError {
  return new MagicLinkError('service_unavailable', { retryAfter: UNAVAILABLE_RETRY_SECONDS, cause });
}

/** Spends one point; a spent budget (a RateLimiterRes rejection) becomes `refusal`, a store failure `service_unavailable`. */
export async function consumePoint(
  limiters: Limiters,
  limiter: RateLimiterAbstract,
  key: string,
  refusal: ErrorCode,
  timeoutMs: number,
): Promise<void> {
  try {
    await bounded(limiters, () => limiter.consume(key), timeoutMs);
  } catch (error) {
    if (error instanceof RateLimiterRes) {
      throw new MagicLinkError(refusal, { retryAfter: retryAfterSeconds(error.msBeforeNext) });
    }
    throw unavailable(error);
  }
}

/** Refuses when the key is blocked, without spending anything. */
export async function assertNotBlocked(
  limiters: Limiters,
  limiter: RateLimiterAbstract,
  key: string,
  refusal: ErrorCode,
  timeoutMs: number,
): Promise<void> {
  let msBlocked: number | null;
  try {
    msBlocked = await bounded(limiters, () => blockedFor(limiters.redis, limiter, key), timeoutMs);
  } catch (error) {
    throw unavailable(error);
  }
  if (msBlocked !== null) throw new MagicLinkError(refusal, { retryAfter: retryAfterSeconds(msBlocked) });
}

/**
 * Milliseconds until the key may act again, or null when it is not over budget. On Redis it reads
 * the limiter's counter with one GET, and asks for its TTL only when blocked: rate-limiter-flexible's
 * own get() sends a MULTI with both for every request.
 */
async function blockedFor(redis: RedisClient | undefined, limiter: RateLimiterAbstract, key: string): Promise<number | null> {
  if (!redis) {
    const state = await limiter.get(key);
    return state !== null && state.consumedPoints > limiter.points ? state.msBeforeNext : null;
  }
  const redisKey = limiter.getKey(key);
  const consumed = Number(await redis.get(redisKey));
  if (!(consumed > limiter.points)) return null;
  return Math.max(0, await redis.pttl(redisKey));
}

/** Gives a point back (its request did not go through); best effort, a failure only costs the user a point. */
export async function refundPoint(limiters: Limiters, limiter: RateLimiterAbstract, key: string, timeoutMs: number): Promise<void> {
  try {
    await bounded(limiters, () => limiter.reward(key), timeoutMs);
  } catch {
    // Nothing to undo: the request fails anyway, and the budget resets with its window.
  }
}
