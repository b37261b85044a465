// Token store on Redis: one small hash per link, plus a hash of policy state for an email once it
// has any. Every operation is one Lua script (or one command); every key a script touches carries
// the email's hash tag, so on Redis Cluster they all sit in one slot.
import { assertKnownKeys, assertWholeNumber, describe, dropUndefined } from '../option-checks.js';
import type { TokenKey } from '../tokens.js';
import type {
  EmailKey,
  ExchangeOptions,
  ExchangeResult,
  RedeemOptions,
  RedeemResult,
  SaveOptions,
  TokenRecord,
  TokenStore,
} from '../types.js';
import { isRedisClient, untilReady, type RedisClient } from './redis-client.js';

/** Internal (not exported from the package): see `RedisTokenStore[GUARDED_REDEEM]`. */
export const GUARDED_REDEEM = Symbol('express-magic-link guarded redeem');

/** A rate-limit counter that must not be over `points` for a redeem to go ahead. */
export interface RedeemGuard {
  readonly key: string;
  readonly points: number;
}

export type GuardedRedeemResult = RedeemResult | { readonly status: 'blocked'; readonly msBeforeNext: number };

export interface RedisTokenStoreOptions {
  /** Prefix of every key the store writes; the hash tag follows it. Default `ml:`. */
  keyPrefix?: string;
  /** How long a call waits for a (re)connecting client before failing. Default `500`. */
  readyTimeoutMs?: number;
}

// Link hash `<prefix>{tag}:l:<id>`, the id being the code's digest: s sealed payload, e email key,
// t "<expires>:<retain until>" (ms in base 36; one field, as every byte counts when a link is
// outstanding), k token check; g and f the email's generation and wrong-code count when it was
// saved (absent while 0); u used at (absent while unused).
// Email state `<prefix>{tag}:e:<email key>`, only once there is any: g generation (a sign-in or a
// revoke adds one, burning every link saved before), f wrong codes. It is kept at least as long
// as any link that compares against it can still work, so an outstanding link costs one key.
const HELPERS = `
local function keep(state, ms)
  if redis.call('PTTL', state) < ms then redis.call('PEXPIRE', state, ms) end
end
local function burnt(state, g)
  return tonumber(g or '0') < tonumber(redis.call('HGET', state, 'g') or '0')
end
local function times(t)
  local sep = string.find(t, ':', 1, true)
  return tonumber(string.sub(t, 1, sep - 1), 36), tonumber(string.sub(t, sep + 1), 36)
end
`;

// KEYS: link, state. ARGV: sealed, email key, times, retain ms, check, revoke, now, valid ms.
// 0 when the id is taken by a record still retained, else 1.
const SAVE_SCRIPT = `${HELPERS}
local t = redis.call('HGET', KEYS[1], 't')
if t then
  local _, retain = times(t)
  if tonumber(ARGV[7], 36) < retain then return 0 end
  redis.call('DEL', KEYS[1])
end
local st = redis.call('HMGET', KEYS[2], 'g', 'f')
local g, f = st[1], st[2]
if ARGV[6] == '1' then g = tostring(redis.call('HINCRBY', KEYS[2], 'g', 1)) end
local fields = {'s', ARGV[1], 'e', ARGV[2], 't', ARGV[3], 'k', ARGV[5]}
if g then table.insert(fields, 'g'); table.insert(fields, g) end
if f then table.insert(fields, 'f'); table.insert(fields, f) end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if g or f then keep(KEYS[2], tonumber(ARGV[8])) end
return 1`;

// KEYS: link. ARGV: now, state-key prefix, check. {} when absent, else {s, e, t, u or '', burnt}.
const PEEK_SCRIPT = `${HELPERS}
local v = redis.call('HMGET', KEYS[1], 's', 'e', 't', 'u', 'k', 'g')
if not v[1] or v[5] ~= ARGV[3] then return {} end
local _, retain = times(v[3])
if tonumber(ARGV[1], 36) >= retain then return {} end
return {v[1], v[2], v[3], v[4] or '', burnt(ARGV[2] .. v[2], v[6]) and 1 or 0}`;

