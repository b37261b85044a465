// In-process token store: the embedded default for a single Node process.
import { assertKnownKeys, assertOptionalFunction, assertWholeNumber, dropUndefined } from '../option-checks.js';
import type { TokenKey } from '../tokens.js';
import type { RedeemResult, TokenRecord, TokenStore } from '../types.js';

export interface MemoryTokenStoreOptions {
  /** Most records held at once; past it the oldest are dropped first. Default `100000`. */
  maxRecords?: number;
  /** How often records past their retention are pruned. Default `60000`. */
  pruneIntervalMs?: number;
  /** Clock for pruning, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

const WHERE = 'MemoryTokenStore';
let warnedAboutProduction = false;

export class MemoryTokenStore implements TokenStore {
  readonly #entries = new Map<string, TokenRecord>();
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

  /** Records currently held, live or retained. */
  get size(): number {
    return this.#entries.size;
  }

  async save(key: TokenKey, record: TokenRecord, now: number): Promise<void> {
    if (this.#entries.size >= this.#maxRecords) this.prune(now);
    // Map iteration is insertion order, so the first entries are the oldest.
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size < this.#maxRecords) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key.digest, { ...record });
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    const record = this.#live(key, now);
    return record ? { ...record } : null;
  }

  // No await between the read and the write: within one process this is atomic.
  async redeem(key: TokenKey, now: number): Promise<RedeemResult> {
    const record = this.#live(key, now);
    if (!record) return { status: 'not_found' };
    if (record.usedAt !== null) return { status: 'already_used' };
    if (now >= record.expiresAt) return { status: 'expired' };
    const redeemed = { ...record, usedAt: now };
    this.#entries.set(key.digest, redeemed);
    return { status: 'redeemed', record: { ...redeemed } };
  }

  async delete(key: TokenKey): Promise<void> {
    this.#entries.delete(key.digest);
  }

  /** Drops records past their retention; returns how many went. Runs on a timer too. */
  prune(now: number = this.#now()): number {
    let removed = 0;
    for (const [digest, record] of this.#entries) {
      if (record.retainUntil <= now) {
        this.#entries.delete(digest);
        removed++;
      }
    }
    return removed;
  }

  /** Stops the prune timer. */
  close(): void {
    clearInterval(this.#timer);
  }

  #live(key: TokenKey, now: number): TokenRecord | undefined {
    const record = this.#entries.get(key.digest);
    if (record && record.retainUntil <= now) {
      this.#entries.delete(key.digest);
      return undefined;
    }
    return record;
  }
}
