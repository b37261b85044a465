// Token store on Redis: one hash per link, every operation one atomic command or script on one key,
// so it works unchanged on Redis Cluster.
import { assertKnownKeys, describe, dropUndefined } from '../option-checks.js';
import type { TokenKey } from '../tokens.js';
import type { RedeemResult, TokenRecord, TokenStore } from '../types.js';
import { assertReady, isRedisClient, type RedisClient } from './redis-client.js';

export interface RedisTokenStoreOptions {
  /** Prefix of every key the store writes; the hash tag follows it. Default `ml:`. */
  keyPrefix?: string;
}

// Fields: e email digest, s sealed payload, i issued, x expires, r retain until, u used (absent while unused).
const SAVE_SCRIPT = `
redis.call('HSET', KEYS[1], 'e', ARGV[1], 's', ARGV[2], 'i', ARGV[3], 'x', ARGV[4], 'r', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1`;

// Returns {0} not found, {2} already used, {3} expired, or {1, e, s, i, x} after marking it used.
const REDEEM_SCRIPT = `
local v = redis.call('HMGET', KEYS[1], 'e', 's', 'i', 'x', 'r', 'u')
local now = tonumber(ARGV[1])
if not v[1] or now >= tonumber(v[5]) then return {0} end
if v[6] then return {2} end
if now >= tonumber(v[4]) then return {3} end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
return {1, v[1], v[2], v[3], v[4]}`;

// One name per script body, so stores with other prefixes on the same client share the definition.
const SAVE_COMMAND = 'expressMagicLinkSave1';
const REDEEM_COMMAND = 'expressMagicLinkRedeem1';

type ScriptCommand = (key: string, ...args: string[]) => Promise<unknown>;

/** Keeps links in Redis so that every process of an app shares them; pass an ioredis `Redis` or `Cluster`. */
export class RedisTokenStore implements TokenStore {
  readonly #client: RedisClient;
  readonly #prefix: string;

  constructor(client: RedisClient, options: RedisTokenStoreOptions = {}) {
    if (!isRedisClient(client)) {
      throw new TypeError(`\`RedisTokenStore\` needs an ioredis client (\`new Redis(url)\` or \`new Redis.Cluster(nodes)\`); got ${describe(client)}.`);
    }
    const given = dropUndefined(options, 'RedisTokenStore');
    assertKnownKeys(given, ['keyPrefix'], 'RedisTokenStore');
    if (given.keyPrefix !== undefined && (typeof given.keyPrefix !== 'string' || /[{}\s]/.test(given.keyPrefix))) {
      throw new TypeError(
        `\`RedisTokenStore\` option \`keyPrefix\` must be a string without braces or spaces (the hash tag follows it), such as "ml:"; got ${describe(given.keyPrefix)}.`,
      );
    }
    this.#client = client;
    this.#prefix = given.keyPrefix ?? 'ml:';
    // defineCommand loads each script once and runs it by SHA (EVALSHA, EVAL after a NOSCRIPT).
    client.defineCommand(SAVE_COMMAND, { numberOfKeys: 1, lua: SAVE_SCRIPT });
    client.defineCommand(REDEEM_COMMAND, { numberOfKeys: 1, lua: REDEEM_SCRIPT });
  }

  /** The Redis key of a link: the `{tag}` hash tag keeps one email's keys in one cluster slot. */
  keyOf(key: TokenKey): string {
    return `${this.#prefix}{${key.tag}}:l:${key.digest}`;
  }

  async save(key: TokenKey, record: TokenRecord, retainUntil: number): Promise<void> {
    assertReady(this.#client);
    // Redis expires the key on its own clock; `r` holds the app's notion of the same moment.
    const ttlMs = Math.max(1, retainUntil - record.issuedAt);
    await this.#command(SAVE_COMMAND)(
      this.keyOf(key),
      record.emailDigest,
      record.sealed,
      String(record.issuedAt),
      String(record.expiresAt),
      String(retainUntil),
      String(ttlMs),
    );
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    assertReady(this.#client);
    const [e, s, i, x, r, u] = await this.#client.hmget(this.keyOf(key), 'e', 's', 'i', 'x', 'r', 'u');
    if (!e || !s || !i || !x || !r || now >= Number(r)) return null;
    return { emailDigest: e, sealed: s, issuedAt: Number(i), expiresAt: Number(x), usedAt: u ? Number(u) : null };
  }

  async redeem(key: TokenKey, now: number): Promise<RedeemResult> {
    assertReady(this.#client);
    const reply = (await this.#command(REDEEM_COMMAND)(this.keyOf(key), String(now))) as [number, string?, string?, string?, string?];
    switch (reply[0]) {
      case 1:
        return {
          status: 'redeemed',
          record: { emailDigest: reply[1]!, sealed: reply[2]!, issuedAt: Number(reply[3]), expiresAt: Number(reply[4]), usedAt: now },
        };
      case 2:
        return { status: 'already_used' };
      case 3:
        return { status: 'expired' };
      default:
        return { status: 'not_found' };
    }
  }

  async delete(key: TokenKey): Promise<void> {
    assertReady(this.#client);
    await this.#client.del(this.keyOf(key));
  }

  #command(name: string): ScriptCommand {
    return ((this.#client as unknown as Record<string, ScriptCommand>)[name]!).bind(this.#client);
  }
}
