// A small express-session store on ioredis, so every demo process behind a load balancer shares
// sessions the way they share links and limits.
import session from 'express-session';
import type { Redis } from 'ioredis';
import { MagicLinkError } from 'express-magic-link';

/** Redis away is an outage: 503 and "try again" (a page for pages, the envelope for the API), not a 500. */
const unavailable = (error: unknown) => new MagicLinkError('service_unavailable', { retryAfter: 5, cause: error });

const DEFAULT_TTL_SECONDS = 7 * 24 * 3600;

export class RedisSessionStore extends session.Store {
  readonly #client: Redis;
  readonly #prefix: string;

  constructor(client: Redis, prefix = 'demo:sess:') {
    super();
    this.#client = client;
    this.#prefix = prefix;
  }

  #ttlOf(data: session.SessionData): number {
    const expires = data.cookie?.expires ? new Date(data.cookie.expires).getTime() : undefined;
    return expires ? Math.max(1, Math.ceil((expires - Date.now()) / 1000)) : DEFAULT_TTL_SECONDS;
  }

  override get(sid: string, callback: (error: unknown, data?: session.SessionData | null) => void): void {
    this.#client.get(this.#prefix + sid).then(
      (raw) => callback(null, raw ? (JSON.parse(raw) as session.SessionData) : null),
      (error: unknown) => callback(unavailable(error)),
    );
  }

  override set(sid: string, data: session.SessionData, callback?: (error?: unknown) => void): void {
    this.#client.set(this.#prefix + sid, JSON.stringify(data), 'EX', this.#ttlOf(data)).then(
      () => callback?.(),
      (error: unknown) => callback?.(unavailable(error)),
    );
  }

  override touch(sid: string, data: session.SessionData, callback?: () => void): void {
    this.#client.expire(this.#prefix + sid, this.#ttlOf(data)).then(
      () => callback?.(),
      () => callback?.(),
    );
  }

  override destroy(sid: string, callback?: (error?: unknown) => void): void {
    this.#client.del(this.#prefix + sid).then(
      () => callback?.(),
      (error: unknown) => callback?.(unavailable(error)),
    );
  }
}
