// Normalises MagicLink options once, at construction, into a frozen internal config.
import { randomBytes } from 'node:crypto';
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
import { REQUIRED_STORE_METHODS } from '../stores/capabilities.js';
import type { TokenStore } from '../stores/contract.js';
import { MemoryTokenStore } from '../stores/memory-store.js';
import { isPostgresClient } from '../stores/postgres-client.js';
import { PostgresTokenStore } from '../stores/postgres-store.js';
import { isRedisClient } from '../stores/redis-client.js';
import { RedisTokenStore } from '../stores/redis-store.js';
import type { LimitOptions, Mailer, MagicLinkOptions } from '../types.js';
import { DEFAULT_LIMITS, DEFAULTS, storeDeadlines, trimSlashes } from './defaults.js';
import { logToConsole } from './log.js';
import { domainPolicy, parseDomainPattern, type DomainPattern, type DomainPolicy } from './domains.js';

export interface LimitsConfig {
  readonly linkRequestsPerIp: number;
  readonly linkRequestsPerEmail: number;
  readonly failedVerifiesPerIp: number;
  readonly failedExchangesPerIp: number;
  readonly failedExchangesPerEmail: number;
  readonly failedExchangesTotal: number;
  readonly attemptChecksPerIp: number;
  readonly windowSeconds: number;
  readonly blockSeconds: number;
}

export interface MagicLinkConfig {
  readonly baseUrl: URL;
  /** `baseUrl` without a trailing slash, so paths can be appended. */
  readonly baseHref: string;
  readonly mailer: Mailer;
  readonly confirmPath: string;
  /** Where links live; limits live there too when it offers `createLimiter`. */
  readonly store: TokenStore;
  /** Server-side secrets, newest first; never stored. */
  readonly secrets: readonly string[];
  readonly ttlSeconds: number;
  /** The longest per-request lifetime; the address state outlives links this long. */
  readonly maxTtlSeconds: number;
  readonly retentionSeconds: number;
  readonly limits: LimitsConfig;
  readonly codeAttempts: number;
  readonly revokeEarlierLinks: boolean;
  readonly burnOtherLinksOnSignIn: boolean;
  /** Cross-device approval (SPEC §8). */
  readonly crossDevice: boolean;
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
  /** `allowedDomains` and `blockedDomains`, parsed; null when neither is set. */
  readonly domains: DomainPolicy | null;
  readonly beforeSend: MagicLinkOptions['beforeSend'];
  readonly signInPath: string;
  readonly onError: (error: unknown, requestId: string) => void;
  readonly appName: string;
  readonly publicUser: (user: Express.User) => unknown;
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
  'postgres',
  'tablePrefix',
  'keyPrefix',
  'ttlSeconds',
  'maxTtlSeconds',
  'retentionSeconds',
  'limits',
  'codeAttempts',
  'revokeEarlierLinks',
  'burnOtherLinksOnSignIn',
  'crossDevice',
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
  'allowedDomains',
  'blockedDomains',
  'beforeSend',
  'signInPath',
  'appName',
  'onError',
  'publicUser',
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
  'attemptChecksPerIp',
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
  return Object.freeze({ ...DEFAULT_LIMITS, ...given });
}

