// Token store on Redis: a small hash per link and one per email's outstanding codes. Every operation
// is one Lua script; every key a script touches carries the email's hash tag, so on Redis Cluster
// they all sit in one slot.
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

export interface RedisTokenStoreOptions {
  /** Prefix of every key the store writes; the hash tag follows it. Default `ml:`. */
  keyPrefix?: string;
  /** How long a call waits for a (re)connecting client before failing. Default `500`. */
  readyTimeoutMs?: number;
}

// Link hash `<prefix>{tag}:l:<digest>`: s sealed payload, e email key, x expires, r retain until,
// u used (absent while unused); times are milliseconds in base 36.
// Code hash `<prefix>{tag}:e:<email key>`: one field per outstanding link, "<code digest>:<failures>".
// Expires the email's other live links (so their codes die with them); drops entries of vanished links.
const EXPIRE_OTHERS = `
local function expire_others(codes, except, now, now36, link_prefix)
  for _, digest in ipairs(redis.call('HKEYS', codes)) do
    if digest ~= except then
      local link = link_prefix .. digest
      local o = redis.call('HMGET', link, 'x', 'u')
      if not o[1] then redis.call('HDEL', codes, digest)
      elseif not o[2] and now < tonumber(o[1], 36) then redis.call('HSET', link, 'x', now36) end
    end
  end
end
`;

// KEYS: link, codes. ARGV: sealed, email key, x, r, ttl ms, digest, code digest, revoke, now, link prefix.
const SAVE_SCRIPT = `${EXPIRE_OTHERS}
if ARGV[8] == '1' then expire_others(KEYS[2], ARGV[6], tonumber(ARGV[9], 36), ARGV[9], ARGV[10]) end
redis.call('HSET', KEYS[1], 's', ARGV[1], 'e', ARGV[2], 'x', ARGV[3], 'r', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[6], ARGV[7] .. ':0')
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return 1`;

// KEYS: link. ARGV: now, burn, code-hash prefix, link prefix, digest.
// {0} not found, {2} already used, {3} expired, or {1, s, e, x, r} after marking it used.
const REDEEM_SCRIPT = `${EXPIRE_OTHERS}
local v = redis.call('HMGET', KEYS[1], 's', 'e', 'x', 'r', 'u')
local now = tonumber(ARGV[1], 36)
if not v[1] or now >= tonumber(v[4], 36) then return {0} end
if v[5] then return {2} end
if now >= tonumber(v[3], 36) then return {3} end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
if ARGV[2] == '1' then expire_others(ARGV[3] .. v[2], ARGV[5], now, ARGV[1], ARGV[4]) end
return {1, v[1], v[2], v[3], v[4]}`;

// KEYS: codes. ARGV: code digest, now, burn, max failures, link prefix.
// 1 redeemed, 2 already used, 3 dead or expired, 0 wrong (a failure counted on every live code).
const EXCHANGE_SCRIPT = `${EXPIRE_OTHERS}
local now = tonumber(ARGV[2], 36)
local max_failures = tonumber(ARGV[4])
local entries = redis.call('HGETALL', KEYS[1])
local matched = nil
for i = 1, #entries, 2 do
  local value = entries[i + 1]
  local sep = string.find(value, ':', 1, true)
  if string.sub(value, 1, sep - 1) == ARGV[1] then
    local link = ARGV[5] .. entries[i]
    local v = redis.call('HMGET', link, 'x', 'r', 'u')
    if not v[1] or now >= tonumber(v[2], 36) or tonumber(string.sub(value, sep + 1)) >= max_failures then
      matched = matched or 'dead'
    elseif v[3] then
      matched = 'used'
    elseif now >= tonumber(v[1], 36) then
      matched = matched or 'dead'
    else
      redis.call('HSET', link, 'u', ARGV[2])
      if ARGV[3] == '1' then expire_others(KEYS[1], entries[i], now, ARGV[2], ARGV[5]) end
      return 1
    end
  end
end
if matched == 'used' then return 2 end
if matched == 'dead' then return 3 end
for i = 1, #entries, 2 do
  local v = redis.call('HMGET', ARGV[5] .. entries[i], 'x', 'u')
  if not v[1] then
    redis.call('HDEL', KEYS[1], entries[i])
  elseif not v[2] and now < tonumber(v[1], 36) then
    local value = entries[i + 1]
    local sep = string.find(value, ':', 1, true)
    redis.call('HSET', KEYS[1], entries[i], string.sub(value, 1, sep) .. (tonumber(string.sub(value, sep + 1)) + 1))
  end
end
return 0`;

