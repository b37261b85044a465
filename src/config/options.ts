// Normalises MagicLink options once, at construction, into a frozen internal config.
import { randomBytes } from 'node:crypto';
import passportModule, { type Authenticator } from 'passport';
import {
  originList,
  redirectAllowList,
  type RedirectAllowList,
  assertKeyPrefix,
  assertKnownKeys,
  assertOptionalFunction,
  assertOptionalPath,
  assertOptionalUrl,
  assertWholeNumber,
  describe,
  dropUndefined,
} from './checks.js';
import { REQUIRED_STORE_METHODS, type TokenStore } from '../stores/contract.js';
import { MemoryTokenStore } from '../stores/memory-store.js';
import { isCluster, isRedisClient, type RedisClient } from '../stores/redis-client.js';
import { RedisTokenStore } from '../stores/redis-store.js';
import type { LimitOptions, Mailer, MagicLinkOptions } from '../types.js';
import { logToConsole } from './log.js';

export const DEFAULT_DOCS_BASE_URL = 'https://docs.asterwise.com/reference/errors';

export interface LimitsConfig {
  readonly linkRequestsPerIp: number;
  readonly linkRequestsPerEmail: number;
  readonly failedVerifiesPerIp: number;
  readonly failedExchangesPerIp: number;
  readonly failedExchangesPerEmail: number;
  readonly failedExchangesTotal: number;
  readonly windowSeconds: number;
  readonly blockSeconds: number;
}

export interface MagicLinkConfig {
  readonly baseUrl: URL;
  /** `baseUrl` without a trailing slash, so paths can be appended. */
  readonly baseHref: string;
  readonly mailer: Mailer;
  readonly confirmPath: string;
  readonly store: TokenStore;
  /** The store runs in this process and cannot hang: its calls skip the deadline's timer. */
  readonly storeIsInProcess: boolean;
  /** Set when the app passed `redis`: limiters then live there too. */
  readonly redis: RedisClient | undefined;
  /** The limit counters live in the store's own Redis server (not a Cluster): one script can take a point and redeem. */
  readonly limitsInStore: boolean;
  /** Server-side secrets, newest first; never stored. */
  readonly secrets: readonly string[];
  readonly keyPrefix: string;
  readonly ttlSeconds: number;
  /** The longest per-request lifetime; the address state outlives links this long. */
  readonly maxTtlSeconds: number;
  readonly retentionSeconds: number;
  readonly limits: LimitsConfig;
  readonly codeAttempts: number;
  readonly revokeEarlierLinks: boolean;
  readonly burnOtherLinksOnSignIn: boolean;
  readonly onEvent: MagicLinkOptions['onEvent'];
  readonly mailTimeoutMs: number;
  readonly storeTimeoutMs: number;
  readonly docsBaseUrl: string;
  readonly ipv6SubnetBits: number;
  readonly ipv6WideSubnetBits: number;
  readonly successRedirect: string;
  /** Origins besides `baseUrl`'s whose requests pass the cross-site check. */
  readonly trustedOrigins: ReadonlySet<string>;
  /** `redirect` targets beyond same-origin paths. */
  readonly allowedRedirects: RedirectAllowList;
  readonly signInPath: string;
  readonly onError: (error: unknown, requestId: string) => void;
  readonly appName: string;
  readonly publicUser: (user: Express.User) => unknown;
  readonly passport: Pick<Authenticator, 'authenticate'>;
  readonly now: () => number;
}

const WHERE = 'MagicLink';
const KNOWN_KEYS = [
  'secret',
  'baseUrl',
  'mailer',
  'confirmPath',
  'store',
  'redis',
  'keyPrefix',
  'ttlSeconds',
  'maxTtlSeconds',
  'retentionSeconds',
  'limits',
  'codeAttempts',
  'revokeEarlierLinks',
  'burnOtherLinksOnSignIn',
  'onEvent',
  'mailTimeoutMs',
  'storeTimeoutMs',
  'docsBaseUrl',
  'ipv6SubnetBits',
  'ipv6WideSubnetBits',
  'waitForReplicas',
  'successRedirect',
  'trustedOrigins',
  'allowedRedirects',
  'signInPath',
  'appName',
  'onError',
  'publicUser',
  'passport',
  'now',
] as const satisfies readonly (keyof MagicLinkOptions)[];
/** The budgets: each a whole number of attempts per window. */
const BUDGET_KEYS = [
  'linkRequestsPerIp',
  'linkRequestsPerEmail',
  'failedVerifiesPerIp',
  'failedExchangesPerIp',
  'failedExchangesPerEmail',
  'failedExchangesTotal',
] as const satisfies readonly (keyof LimitOptions)[];
const LIMIT_KEYS = [...BUDGET_KEYS, 'windowSeconds', 'blockSeconds'] as const satisfies readonly (keyof LimitOptions)[];