function assertStore(store: unknown): asserts store is TokenStore | undefined {
  if (store === undefined) return;
  const missing = REQUIRED_STORE_METHODS.filter(
    (method) => typeof store !== 'object' || store === null || typeof (store as Record<string, unknown>)[method] !== 'function',
  );
  if (missing.length > 0) {
    throw new TypeError(
      `\`${WHERE}\` option \`store\` must implement the TokenStore interface (missing ${missing.map((m) => `\`${m}()\``).join(', ')}); use \`new MemoryTokenStore()\`, \`new RedisTokenStore(client)\`, \`new PostgresTokenStore(pool)\` or leave it out.`,
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
        `\`${WHERE}\` option \`secret\` is required when the store is shared between processes (\`redis\`, \`postgres\` or a custom \`store\`): ${SECRET_HOWTO}.`,
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
  if (Object.hasOwn(given, 'passport')) {
    throw new TypeError(
      `\`${WHERE}\` option \`passport\` is gone: each MagicLink's handlers now sign in through their own MagicLink, whatever Passport holds. Remove it; keep \`passport.use(new MagicLinkStrategy({ magicLink }, verify))\` on your Passport.`,
    );
  }
  assertKnownKeys(given, KNOWN_KEYS, WHERE);
  if (given.baseUrl === undefined) {
    throw new TypeError(`\`${WHERE}\` option \`baseUrl\` is required: the app's public origin, e.g. "https://app.example.com".`);
  }
  assertOptionalUrl(given.baseUrl, WHERE, 'baseUrl');
  assertBaseUrlShape(given.baseUrl);
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
  if (given.postgres !== undefined && !isPostgresClient(given.postgres)) {
    throw new TypeError(
      `\`${WHERE}\` option \`postgres\` must be a node-postgres \`Pool\` (\`new pg.Pool({ connectionString })\`) or a client with \`query(text, values)\`; got ${describe(given.postgres)}.`,
    );
  }
  const backends = (['redis', 'postgres', 'store'] as const).filter((key) => given[key] !== undefined);
  if (backends.length > 1) {
    throw new TypeError(`\`${WHERE}\` takes one of \`redis\`, \`postgres\` or \`store\`; got ${backends.map((key) => `\`${key}\``).join(' and ')}.`);
  }
  assertKeyPrefix(given.keyPrefix, WHERE);
  if (given.keyPrefix !== undefined && given.redis === undefined) {
    throw new TypeError(`\`${WHERE}\` option \`keyPrefix\` names Redis keys: it needs \`redis\` (for PostgreSQL tables, use \`tablePrefix\`).`);
  }
  if (given.tablePrefix !== undefined && given.postgres === undefined) {
    throw new TypeError(`\`${WHERE}\` option \`tablePrefix\` names PostgreSQL tables: it needs \`postgres\`.`);
  }
  assertWholeNumber(given.ttlSeconds, WHERE, 'ttlSeconds', 1, 86_400);
  assertWholeNumber(given.retentionSeconds, WHERE, 'retentionSeconds', 0, 30 * 86_400);
  assertWholeNumber(given.maxTtlSeconds, WHERE, 'maxTtlSeconds', 1, 30 * 86_400);
  const ttlSeconds = given.ttlSeconds ?? DEFAULTS.ttlSeconds;
  if (given.maxTtlSeconds !== undefined && given.maxTtlSeconds < ttlSeconds) {
    throw new TypeError(`\`${WHERE}\` option \`maxTtlSeconds\` (${given.maxTtlSeconds}) must not be shorter than \`ttlSeconds\` (${ttlSeconds}).`);
  }
  assertWholeNumber(given.mailTimeoutMs, WHERE, 'mailTimeoutMs', 1, 120_000);
  assertOptionalFunction(given.beforeSend, WHERE, 'beforeSend');
  assertWholeNumber(given.codeAttempts, WHERE, 'codeAttempts', 1, 100);
  for (const key of ['revokeEarlierLinks', 'burnOtherLinksOnSignIn', 'crossDevice'] as const) {
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
      `\`${WHERE}\` option \`waitForReplicas\` needs \`redis\` (it makes redeems wait for Redis replicas); for PostgreSQL pass \`synchronousCommit\` to \`PostgresTokenStore\`, and for your own store pass the option to it.`,
    );
  }
  const ipv6SubnetBits = given.ipv6SubnetBits ?? DEFAULTS.ipv6SubnetBits;
  const ipv6WideSubnetBits = given.ipv6WideSubnetBits ?? DEFAULTS.ipv6WideSubnetBits;
  if (ipv6WideSubnetBits > ipv6SubnetBits) {
    throw new TypeError(
      `\`${WHERE}\` option \`ipv6WideSubnetBits\` (${ipv6WideSubnetBits}) must not be longer than \`ipv6SubnetBits\` (${ipv6SubnetBits}): it is the wider prefix.`,
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

  const baseUrl = new URL(given.baseUrl);
  const storeTimeoutMs = given.storeTimeoutMs ?? DEFAULTS.storeTimeoutMs;
  const store = given.store ?? defaultStore(given, storeTimeoutMs);
  if (given.crossDevice === true && (typeof store.approve !== 'function' || typeof store.attempt !== 'function')) {
    throw new TypeError(
      `\`${WHERE}\` option \`crossDevice\` needs a store that keeps attempts (\`approve\` and \`attempt\` methods): the memory, Redis and PostgreSQL stores do.`,
    );
  }
  return Object.freeze({
    secrets: normalizeSecrets(given.secret, store.inProcess !== true),
    baseUrl,
    baseHref: trimSlashes(baseUrl.href),
    mailer: given.mailer as Mailer,
    confirmPath: given.confirmPath ?? DEFAULTS.confirmPath,
    store,
    ttlSeconds,
    maxTtlSeconds: given.maxTtlSeconds ?? ttlSeconds,
    retentionSeconds: given.retentionSeconds ?? DEFAULTS.retentionSeconds,
    limits: normalizeLimits(given.limits),
    codeAttempts: given.codeAttempts ?? DEFAULTS.codeAttempts,
    revokeEarlierLinks: given.revokeEarlierLinks ?? DEFAULTS.revokeEarlierLinks,
    burnOtherLinksOnSignIn: given.burnOtherLinksOnSignIn ?? DEFAULTS.burnOtherLinksOnSignIn,
    crossDevice: given.crossDevice ?? DEFAULTS.crossDevice,
    onEvent: given.onEvent,
    mailTimeoutMs: given.mailTimeoutMs ?? DEFAULTS.mailTimeoutMs,
    storeTimeoutMs,
    docsBaseUrl: trimSlashes(given.docsBaseUrl ?? DEFAULTS.docsBaseUrl),
    ipv6SubnetBits,
    ipv6WideSubnetBits,
    successRedirect: given.successRedirect ?? DEFAULTS.successRedirect,
    trustedOrigins: originList(given.trustedOrigins, WHERE, 'trustedOrigins'),
    allowedRedirects: redirectAllowList(given.allowedRedirects, WHERE),
    domains: domainPolicy(
      given.allowedDomains === undefined ? null : domainList(given.allowedDomains, 'allowedDomains'),
      domainList(given.blockedDomains ?? [], 'blockedDomains'),
    ),
    beforeSend: given.beforeSend,
    signInPath: given.signInPath ?? DEFAULTS.signInPath,
    onError: given.onError ?? logToConsole,
    appName: given.appName ?? baseUrl.host,
    publicUser: given.publicUser ?? ((user: Express.User) => user),
    now: given.now ?? Date.now,
  });
}

/** A list of domain patterns, each checked: a malformed one throws with what was probably meant. */
function domainList(value: unknown, name: 'allowedDomains' | 'blockedDomains'): DomainPattern[] {
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
    throw new TypeError(`\`${WHERE}\` option \`${name}\` must be a list of domains such as ["example.com", "*.example.com"]; got ${describe(value)}.`);
  }
  if (name === 'allowedDomains' && value.length === 0) {
    throw new TypeError(`\`${WHERE}\` option \`allowedDomains\` is empty, so nobody could sign in: leave it out to allow every domain.`);
  }
  return (value as string[]).map((entry, index) => {
    const parsed = parseDomainPattern(entry);
    if (parsed.ok) return parsed.pattern;
    const hint = parsed.suggestion ? ` Did you mean ${JSON.stringify(parsed.suggestion)}?` : '';
    throw new TypeError(`\`${WHERE}\` option \`${name}[${index}]\` ${JSON.stringify(entry)} ${parsed.problem}.${hint}`);
  });
}

