// In-process token store: the embedded default for a single Node process.
import { DEFAULTS } from '../config/defaults.js';
import { assertKnownKeys, assertOptionalFunction, assertWholeNumber, dropUndefined } from '../config/checks.js';
import type {
  ApproveOptions,
  ApproveResult,
  AttemptKey,
  AttemptOptions,
  AttemptRecord,
  EmailKey,
  ExchangeOptions,
  ExchangeResult,
  RedeemOptions,
  RedeemResult,
  RevokeOptions,
  SaveOptions,
  TokenKey,
  TokenRecord,
  TokenStore,
} from './contract.js';

export interface MemoryTokenStoreOptions {
  /** Most links held at once; past it the oldest are dropped first. Default `100000`. */
  maxRecords?: number;
  /** How often records past their retention are pruned. Default `60000`. */
  pruneIntervalMs?: number;
  /** Clock for pruning, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** A link as held: the record, its token check, and the email's state when it was saved. */
interface Entry {
  record: TokenRecord;
  readonly check: string;
  /** The email's generation at save: a later sign-in or revoke bumps it and so burns this link. */
  readonly generation: number;
  /** The email's wrong-code count at save: the code dies once the count has grown by `maxFailures`. */
  readonly failures: number;
  /** Who redeemed it (a browser's digest), so that browser may replay its redeem for a while. */
  binding?: string;
  /** The cross-device attempt's state once it has left `pending`, and when it was approved. */
  attemptState?: 'approved' | 'denied' | 'collected';
  approvedAt?: number;
}

/** One email's policy state, kept only once it has any (a sign-in, a revoke or a wrong code). */
interface EmailState {
  generation: number;
  failures: number;
  /** Links saved under a generation below this were revoked (`revoke`), at `revokedAt`. */
  revokedBelow?: number;
  revokedAt?: number;
  /** It must outlive every link that compares against it. */
  until: number;
}

const WHERE = 'MemoryTokenStore';
let warnedAboutProduction = false;

// No method awaits between reading and writing, so within one process each one is atomic.
export class MemoryTokenStore implements TokenStore {
  /** Lives in this process: calls need no deadline, and links die with the process (so may its secret). */
  readonly inProcess = true;
  /** `<tag>:<id>` → link, in insertion order (oldest first). */
  readonly #links = new Map<string, Entry>();
  /** emailKey → its policy state. */
  readonly #emails = new Map<string, EmailState>();
  readonly #maxRecords: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;

  constructor(options: MemoryTokenStoreOptions = {}) {
    const given = dropUndefined(options, WHERE);
    assertKnownKeys(given, ['maxRecords', 'pruneIntervalMs', 'now'], WHERE);
    assertWholeNumber(given.maxRecords, WHERE, 'maxRecords', 1, 100_000_000);
    assertWholeNumber(given.pruneIntervalMs, WHERE, 'pruneIntervalMs', 10, 86_400_000);
    assertOptionalFunction(given.now, WHERE, 'now');
    this.#maxRecords = given.maxRecords ?? DEFAULTS.maxRecords;
    this.#now = given.now ?? Date.now;
    // unref: a pending prune must never keep the process alive.
    this.#timer = setInterval(() => this.prune(), given.pruneIntervalMs ?? 60_000).unref();
    if (process.env.NODE_ENV === 'production' && !warnedAboutProduction) {
      warnedAboutProduction = true;
      process.emitWarning(
        'MemoryTokenStore keeps links in this process only: with more than one process, or after a restart, links and limits are not shared. Use a shared store in production (`redis` or `postgres` on MagicLink).',
        { code: 'EXPRESS_MAGIC_LINK_MEMORY_STORE' },
      );
    }
  }

  /** Links currently held, live or retained. */
  get size(): number {
    return this.#links.size;
  }

