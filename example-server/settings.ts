// Example-server settings from the environment (SPEC §7), checked once at start-up.
import { randomBytes } from 'node:crypto';

export interface Settings {
  port: number;
  host: string;
  baseUrl: string;
  redisUrl: string | undefined;
  /** PostgreSQL for links, limits, users and sessions (when REDIS_URL is unset). */
  databaseUrl: string | undefined;
  trustProxy: false | number;
  sessionSecret: string;
  /** Keys every digest in the store; rotation: several, comma-separated, newest first. */
  magicLinkSecrets: string[];
  production: boolean;
  ttlSeconds: number;
  /** How long used and expired links are kept, so a late click says "used"/"expired", not "unknown". */
  retentionSeconds: number;
  /** The rate limits' counting window. */
  limitWindowSeconds: number;
  emailLimit: number;
  ipLimit: number;
  verifyIpLimit: number;
  exchangeIpLimit: number;
  docsBaseUrl: string | undefined;
  /** Cross-device approval (`MAGIC_LINK_CROSS_DEVICE=1`): the phone approves the laptop with a number. */
  crossDevice: boolean;
}

export class SettingsError extends Error {}

/** The dev inbox shows every link: only where nobody but this machine can reach the server. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new SettingsError(`${name} must be a whole number from ${min} to ${max}; got ${JSON.stringify(raw)}.`);
  }
  return value;
}

function trustProxyOf(raw: string | undefined): false | number {
  if (raw === undefined || raw.trim() === '' || raw === 'false') return false;
  // `true` trusts every X-Forwarded-For entry, and the left-most is the client's to write: each
  // request could pick a fresh rate-limit key. The number of proxies in front is what Express needs.
  if (raw.trim() === 'true') {
    throw new SettingsError(
      'TRUST_PROXY=true would let any client choose its own IP (the left-most X-Forwarded-For entry). Set it to the number of proxies in front of the server, such as TRUST_PROXY=1.',
    );
  }
  if (/^\d+$/.test(raw.trim())) return Number(raw);
  throw new SettingsError(`TRUST_PROXY must be unset or the number of proxies in front of the server (such as 1); got ${JSON.stringify(raw)}.`);
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const production = env.NODE_ENV === 'production';
  const port = whole(env, 'PORT', 3000, 0, 65_535);
  const baseUrl = env.BASE_URL?.trim() || `http://localhost:${port}`;
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  // With a shared store, every process must key links and sign session cookies alike.
  const shared = redisUrl ? 'REDIS_URL' : databaseUrl ? 'DATABASE_URL' : undefined;
  let sessionSecret = env.SESSION_SECRET ?? '';
  if (sessionSecret === '') {
    if (production) throw new SettingsError('SESSION_SECRET must be set when NODE_ENV=production.');
    if (shared) throw new SettingsError(`SESSION_SECRET must be set with ${shared}: every process sharing the sessions needs the same one.`);
    // A fresh secret per start: sessions simply end when the dev server restarts.
    sessionSecret = randomBytes(32).toString('hex');
  }
  const secretList = (env.MAGIC_LINK_SECRET ?? '')
    .split(',')
    .map((secret) => secret.trim())
    .filter(Boolean);
  if (secretList.length === 0) {
    if (production) throw new SettingsError('MAGIC_LINK_SECRET must be set when NODE_ENV=production: make one with `openssl rand -base64 32`.');
    // A secret per process would key each process's links differently: a link issued by one would
    // be unknown to the others.
    if (shared) {
      throw new SettingsError(
        `MAGIC_LINK_SECRET must be set with ${shared}: every process sharing the store needs the same one (make it with \`openssl rand -base64 32\`).`,
      );
    }
    // Development: a fresh secret per start; links from before a restart then read as unknown.
    secretList.push(randomBytes(32).toString('base64url'));
  }
  return {
    port,
    host: env.HOST?.trim() || '127.0.0.1',
    baseUrl,
    redisUrl,
    databaseUrl,
    trustProxy: trustProxyOf(env.TRUST_PROXY),
    sessionSecret,
    magicLinkSecrets: secretList,
    production,
    ttlSeconds: whole(env, 'MAGIC_LINK_TTL', 900, 1, 86_400),
    retentionSeconds: whole(env, 'MAGIC_LINK_RETENTION', 86_400, 0, 30 * 86_400),
    limitWindowSeconds: whole(env, 'MAGIC_LINK_LIMIT_WINDOW', 3_600, 1, 86_400),
    emailLimit: whole(env, 'MAGIC_LINK_EMAIL_LIMIT', 5, 1, 1_000_000),
    ipLimit: whole(env, 'MAGIC_LINK_IP_LIMIT', 20, 1, 1_000_000),
    verifyIpLimit: whole(env, 'MAGIC_LINK_VERIFY_IP_LIMIT', 20, 1, 1_000_000),
    exchangeIpLimit: whole(env, 'MAGIC_LINK_EXCHANGE_IP_LIMIT', 10, 1, 1_000_000),
    docsBaseUrl: env.DOCS_BASE_URL?.trim() || undefined,
    crossDevice: onOff(env, 'MAGIC_LINK_CROSS_DEVICE'),
  };
}

function onOff(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = env[name]?.trim() ?? '';
  if (value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new SettingsError(`${name} must be 1 (on) or 0 (off); got ${JSON.stringify(value)}.`);
}