// KEYS: link[, guard]. ARGV: now, burn, state-key prefix, check, link ttl ms[, guard points].
// {4, pttl} when the guard counter is over its points (nothing is read or spent), {0} not found,
// {2} already used, {3} expired or burnt, or {1, s, e, t} after marking it used.
const REDEEM_SCRIPT = `${HELPERS}
if KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[6]) then
  return {4, redis.call('PTTL', KEYS[2])}
end
local v = redis.call('HMGET', KEYS[1], 's', 'e', 't', 'u', 'k', 'g')
if not v[1] or v[5] ~= ARGV[4] then return {0} end
local now = tonumber(ARGV[1], 36)
local expires, retain = times(v[3])
if now >= retain then return {0} end
if v[4] then return {2} end
local state = ARGV[3] .. v[2]
if now >= expires or burnt(state, v[6]) then return {3} end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
if ARGV[2] == '1' then
  redis.call('HINCRBY', state, 'g', 1)
  keep(state, tonumber(ARGV[5]))
end
return {1, v[1], v[2], v[3]}`;

// KEYS: link (by code digest), state. ARGV: now, burn, max failures, email key, link ttl ms.
// 1 redeemed, 2 already used, 3 dead or expired, 0 wrong (counted against all the email's codes).
const EXCHANGE_SCRIPT = `${HELPERS}
local now = tonumber(ARGV[1], 36)
local v = redis.call('HMGET', KEYS[1], 'e', 't', 'u', 'g', 'f')
local expires, retain = 0, 0
if v[2] then expires, retain = times(v[2]) end
if not v[1] or v[1] ~= ARGV[4] or now >= retain then
  redis.call('HINCRBY', KEYS[2], 'f', 1)
  keep(KEYS[2], tonumber(ARGV[5]))
  return 0
end
local st = redis.call('HMGET', KEYS[2], 'g', 'f')
if tonumber(st[2] or '0') - tonumber(v[5] or '0') >= tonumber(ARGV[3]) then return 3 end
if v[3] then return 2 end
if now >= expires or tonumber(v[4] or '0') < tonumber(st[1] or '0') then return 3 end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[2], 'g', 1)
  keep(KEYS[2], tonumber(ARGV[5]))
end
return 1`;

// Named after the script version, so stores with other prefixes on one client share the definition.
const COMMANDS = {
  save: ['expressMagicLinkSave4', SAVE_SCRIPT, 2],
  peek: ['expressMagicLinkPeek4', PEEK_SCRIPT, 1],
  redeem: ['expressMagicLinkRedeem4', REDEEM_SCRIPT, 1],
  guardedRedeem: ['expressMagicLinkGuardedRedeem4', REDEEM_SCRIPT, 2],
  exchange: ['expressMagicLinkExchange4', EXCHANGE_SCRIPT, 2],
} as const;

type ScriptCommand = (...keysThenArgs: string[]) => Promise<unknown>;