// KEYS: link. ARGV: code-hash prefix, digest.
const DELETE_SCRIPT = `
local e = redis.call('HGET', KEYS[1], 'e')
redis.call('DEL', KEYS[1])
if e then redis.call('HDEL', ARGV[1] .. e, ARGV[2]) end
return 1`;

// Named after the script version, so stores with other prefixes on one client share the definition.
const COMMANDS = {
  save: ['expressMagicLinkSave3', SAVE_SCRIPT],
  redeem: ['expressMagicLinkRedeem3', REDEEM_SCRIPT],
  exchange: ['expressMagicLinkExchange3', EXCHANGE_SCRIPT],
  delete: ['expressMagicLinkDelete3', DELETE_SCRIPT],
} as const;

type ScriptCommand = (...keysThenArgs: string[]) => Promise<unknown>;

const toBase36 = (ms: number): string => ms.toString(36);
const fromBase36 = (text: string): number => parseInt(text, 36);
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
    for (const [name, lua] of Object.values(COMMANDS)) {
      client.defineCommand(name, { numberOfKeys: name === COMMANDS.save[0] ? 2 : 1, lua });
    }
  }

  /** The Redis key of a link: the `{tag}` hash tag keeps one email's keys in one cluster slot. */
  keyOf(key: TokenKey): string {
    return `${this.#linkPrefix(key.tag)}${key.digest}`;
  }

  async save(key: TokenKey, record: TokenRecord, { now, codeDigest, revokeOthers }: SaveOptions): Promise<void> {
    // Redis expires the keys on its own clock; `r` keeps the app's notion of the same moment.
    const ttlMs = Math.max(1, record.retainUntil - now);
    await this.#run(
      'save',
      this.keyOf(key),
      this.#codesKey(key.tag, record.emailKey),
      record.sealed,
      record.emailKey,
      toBase36(record.expiresAt),
      toBase36(record.retainUntil),
      String(ttlMs),
      key.digest,
      codeDigest,
      flag(revokeOthers),
      toBase36(now),
      this.#linkPrefix(key.tag),
    );
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    const [sealed, emailKey, expires, retain, used] = await this.#client.hmget(this.keyOf(key), 's', 'e', 'x', 'r', 'u');
    if (!sealed || !emailKey || !expires || !retain || now >= fromBase36(retain)) return null;
    return { sealed, emailKey, expiresAt: fromBase36(expires), retainUntil: fromBase36(retain), usedAt: used ? fromBase36(used) : null };
  }

  async redeem(key: TokenKey, { now, burnOthers }: RedeemOptions): Promise<RedeemResult> {
    const reply = (await this.#run('redeem', this.keyOf(key), toBase36(now), flag(burnOthers), this.#codesPrefix(key.tag), this.#linkPrefix(key.tag), key.digest)) as [
      number,
      string?,
      string?,
      string?,
      string?,
    ];
    switch (reply[0]) {
      case 1:
        return {
          status: 'redeemed',
          record: { sealed: reply[1]!, emailKey: reply[2]!, expiresAt: fromBase36(reply[3]!), retainUntil: fromBase36(reply[4]!), usedAt: now },
        };
      case 2:
        return { status: 'already_used' };
      case 3:
        return { status: 'expired' };
      default:
        return { status: 'not_found' };
    }
  }

  async exchange(email: EmailKey, codeDigest: string, { now, burnOthers, maxFailures }: ExchangeOptions): Promise<ExchangeResult> {
    const reply = Number(
      await this.#run('exchange', this.#codesKey(email.tag, email.digest), codeDigest, toBase36(now), flag(burnOthers), String(maxFailures), this.#linkPrefix(email.tag)),
    );
    if (reply === 1) return { status: 'redeemed' };
    if (reply === 2) return { status: 'already_used' };
    return { status: 'not_found', wrong: reply === 0 };
  }

  async delete(key: TokenKey): Promise<void> {
    await this.#run('delete', this.keyOf(key), this.#codesPrefix(key.tag), key.digest);
  }

  #linkPrefix(tag: string): string {
    return `${this.#prefix}{${tag}}:l:`;
  }

  #codesPrefix(tag: string): string {
    return `${this.#prefix}{${tag}}:e:`;
  }

  #codesKey(tag: string, emailKey: string): string {
    return `${this.#codesPrefix(tag)}${emailKey}`;
  }

  async #run(command: keyof typeof COMMANDS, ...keysThenArgs: string[]): Promise<unknown> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    const run = (this.#client as unknown as Record<string, ScriptCommand>)[COMMANDS[command][0]]!;
    return run.apply(this.#client, keysThenArgs);
  }
}