/** Paths are appended to `baseUrl`: a query, a fragment or credentials in it would end up inside every mailed link. */
function assertBaseUrlShape(baseUrl: string): void {
  const url = new URL(baseUrl);
  const extra = url.username || url.password ? 'credentials' : url.search ? `a query ("${url.search}")` : url.hash ? `a fragment ("${url.hash}")` : null;
  if (extra) {
    throw new TypeError(
      `\`${WHERE}\` option \`baseUrl\` must be the app's public origin (and path, if it is mounted below one), without ${extra}: mailed links are made by appending to it. Use "${url.origin}${url.pathname === '/' ? '' : url.pathname}".`,
    );
  }
}

/** The one place a backend is chosen: `redis` or `postgres` as given, else one process's memory. */
function defaultStore(given: Partial<MagicLinkOptions>, storeTimeoutMs: number): TokenStore {
  const deadlines = storeDeadlines(storeTimeoutMs);
  // A shared store measures its offset to the server's clock against the app's own clock: the same one.
  const clock = given.now ?? Date.now;
  if (given.redis) {
    const waitForReplicas = given.waitForReplicas ?? DEFAULTS.waitForReplicas;
    return new RedisTokenStore(given.redis, { keyPrefix: given.keyPrefix ?? DEFAULTS.keyPrefix, ...deadlines, waitForReplicas, clock });
  }
  if (given.postgres) return new PostgresTokenStore(given.postgres, { tablePrefix: given.tablePrefix ?? DEFAULTS.tablePrefix, ...deadlines, clock });
  return new MemoryTokenStore();
}