function normalizeLimits(options: LimitOptions | undefined): LimitsConfig {
  const where = `${WHERE}.limits`;
  const given = dropUndefined(options, where);
  assertKnownKeys(given, LIMIT_KEYS, where);
  for (const key of BUDGET_KEYS) {
    assertWholeNumber(given[key], where, key, 1, 1_000_000);
  }
  assertWholeNumber(given.windowSeconds, where, 'windowSeconds', 1, 86_400);
  // retry_after is documented as at most 3600 seconds.
  assertWholeNumber(given.blockSeconds, where, 'blockSeconds', 1, 3600);
  return Object.freeze({
    linkRequestsPerIp: given.linkRequestsPerIp ?? 20,
    linkRequestsPerEmail: given.linkRequestsPerEmail ?? 5,
    failedVerifiesPerIp: given.failedVerifiesPerIp ?? 20,
    failedExchangesPerIp: given.failedExchangesPerIp ?? 10,
    failedExchangesPerEmail: given.failedExchangesPerEmail ?? 20,
    failedExchangesTotal: given.failedExchangesTotal ?? 1000,
    windowSeconds: given.windowSeconds ?? 3600,
    blockSeconds: given.blockSeconds ?? 3600,
  });
}

function assertStore(store: unknown): asserts store is TokenStore | undefined {
  if (store === undefined) return;
  const missing = REQUIRED_STORE_METHODS.filter(
    (method) => typeof store !== 'object' || store === null || typeof (store as Record<string, unknown>)[method] !== 'function',
  );
  if (missing.length > 0) {
    throw new TypeError(
      `\`${WHERE}\` option \`store\` must implement the TokenStore interface (missing ${missing.map((m) => `\`${m}()\``).join(', ')}); use \`new MemoryTokenStore()\`, \`new RedisTokenStore(client)\` or leave it out.`,
    );
  }
}

const MIN_SECRET_LENGTH = 32;
const SECRET_HOWTO = 'make one with `openssl rand -base64 32` and keep it out of the store (an environment variable or a secret manager)';

/** Bits of entropy the characters of `text` show, estimated from their frequencies. */
function estimatedBits(text: string): number {
  const counts = new Map<string, number>();
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) bits -= count * Math.log2(count / text.length);
  return bits;
}

function hasRepeats(text: string, size: number): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + size <= text.length; i++) {
    const part = text.slice(i, i + size);
    if (seen.has(part)) return true;
    seen.add(part);
  }
  return false;
}

function normalizeSecrets(value: unknown, shared: boolean): readonly string[] {
  if (value === undefined) {
    if (shared) {
      throw new TypeError(
        `\`${WHERE}\` option \`secret\` is required when the store is shared between processes (\`redis\` or a custom \`store\`): ${SECRET_HOWTO}.`,
      );
    }
    // The memory store's links die with the process, and so may its secret.
    return Object.freeze([randomBytes(32).toString('base64url')]);
  }
  const list: unknown[] = Array.isArray(value) ? [...(value as unknown[])] : [value];
  if (list.length === 0) throw new TypeError(`\`${WHERE}\` option \`secret\` must be a string or a non-empty list of strings; ${SECRET_HOWTO}.`);
  for (const [index, secret] of list.entries()) {
    const name = Array.isArray(value) ? `secret[${index}]` : 'secret';
    if (typeof secret !== 'string') throw new TypeError(`\`${WHERE}\` option \`${name}\` must be a string; got ${describe(secret)}.`);
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new TypeError(`\`${WHERE}\` option \`${name}\` is too short (${secret.length} characters, at least ${MIN_SECRET_LENGTH}): ${SECRET_HOWTO}.`);
    }
    // Catches words, repeated phrases and keyboard runs; a random secret passes with room to spare.
    if (estimatedBits(secret) < 96 || hasRepeats(secret, 6)) {
      throw new TypeError(`\`${WHERE}\` option \`${name}\` looks guessable (repeated or low-variety characters): ${SECRET_HOWTO}.`);
    }
  }
  if (new Set(list).size !== list.length) throw new TypeError(`\`${WHERE}\` option \`secret\` lists the same secret twice.`);
  return Object.freeze(list as string[]);
}

