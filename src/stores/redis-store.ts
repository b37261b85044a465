// Token store on Redis: one small hash per link, every operation one atomic command or script on
// one key, so it works unchanged on Redis Cluster.
import { assertKnownKeys, assertWholeNumber, describe, dropUndefined } from '../option-checks.js';
import type { TokenKey } from '../tokens.js';
import type { RedeemResult, TokenRecord, TokenStore } from '../types.js';
import { isRedisClient, untilReady, type RedisClient } from './redis-client.js';

export interface RedisTokenStoreOptions {
  /** Prefix of every key the store writes; the hash tag follows it. Default `ml:`. */
  keyPrefix?: string;
  /** How long a call waits for a (re)connecting client before failing. Default `500`. */
  readyTimeoutMs?: number;
}

// Fields: s sealed payload, x expires, r retain until, u used (absent while unused); times are
// milliseconds in base 36, which keeps a link near 250 bytes of Redis memory.
const SAVE_SCRIPT = `
redis.call('HSET', KEYS[1], 's', ARGV[1], 'x', ARGV[2], 'r', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

// {0} not found, {2} already used, {3} expired, or {1, s, x, r} after marking it used.
const REDEEM_SCRIPT = `
local v = redis.call('HMGET', KEYS[1], 's', 'x', 'r', 'u')
local now = tonumber(ARGV[1], 36)
if not v[1] or now >= tonumber(v[3], 36) then return {0} end
if v[4] then return {2} end
if now >= tonumber(v[2], 36) then return {3} end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
return {1, v[1], v[2], v[3]}`;

// Named after the script version, so stores with other prefixes on one client share the definition.
const SAVE_COMMAND = 'expressMagicLinkSave2';
const REDEEM_COMMAND = 'expressMagicLinkRedeem2';

type ScriptCommand = (key: string, ...args: string[]) => Promise<unknown>;

const toBase36 = (ms: number): string => ms.toString(36);
const fromBase36 = (text: string): number => parseInt(text, 36);

/** Keeps links in Redis so that every process of an app shares them; pass an ioredis `Redis` or `Cluster`. */
export class RedisTokenStore implements TokenStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #readyTimeoutMs: number;

  constructor(client: RedisClient, options: RedisTokenStoreOptions = {}) {
    if (!isRedisClient(client)) {
      throw new TypeError(`\`RedisTokenStore\` needs an ioredis client (\`new Redis(url)\` or \`new Redis.Cluster(nodes)\`); got ${describe(client)}.`);
    }
    const given = dropUndefined(options, 'RedisTokenStore');
    assertKnownKeys(given, ['keyPrefix', 'readyTimeoutMs'], 'RedisTokenStore');
    if (given.keyPrefix !== undefined && (typeof given.keyPrefix !== 'string' || /[{}\s]/.test(given.keyPrefix))) {
      throw new TypeError(
        `\`RedisTokenStore\` option \`keyPrefix\` must be a string without braces or spaces (the hash tag follows it), such as "ml:"; got ${describe(given.keyPrefix)}.`,
      );
    }
    assertWholeNumber(given.readyTimeoutMs, 'RedisTokenStore', 'readyTimeoutMs', 0, 60_000);
    this.#client = client;
    this.#prefix = given.keyPrefix ?? 'ml:';
    this.#readyTimeoutMs = given.readyTimeoutMs ?? 500;
    // defineCommand loads each script once and runs it by SHA (EVALSHA, EVAL after a NOSCRIPT).
    client.defineCommand(SAVE_COMMAND, { numberOfKeys: 1, lua: SAVE_SCRIPT });
    client.defineCommand(REDEEM_COMMAND, { numberOfKeys: 1, lua: REDEEM_SCRIPT });
  }

  /** The Redis key of a link: the `{tag}` hash tag keeps one email's keys in one cluster slot. */
  keyOf(key: TokenKey): string {
    return `${this.#prefix}{${key.tag}}:l:${key.digest}`;
  }

  async save(key: TokenKey, record: TokenRecord, now: number): Promise<void> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    // Redis expires the key on its own clock; `r` keeps the app's notion of the same moment.
    const ttlMs = Math.max(1, record.retainUntil - now);
    await this.#command(SAVE_COMMAND)(this.keyOf(key), record.sealed, toBase36(record.expiresAt), toBase36(record.retainUntil), String(ttlMs));
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    const [sealed, expires, retain, used] = await this.#client.hmget(this.keyOf(key), 's', 'x', 'r', 'u');
    if (!sealed || !expires || !retain || now >= fromBase36(retain)) return null;
    return { sealed, expiresAt: fromBase36(expires), retainUntil: fromBase36(retain), usedAt: used ? fromBase36(used) : null };
  }

  async redeem(key: TokenKey, now: number): Promise<RedeemResult> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    const reply = (await this.#command(REDEEM_COMMAND)(this.keyOf(key), toBase36(now))) as [number, string?, string?, string?];
    switch (reply[0]) {
      case 1:
        return { status: 'redeemed', record: { sealed: reply[1]!, expiresAt: fromBase36(reply[2]!), retainUntil: fromBase36(reply[3]!), usedAt: now } };
      case 2:
        return { status: 'already_used' };
      case 3:
        return { status: 'expired' };
      default:
        return { status: 'not_found' };
    }
  }

  async delete(key: TokenKey): Promise<void> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    await this.#client.del(this.keyOf(key));
  }

  #command(name: string): ScriptCommand {
    return (this.#client as unknown as Record<string, ScriptCommand>)[name]!.bind(this.#client);
  }
}