const toBase36 = (ms: number): string => ms.toString(36);
const fromBase36 = (text: string): number => parseInt(text, 36);
const fromTimes = (times: string): [expiresAt: number, retainUntil: number] => {
  const sep = times.indexOf(':');
  return [fromBase36(times.slice(0, sep)), fromBase36(times.slice(sep + 1))];
};
const flag = (on: boolean): string => (on ? '1' : '0');

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
    for (const [name, lua, numberOfKeys] of Object.values(COMMANDS)) client.defineCommand(name, { numberOfKeys, lua });
  }

  /** The Redis key of a link: the `{tag}` hash tag keeps one email's keys in one cluster slot. */
  keyOf(key: Pick<TokenKey, 'tag' | 'id'>): string {
    return `${this.#prefix}{${key.tag}}:l:${key.id}`;
  }

  async save(key: TokenKey, record: TokenRecord, { now, revokeOthers }: SaveOptions): Promise<boolean> {
    // Redis expires the key on its own clock; `t` keeps the app's notion of the same moment.
    const saved = await this.#run(
      'save',
      this.keyOf(key),
      this.#stateKey(key.tag, record.emailKey),
      record.sealed,
      record.emailKey,
      `${toBase36(record.expiresAt)}:${toBase36(record.retainUntil)}`,
      String(Math.max(1, record.retainUntil - now)),
      key.check,
      flag(revokeOthers),
      toBase36(now),
      String(Math.max(1, record.expiresAt - now)),
    );
    return Number(saved) === 1;
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    const reply = (await this.#run('peek', this.keyOf(key), toBase36(now), this.#statePrefix(key.tag), key.check)) as [string, string, string, string, number] | [];
    if (reply.length === 0) return null;
    const [sealed, emailKey, times, used, burnt] = reply;
    const usedAt = used ? fromBase36(used) : null;
    const [expiresAt, retainUntil] = fromTimes(times);
    // A burnt link stopped working when the email signed in elsewhere: it reads as expired now.
    return { sealed, emailKey, expiresAt: usedAt === null && burnt === 1 && now < expiresAt ? now : expiresAt, retainUntil, usedAt };
  }

  async redeem(key: TokenKey, options: RedeemOptions): Promise<RedeemResult> {
    return this.#redeem(key, options) as Promise<RedeemResult>;
  }

  /**
   * Internal to the library: the redeem, refused before anything is read when the rate-limit counter
   * at `guard.key` is over `guard.points`. One script instead of a GET and then the redeem, so a
   * verify costs one round trip. Not for Redis Cluster, where the counter sits in another slot.
   */
  [GUARDED_REDEEM](key: TokenKey, options: RedeemOptions, guard: RedeemGuard): Promise<GuardedRedeemResult> {
    return this.#redeem(key, options, guard);
  }

  async #redeem(key: TokenKey, { now, burnOthers, linkTtlMs }: RedeemOptions, guard?: RedeemGuard): Promise<GuardedRedeemResult> {
    const args = [toBase36(now), flag(burnOthers), this.#statePrefix(key.tag), key.check, String(linkTtlMs)];
    const reply = (await (guard
      ? this.#run('guardedRedeem', this.keyOf(key), guard.key, ...args, String(guard.points))
      : this.#run('redeem', this.keyOf(key), ...args))) as [number, (string | number)?, string?, string?];
    switch (reply[0]) {
      case 1: {
        const [expiresAt, retainUntil] = fromTimes(reply[3]!);
        return { status: 'redeemed', record: { sealed: String(reply[1]), emailKey: reply[2]!, expiresAt, retainUntil, usedAt: now } };
      }
      case 2:
        return { status: 'already_used' };
      case 3:
        return { status: 'expired' };
      case 4:
        return { status: 'blocked', msBeforeNext: Math.max(0, Number(reply[1])) };
      default:
        return { status: 'not_found' };
    }
  }

  async exchange(email: EmailKey, codeDigest: string, { now, burnOthers, linkTtlMs, maxFailures }: ExchangeOptions): Promise<ExchangeResult> {
    const reply = Number(
      await this.#run(
        'exchange',
        this.keyOf({ tag: email.tag, id: codeDigest }),
        this.#stateKey(email.tag, email.digest),
        toBase36(now),
        flag(burnOthers),
        String(maxFailures),
        email.digest,
        String(linkTtlMs),
      ),
    );
    if (reply === 1) return { status: 'redeemed' };
    if (reply === 2) return { status: 'already_used' };
    return { status: 'not_found', wrong: reply === 0 };
  }

  async delete(key: TokenKey): Promise<void> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    await this.#client.del(this.keyOf(key));
  }

  #statePrefix(tag: string): string {
    return `${this.#prefix}{${tag}}:e:`;
  }

  #stateKey(tag: string, emailKey: string): string {
    return `${this.#statePrefix(tag)}${emailKey}`;
  }

  async #run(command: keyof typeof COMMANDS, ...keysThenArgs: string[]): Promise<unknown> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    const run = (this.#client as unknown as Record<string, ScriptCommand>)[COMMANDS[command][0]]!;
    return run.apply(this.#client, keysThenArgs);
  }
}