  async save(key: TokenKey, record: TokenRecord, { now, revokeOthers }: SaveOptions): Promise<boolean> {
    const id = idOf(key.tag, key.id);
    if (this.#live(id, now)) return false;
    // At the cap, make room from the oldest end (Map iteration is insertion order): O(1) amortised,
    // and the oldest links are the ones most likely spent or expired already.
    for (const oldest of this.#links.keys()) {
      if (this.#links.size < this.#maxRecords) break;
      this.#links.delete(oldest);
    }
    if (this.#emails.size >= this.#maxRecords) this.#dropOldestState(now);
    let state = this.#state(record.emailKey, now);
    if (revokeOthers) state = this.#bump(record.emailKey, 'generation', now, record.expiresAt);
    else if (state) state.until = Math.max(state.until, record.expiresAt);
    this.#links.set(id, { record: { ...record }, check: key.check, generation: state?.generation ?? 0, failures: state?.failures ?? 0 });
    return true;
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    const entry = this.#checked(key, now);
    if (!entry) return null;
    const { record } = entry;
    const revokedAt = record.usedAt === null ? this.#revokedAt(entry, now) : null;
    if (revokedAt !== null) return { ...record, usedAt: revokedAt };
    return record.usedAt === null && now < record.expiresAt && this.#burnt(entry, now) ? { ...record, expiresAt: now } : { ...record };
  }

  async redeem(key: TokenKey, { now, burnOthers, linkTtlMs, bindings = [], replayWindowMs = 0 }: RedeemOptions): Promise<RedeemResult> {
    const entry = this.#checked(key, now);
    if (!entry) return { status: 'not_found' };
    const { usedAt } = entry.record;
    if (usedAt !== null) {
      const replay = entry.binding !== undefined && bindings.includes(entry.binding) && now - usedAt <= replayWindowMs;
      return replay ? { status: 'redeemed', record: { ...entry.record }, replayed: true } : { status: 'already_used' };
    }
    if (this.#revokedAt(entry, now) !== null) return { status: 'already_used' };
    if (now >= entry.record.expiresAt || this.#burnt(entry, now)) return { status: 'expired' };
    this.#use(entry, now, burnOthers, linkTtlMs);
    if (bindings[0] !== undefined) entry.binding = bindings[0];
    return { status: 'redeemed', record: { ...entry.record } };
  }

  async exchange(email: EmailKey, codeDigest: string, { now, burnOthers, linkTtlMs, maxFailures }: ExchangeOptions): Promise<ExchangeResult> {
    const entry = this.#live(idOf(email.tag, codeDigest), now);
    if (!entry || entry.record.emailKey !== email.digest) {
      // A wrong code is a wrong try for every code the email still has.
      this.#bump(email.digest, 'failures', now, now + linkTtlMs);
      return { status: 'not_found', wrong: true };
    }
    // The per-code kill comes first: a dead code is not found, even when it was right.
    const failures = this.#state(email.digest, now)?.failures ?? 0;
    if (failures - entry.failures >= maxFailures) return { status: 'not_found', wrong: false };
    if (entry.record.usedAt !== null || this.#revokedAt(entry, now) !== null) return { status: 'already_used' };
    if (now >= entry.record.expiresAt || this.#burnt(entry, now)) return { status: 'not_found', wrong: false };
    this.#use(entry, now, burnOthers, linkTtlMs);
    return { status: 'redeemed' };
  }

  async revoke(email: EmailKey, { now, linkTtlMs }: RevokeOptions): Promise<void> {
    // A new generation burns every earlier link in O(1); the mark says they were revoked, not expired.
    const state = this.#bump(email.digest, 'generation', now, now + linkTtlMs);
    state.revokedBelow = state.generation;
    state.revokedAt = now;
  }

  async approve(key: TokenKey, { now, burnOthers, linkTtlMs, match }: ApproveOptions): Promise<ApproveResult> {
    const entry = this.#checked(key, now);
    if (!entry?.record.attempt) return { status: 'not_found' };
    if (entry.record.usedAt !== null || this.#revokedAt(entry, now) !== null) return { status: 'already_used' };
    if (now >= entry.record.expiresAt || this.#burnt(entry, now)) return { status: 'expired' };
    const approved = match !== null && match === entry.record.attempt.match;
    this.#use(entry, now, approved && burnOthers, linkTtlMs);
    entry.attemptState = approved ? 'approved' : 'denied';
    if (approved) entry.approvedAt = now;
    return { status: entry.attemptState };
  }

  async attempt(key: AttemptKey, { now, step, collectWindowMs }: AttemptOptions): Promise<AttemptRecord | null> {
    const entry = this.#live(idOf(key.tag, key.id), now);
    const fields = entry?.record.attempt;
    if (!entry || !fields || fields.check !== key.check) return null;
    const revoked = this.#revokedAt(entry, now) !== null;
    let taken = false;
    if (step === 'collect' && entry.attemptState === 'approved' && !revoked && now - entry.approvedAt! < collectWindowMs) {
      entry.attemptState = 'collected';
      taken = true;
    } else if (step === 'release' && entry.attemptState === 'collected') {
      entry.attemptState = 'approved';
    }
    const { record } = entry;
    const burnt = record.usedAt === null && now < record.expiresAt && this.#burnt(entry, now);
    return {
      state: entry.attemptState ?? 'pending',
      sealed: fields.sealed,
      expiresAt: burnt ? now : record.expiresAt,
      usedAt: record.usedAt,
      approvedAt: entry.approvedAt ?? null,
      revoked,
      taken,
    };
  }

  async delete(key: TokenKey): Promise<void> {
    this.#links.delete(idOf(key.tag, key.id));
  }

  /** Drops records past their retention (and spent email state); returns how many links went. Runs on a timer too. */
  prune(now: number = this.#now()): number {
    let removed = 0;
    for (const [id, { record }] of this.#links) {
      if (record.retainUntil <= now) {
        this.#links.delete(id);
        removed++;
      }
    }
    for (const [emailKey, state] of this.#emails) if (state.until <= now) this.#emails.delete(emailKey);
    return removed;
  }

  /** Stops the prune timer. */
  close(): void {
    clearInterval(this.#timer);
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#links.get(id);
    if (entry && entry.record.retainUntil <= now) {
      this.#links.delete(id);
      return undefined;
    }
    return entry;
  }

  #checked(key: TokenKey, now: number): Entry | undefined {
    const entry = this.#live(idOf(key.tag, key.id), now);
    if (!entry) return undefined;
    return entry.check === key.check || (key.formerChecks?.includes(entry.check) ?? false) ? entry : undefined;
  }

  /** Forgets the state that expires first among the oldest few, so the map stays within its cap. */
  #dropOldestState(now: number): void {
    for (const [emailKey, state] of this.#emails) {
      this.#emails.delete(emailKey);
      if (state.until <= now) continue;
      break;
    }
  }

  #state(emailKey: string, now: number): EmailState | undefined {
    const state = this.#emails.get(emailKey);
    if (state && state.until <= now) {
      this.#emails.delete(emailKey);
      return undefined;
    }
    return state;
  }

  /** Adds one to the email's generation or wrong-code count, keeping the state at least until `until`. */
  #bump(emailKey: string, field: 'generation' | 'failures', now: number, until: number): EmailState {
    let state = this.#state(emailKey, now);
    if (!state) this.#emails.set(emailKey, (state = { generation: 0, failures: 0, until }));
    state[field]++;
    state.until = Math.max(state.until, until);
    return state;
  }

  #burnt(entry: Entry, now: number): boolean {
    const state = this.#state(entry.record.emailKey, now) ?? { generation: 0, failures: 0 };
    // State below what the link saw at save was lost (dropped at the cap): fail closed, never fresh.
    return entry.generation !== state.generation || state.failures < entry.failures;
  }

  /** When the link was revoked, or null. */
  #revokedAt(entry: Entry, now: number): number | null {
    const state = this.#state(entry.record.emailKey, now);
    return state?.revokedBelow !== undefined && entry.generation < state.revokedBelow ? state.revokedAt! : null;
  }

  #use(entry: Entry, now: number, burnOthers: boolean, linkTtlMs: number): void {
    entry.record = { ...entry.record, usedAt: now };
    // A new generation burns every other link the email has, however many there are, in O(1).
    if (burnOthers) this.#bump(entry.record.emailKey, 'generation', now, now + linkTtlMs);
  }
}

const idOf = (tag: string, id: string): string => `${tag}:${id}`;