export function normalizeOptions(options: MagicLinkOptions): MagicLinkConfig {
  const given = dropUndefined(options, WHERE);
  assertKnownKeys(given, KNOWN_KEYS, WHERE);
  if (given.baseUrl === undefined) {
    throw new TypeError(`\`${WHERE}\` option \`baseUrl\` is required: the app's public origin, e.g. "https://app.example.com".`);
  }
  assertOptionalUrl(given.baseUrl, WHERE, 'baseUrl');
  const mailer: unknown = given.mailer;
  if (typeof mailer !== 'object' || mailer === null || typeof (mailer as Record<string, unknown>).send !== 'function') {
    throw new TypeError(
      `\`${WHERE}\` option \`mailer\` must be an object with an async \`send({ to, url, expiresAt, request })\` method; got ${describe(mailer)}.`,
    );
  }
  assertOptionalPath(given.confirmPath, WHERE, 'confirmPath');
  assertStore(given.store);
  if (given.redis !== undefined && !isRedisClient(given.redis)) {
    throw new TypeError(
      `\`${WHERE}\` option \`redis\` must be an ioredis client (\`new Redis(url)\` or \`new Redis.Cluster(nodes)\`); got ${describe(given.redis)}.`,
    );
  }
  if (given.redis !== undefined && given.store !== undefined) {
    throw new TypeError(`\`${WHERE}\` takes either \`redis\` (a Redis store and Redis limiters) or \`store\`, not both.`);
  }
  assertKeyPrefix(given.keyPrefix, WHERE);
  assertWholeNumber(given.ttlSeconds, WHERE, 'ttlSeconds', 1, 86_400);
  assertWholeNumber(given.retentionSeconds, WHERE, 'retentionSeconds', 0, 30 * 86_400);
  assertWholeNumber(given.maxTtlSeconds, WHERE, 'maxTtlSeconds', 1, 30 * 86_400);
  if (given.maxTtlSeconds !== undefined && given.maxTtlSeconds < (given.ttlSeconds ?? 900)) {
    throw new TypeError(`\`${WHERE}\` option \`maxTtlSeconds\` (${given.maxTtlSeconds}) must not be shorter than \`ttlSeconds\` (${given.ttlSeconds ?? 900}).`);
  }
  assertWholeNumber(given.mailTimeoutMs, WHERE, 'mailTimeoutMs', 1, 120_000);
  assertWholeNumber(given.codeAttempts, WHERE, 'codeAttempts', 1, 100);
  for (const key of ['revokeEarlierLinks', 'burnOtherLinksOnSignIn'] as const) {
    if (given[key] !== undefined && typeof given[key] !== 'boolean') {
      throw new TypeError(`\`${WHERE}\` option \`${key}\` must be true or false; got ${describe(given[key])}.`);
    }
  }
  assertOptionalFunction(given.onEvent, WHERE, 'onEvent');
  assertWholeNumber(given.storeTimeoutMs, WHERE, 'storeTimeoutMs', 1, 60_000);
  assertOptionalUrl(given.docsBaseUrl, WHERE, 'docsBaseUrl');
  assertWholeNumber(given.ipv6SubnetBits, WHERE, 'ipv6SubnetBits', 1, 128);
  assertWholeNumber(given.ipv6WideSubnetBits, WHERE, 'ipv6WideSubnetBits', 1, 128);
  assertWholeNumber(given.waitForReplicas, WHERE, 'waitForReplicas', 0, 10);
  if (given.waitForReplicas !== undefined && given.redis === undefined) {
    throw new TypeError(
      `\`${WHERE}\` option \`waitForReplicas\` needs \`redis\` (it makes redeems wait for Redis replicas); for your own store pass the option to it.`,
    );
  }
  if ((given.ipv6WideSubnetBits ?? 48) > (given.ipv6SubnetBits ?? 64)) {
    throw new TypeError(
      `\`${WHERE}\` option \`ipv6WideSubnetBits\` (${given.ipv6WideSubnetBits ?? 48}) must not be longer than \`ipv6SubnetBits\` (${given.ipv6SubnetBits ?? 64}): it is the wider prefix.`,
    );
  }
  assertOptionalPath(given.successRedirect, WHERE, 'successRedirect');
  assertOptionalPath(given.signInPath, WHERE, 'signInPath');
  assertOptionalFunction(given.onError, WHERE, 'onError');
  if (given.appName !== undefined && (typeof given.appName !== 'string' || given.appName.trim() === '')) {
    throw new TypeError(`\`${WHERE}\` option \`appName\` must be a non-empty string; got ${describe(given.appName)}.`);
  }
  assertOptionalFunction(given.publicUser, WHERE, 'publicUser');
  assertOptionalFunction(given.now, WHERE, 'now');
  if (given.passport !== undefined && typeof (given.passport as Partial<Authenticator>).authenticate !== 'function') {
    throw new TypeError(`\`${WHERE}\` option \`passport\` must be a Passport instance (\`new passport.Passport()\`); got ${describe(given.passport)}.`);
  }

  const baseUrl = new URL(given.baseUrl);
  const keyPrefix = given.keyPrefix ?? 'ml:';
  const storeTimeoutMs = given.storeTimeoutMs ?? 1_000;
  const redis = given.redis;
  const secrets = normalizeSecrets(given.secret, redis !== undefined || (given.store !== undefined && !(given.store instanceof MemoryTokenStore)));
  return Object.freeze({
    secrets,
    baseUrl,
    baseHref: baseUrl.href.replace(/\/+$/, ''),
    mailer: given.mailer as Mailer,
    confirmPath: given.confirmPath ?? '/auth/magic-link/confirm',
    store:
      given.store ??
      (redis
        ? // Writes that reach Redis after 80 % of the deadline change nothing: the answer may already be a 503.
          new RedisTokenStore(redis, {
            keyPrefix,
            readyTimeoutMs: Math.floor(storeTimeoutMs / 2),
            writeDeadlineMs: Math.floor(storeTimeoutMs * 0.8),
            waitForReplicas: given.waitForReplicas ?? 0,
          })
        : new MemoryTokenStore()),
    storeIsInProcess: given.store === undefined ? redis === undefined : given.store instanceof MemoryTokenStore,
    redis,
    limitsInStore: redis !== undefined && given.store === undefined && !isCluster(redis),
    keyPrefix,
    ttlSeconds: given.ttlSeconds ?? 900,
    maxTtlSeconds: given.maxTtlSeconds ?? given.ttlSeconds ?? 900,
    retentionSeconds: given.retentionSeconds ?? 86_400,
    limits: normalizeLimits(given.limits),
    codeAttempts: given.codeAttempts ?? 5,
    revokeEarlierLinks: given.revokeEarlierLinks ?? false,
    burnOtherLinksOnSignIn: given.burnOtherLinksOnSignIn ?? true,
    onEvent: given.onEvent,
    mailTimeoutMs: given.mailTimeoutMs ?? 10_000,
    storeTimeoutMs,
    docsBaseUrl: (given.docsBaseUrl ?? DEFAULT_DOCS_BASE_URL).replace(/\/+$/, ''),
    ipv6SubnetBits: given.ipv6SubnetBits ?? 64,
    ipv6WideSubnetBits: given.ipv6WideSubnetBits ?? 48,
    successRedirect: given.successRedirect ?? '/',
    trustedOrigins: originList(given.trustedOrigins, WHERE, 'trustedOrigins'),
    allowedRedirects: redirectAllowList(given.allowedRedirects, WHERE),
    signInPath: given.signInPath ?? '/',
    onError: given.onError ?? logToConsole,
    appName: given.appName ?? baseUrl.host,
    publicUser: given.publicUser ?? ((user: Express.User) => user),
    passport: given.passport ?? (passportModule as Pick<Authenticator, 'authenticate'>),
    now: given.now ?? Date.now,
  });
}
