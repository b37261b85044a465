// In-process token store: the embedded default for a single Node process.
import { assertKnownKeys, assertOptionalFunction, assertWholeNumber, dropUndefined } from '../option-checks.js';
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

export interface MemoryTokenStoreOptions {
  /** Most links held at once; past it the oldest are dropped first. Default `100000`. */
  maxRecords?: number;
  /** How often records past their retention are pruned. Default `60000`. */
  pruneIntervalMs?: number;
  /** Clock for pruning, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

interface CodeEntry {
  code: string;
  failures: number;
}

const WHERE = 'MemoryTokenStore';
let warnedAboutProduction = false;

// No method awaits between reading and writing, so within one process each one is atomic.
export class MemoryTokenStore implements TokenStore {
  readonly #links = new Map<string, TokenRecord>();
  /** emailKey → (link digest → its code): the email's outstanding sign-ins. */
  readonly #codes = new Map<string, Map<string, CodeEntry>>();
  readonly #maxRecords: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;

  constructor(options: MemoryTokenStoreOptions = {}) {
    const given = dropUndefined(options, WHERE);
    assertKnownKeys(given, ['maxRecords', 'pruneIntervalMs', 'now'], WHERE);
    assertWholeNumber(given.maxRecords, WHERE, 'maxRecords', 1, 100_000_000);
    assertWholeNumber(given.pruneIntervalMs, WHERE, 'pruneIntervalMs', 10, 86_400_000);
    assertOptionalFunction(given.now, WHERE, 'now');
    this.#maxRecords = given.maxRecords ?? 100_000;
    this.#now = given.now ?? Date.now;
    // unref: a pending prune must never keep the process alive.
    this.#timer = setInterval(() => this.prune(), given.pruneIntervalMs ?? 60_000).unref();
    if (process.env.NODE_ENV === 'production' && !warnedAboutProduction) {
      warnedAboutProduction = true;
      process.emitWarning(
        'MemoryTokenStore keeps links in this process only: with more than one process, or after a restart, links and limits are not shared. Use RedisTokenStore in production.',
        { code: 'EXPRESS_MAGIC_LINK_MEMORY_STORE' },
      );
    }
  }

  /** Links currently held, live or retained. */
  get size(): number {
    return this.#links.size;
  }

  async save(key: TokenKey, record: TokenRecord, { now, codeDigest, revokeOthers }: SaveOptions): Promise<void> {
    if (this.#links.size >= this.#maxRecords) this.prune(now);
    // Map iteration is insertion order, so the first links are the oldest.
    for (const oldest of this.#links.keys()) {
      if (this.#links.size < this.#maxRecords) break;
      this.#forget(oldest);
    }
    if (revokeOthers) this.#expireOthers(record.emailKey, key.digest, now);
    this.#links.set(key.digest, { ...record });
    let codes = this.#codes.get(record.emailKey);
    if (!codes) this.#codes.set(record.emailKey, (codes = new Map()));
    codes.set(key.digest, { code: codeDigest, failures: 0 });
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    const record = this.#live(key.digest, now);
    return record ? { ...record } : null;
  }

  async redeem(key: TokenKey, { now, burnOthers }: RedeemOptions): Promise<RedeemResult> {
    const record = this.#live(key.digest, now);
    if (!record) return { status: 'not_found' };
    if (record.usedAt !== null) return { status: 'already_used' };
    if (now >= record.expiresAt) return { status: 'expired' };
    const redeemed = { ...record, usedAt: now };
    this.#links.set(key.digest, redeemed);
    if (burnOthers) this.#expireOthers(record.emailKey, key.digest, now);
    return { status: 'redeemed', record: { ...redeemed } };
  }

  async exchange(email: EmailKey, codeDigest: string, { now, burnOthers, maxFailures }: ExchangeOptions): Promise<ExchangeResult> {
    const codes = this.#codes.get(email.digest);
    if (!codes) return { status: 'not_found', wrong: true };
    let matched: 'dead' | 'used' | undefined;
    for (const [digest, entry] of codes) {
      if (entry.code !== codeDigest) continue;
      const record = this.#live(digest, now);
      // The per-code kill comes first: a dead code is not found, even when it was right.
      if (!record || entry.failures >= maxFailures) {
        matched ??= 'dead';
      } else if (record.usedAt !== null) {
        matched = 'used';
      } else if (now >= record.expiresAt) {
        matched ??= 'dead';
      } else {
        this.#links.set(digest, { ...record, usedAt: now });
        if (burnOthers) this.#expireOthers(email.digest, digest, now);
        return { status: 'redeemed' };
      }
    }
    if (matched === 'used') return { status: 'already_used' };
    if (matched === 'dead') return { status: 'not_found', wrong: false };
    // A wrong code is a wrong try for every code the email still has.
    for (const [digest, entry] of codes) {
      const record = this.#live(digest, now);
      if (record && record.usedAt === null && now < record.expiresAt) entry.failures++;
    }
    return { status: 'not_found', wrong: true };
  }

  async delete(key: TokenKey): Promise<void> {
    this.#forget(key.digest);
  }

  /** Drops records past their retention; returns how many links went. Runs on a timer too. */
  prune(now: number = this.#now()): number {
    let removed = 0;
    for (const [digest, record] of this.#links) {
      if (record.retainUntil <= now) {
        this.#forget(digest);
        removed++;
      }
    }
    return removed;
  }

  /** Stops the prune timer. */
  close(): void {
    clearInterval(this.#timer);
  }

  #live(digest: string, now: number): TokenRecord | undefined {
    const record = this.#links.get(digest);
    if (record && record.retainUntil <= now) {
      this.#forget(digest);
      return undefined;
    }
    return record;
  }

  #expireOthers(emailKey: string, except: string, now: number): void {
    for (const digest of this.#codes.get(emailKey)?.keys() ?? []) {
      const record = digest === except ? undefined : this.#live(digest, now);
      if (record && record.usedAt === null && now < record.expiresAt) this.#links.set(digest, { ...record, expiresAt: now });
    }
  }

  #forget(digest: string): void {
    const record = this.#links.get(digest);
    this.#links.delete(digest);
    const codes = record && this.#codes.get(record.emailKey);
    codes?.delete(digest);
    if (codes?.size === 0) this.#codes.delete(record!.emailKey);
  }
}
