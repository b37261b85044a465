// Token store on PostgreSQL (node-postgres): one row per link, one per address once it has policy
// state, and the rate-limit counters, all in the app's own database. Every operation is one
// statement (a function from postgres-schema.ts); statements are unnamed, so PgBouncer in
// transaction mode works. No DDL at request time: run `migrate()` (or schema.sql) first.
import { RateLimiterPostgres, RateLimiterRes, type RateLimiterStoreAbstract } from 'rate-limiter-flexible';
import { DEFAULTS, storeDeadlines } from '../config/defaults.js';
import { assertKnownKeys, assertOptionalFunction, assertWholeNumber, describe, dropUndefined } from '../config/checks.js';
import { warnOnce } from '../warnings.js';
import type { BudgetCounter, BudgetedRedeem, BudgetedRedeemResult, BudgetedSave, OverBudget } from './capabilities.js';
import type {
  ApproveOptions,
  ApproveResult,
  AttemptKey,
  AttemptOptions,
  AttemptRecord,
  EmailKey,
  ExchangeOptions,
  ExchangeResult,
  LimiterSpec,
  RedeemOptions,
  RedeemResult,
  RevokeOptions,
  SaveOptions,
  TokenKey,
  TokenRecord,
  TokenStore,
} from './contract.js';
import { guardPoolErrors, isPostgresClient, type PostgresClient } from './postgres-client.js';
import { postgresSchema, SCHEMA_VERSION, TABLE_PREFIX_SHAPE } from './postgres-schema.js';
import { ServerClock } from './server-clock.js';
import { StoreDeadlineError } from './store-errors.js';

export interface PostgresTokenStoreOptions {
  /** Prefix of every table and function name (lower-case letters, digits, `_`). Default `magic_link_`. */
  tablePrefix?: string;
  /**
   * A write that reaches PostgreSQL later than this after it was sent changes nothing (its caller
   * has been answered by then); the server compares it with its own clock. Default `800`.
   */
  writeDeadlineMs?: number;
  /** Accepted for symmetry with the Redis store; node-postgres queues a query until a connection is free. */
  readyTimeoutMs?: number;
  /**
   * `synchronous_commit` for every write, e.g. `remote_apply`: a sign-in is answered only once a
   * synchronous standby has applied it, so it survives a failover. Default: the server's setting.
   */
  synchronousCommit?: 'on' | 'remote_write' | 'remote_apply';
  /** How often rows past their retention are pruned (by one process at a time). `0` turns it off. Default `60000`. */
  pruneIntervalMs?: number;
  /** Rows deleted per table per prune statement. Default `1000`. */
  pruneBatchSize?: number;
  /** The app's clock in ms, against which the offset to the server's clock is measured. Default `Date.now`. */
  clock?: () => number;
}

const WHERE = 'PostgresTokenStore';
const DEADLINE_CODE = 'P0M01';
const MISSING_SCHEMA_CODES = new Set(['42P01', '42883']);

type Query = <Row>(text: string, values: unknown[]) => Promise<Row[]>;

// rate-limiter-flexible's types declare RateLimiterStoreAbstract, but its entry does not export it at
// run time; its own PostgreSQL limiter extends it, so that is where the class is found.
const StoreLimiter = Object.getPrototypeOf(RateLimiterPostgres) as typeof RateLimiterStoreAbstract;

/**
 * Rate-limit counters in the store's table, windowed on the server's clock, with unnamed statements
 * and no table made at run time (rate-limiter-flexible's own PostgreSQL limiter does neither).
 */
class PostgresRateLimiter extends StoreLimiter {
  readonly #query: Query;
  readonly #table: string;
  readonly #clock: string;

  constructor(spec: LimiterSpec, client: PostgresClient, query: Query, prefix: string) {
    super({ keyPrefix: spec.name, points: spec.points, duration: spec.duration, blockDuration: spec.blockDuration, storeClient: client });
    this.#query = query;
    this.#table = `${prefix}limits`;
    this.#clock = `${prefix}clock()`;
  }

  _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false): Promise<Array<{ points: number; ms_before_next: string | null }>> {
    const c = this.#clock;
    const fresh = `CASE WHEN $3::bigint > 0 THEN ${c} + $3::bigint END`;
    return this.#query(
      `INSERT INTO ${this.#table} AS r (key, points, expire_at) VALUES ($1, $2, ${fresh})
       ON CONFLICT (key) DO UPDATE SET
         points = CASE WHEN $4::boolean OR r.expire_at <= ${c} THEN $2 ELSE r.points + $2 END,
         expire_at = CASE WHEN $4::boolean OR r.expire_at <= ${c} THEN ${fresh} ELSE r.expire_at END
       RETURNING r.points, r.expire_at - ${c} AS ms_before_next`,
      [rlKey, points, msDuration, forceExpire],
    );
  }

  _get(rlKey: string): Promise<Array<{ points: number; ms_before_next: string | null }> | null> {
    const c = this.#clock;
    return this.#query<{ points: number; ms_before_next: string | null }>(
      `SELECT points, expire_at - ${c} AS ms_before_next FROM ${this.#table} WHERE key = $1 AND (expire_at > ${c} OR expire_at IS NULL)`,
      [rlKey],
    ).then((rows) => (rows.length === 0 ? null : rows));
  }

  _delete(rlKey: string): Promise<boolean> {
    return this.#query(`DELETE FROM ${this.#table} WHERE key = $1 RETURNING key`, [rlKey]).then((rows) => rows.length > 0);
  }

  _getRateLimiterRes(_rlKey: string, changedPoints: number, rows: Array<{ points: number; ms_before_next: string | null }>): RateLimiterRes {
    const row = rows[0]!;
    const consumed = Number(row.points);
    const msBeforeNext = row.ms_before_next === null ? -1 : Math.max(0, Number(row.ms_before_next));
    return new RateLimiterRes(Math.max(this.points - consumed, 0), msBeforeNext, consumed, changedPoints === consumed);
  }
}

interface PeekRow {
  sealed: string;
  email_key: string;
  expires_at: string;
  retain_until: string;
  used_at: string | null;
  burnt: boolean;
  attempt_check: string | null;
  attempt_match: string | null;
  attempt_sealed: string | null;
}

interface AttemptRow {
  o_state: AttemptRecord['state'] | null;
  o_sealed: string | null;
  o_expires_at: string | null;
  o_used_at: string | null;
  o_approved_at: string | null;
  o_revoked: boolean | null;
  o_burnt: boolean | null;
  o_taken: boolean | null;
}

interface RedeemRow {
  o_status: 'over_budget' | 'not_found' | 'already_used' | 'expired' | 'redeemed';
  o_sealed: string | null;
  o_email_key: string | null;
  o_expires_at: string | null;
  o_retain_until: string | null;
  o_replayed: boolean | null;
  o_counter: number | null;
  o_ms_before_next: string | null;
  clock: string;
}

/**
 * Keeps links and limits in PostgreSQL so that every process of an app shares them; pass a
 * node-postgres `Pool`. Time decisions are made on the server's clock: the store measures its
 * offset from the app's clock on every reply and sends times already corrected by it.
 */
export class PostgresTokenStore implements TokenStore, BudgetedRedeem, BudgetedSave {
  readonly #client: PostgresClient;
  readonly #prefix: string;
  readonly #writeDeadlineMs: number;
  readonly #synchronous: string | null;
  readonly #clock: ServerClock;
  readonly #pruneBatch: number;
  readonly #timer: NodeJS.Timeout | undefined;
  #schemaChecked = false;

  constructor(client: PostgresClient, options: PostgresTokenStoreOptions = {}) {
    if (!isPostgresClient(client)) {
      throw new TypeError(`\`${WHERE}\` needs a node-postgres \`Pool\` (\`new pg.Pool({ connectionString })\`); got ${describe(client)}.`);
    }
    const given = dropUndefined(options, WHERE);
    assertKnownKeys(given, ['tablePrefix', 'writeDeadlineMs', 'readyTimeoutMs', 'synchronousCommit', 'pruneIntervalMs', 'pruneBatchSize', 'clock'], WHERE);
    if (given.tablePrefix !== undefined && (typeof given.tablePrefix !== 'string' || !TABLE_PREFIX_SHAPE.test(given.tablePrefix))) {
      throw new TypeError(
        `\`${WHERE}\` option \`tablePrefix\` must be lower-case letters, digits and \`_\` (it is written into SQL), such as "auth_"; got ${describe(given.tablePrefix)}.`,
      );
    }
    assertWholeNumber(given.writeDeadlineMs, WHERE, 'writeDeadlineMs', 1, 60_000);
    assertWholeNumber(given.readyTimeoutMs, WHERE, 'readyTimeoutMs', 0, 60_000);
    assertWholeNumber(given.pruneIntervalMs, WHERE, 'pruneIntervalMs', 0, 86_400_000);
    assertWholeNumber(given.pruneBatchSize, WHERE, 'pruneBatchSize', 1, 1_000_000);
    assertOptionalFunction(given.clock, WHERE, 'clock');
    const sync = given.synchronousCommit;
    if (sync !== undefined && sync !== 'on' && sync !== 'remote_write' && sync !== 'remote_apply') {
      throw new TypeError(`\`${WHERE}\` option \`synchronousCommit\` must be "on", "remote_write" or "remote_apply"; got ${describe(sync)}.`);
    }
    this.#client = client;
    this.#prefix = given.tablePrefix ?? DEFAULTS.tablePrefix;
    this.#writeDeadlineMs = given.writeDeadlineMs ?? storeDeadlines(DEFAULTS.storeTimeoutMs).writeDeadlineMs;
    this.#synchronous = sync ?? null;
    this.#clock = new ServerClock(given.clock ?? Date.now);
    this.#pruneBatch = given.pruneBatchSize ?? 1000;
    // An idle client that dies (a restart, pg_terminate_backend) must not take the process with it.
    guardPoolErrors(client, () => undefined);
    const interval = given.pruneIntervalMs ?? 60_000;
    // unref: a pending prune must never keep the process alive.
    if (interval > 0) this.#timer = setInterval(() => void this.prune().catch(() => undefined), interval).unref();
  }

  /** The SQL that creates this store's tables and functions (what `migrate()` runs). */
  get schema(): string {
    return postgresSchema(this.#prefix);
  }

  async save(key: TokenKey, record: TokenRecord, options: SaveOptions): Promise<boolean> {
    return (await this.saveWithBudget(key, record, options, [])) === true;
  }

  /** Takes a point of each budget counter, then saves, in one statement: a link request is one round trip. */
  async saveWithBudget(
    key: TokenKey,
    record: TokenRecord,
    { now, revokeOthers }: SaveOptions,
    counters: readonly BudgetCounter[],
  ): Promise<boolean | OverBudget> {
    const d = await this.#offset();
    const p = this.#prefix;
    const { attempt } = record;
    // The attempt is written by the save's own statement, only once the link is saved: both or neither.
    const columns = attempt ? `s.*, CASE WHEN s.o_status = 'saved' THEN ${p}save_attempt($1, $2, $15, $16, $17, $6) END AS attempt_saved` : 's.*';
    const [row] = await this.#call<{ o_status: string; o_counter: number | null; o_ms_before_next: string | null }>(
      columns,
      `FROM ${p}save($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) s`,
      [
        idOf(key.tag, key.id),
        key.check,
        record.sealed,
        record.emailKey,
        record.expiresAt + d,
        record.retainUntil + d,
        now + d,
        revokeOthers,
        this.#deadline(),
        this.#synchronous,
        ...counterColumns(counters),
        ...(attempt ? [attempt.check, attempt.match, attempt.sealed] : []),
      ],
    );
    if (row!.o_status === 'over_budget') return overBudget(row!);
    return row!.o_status === 'saved';
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    const p = this.#prefix;
    const d = await this.#offset();
    const rows = await this.#call<PeekRow>(
      `l.sealed, l.email_key, l.expires_at, l.retain_until, coalesce(l.used_at, ${p}revoked_at(l.email_key, l.generation, $3)) AS used_at,
       (l.generation <> s.generation OR s.failures < l.failures) AS burnt, a.check_digest AS attempt_check, a.match_digest AS attempt_match,
       a.sealed AS attempt_sealed`,
      `FROM ${p}links l CROSS JOIN ${p}state(l.email_key, $3) s LEFT JOIN ${p}attempts a ON a.id = l.id AND a.link_check = l.check_digest
       WHERE l.id = $1 AND l.check_digest = ANY ($2) AND l.retain_until > $3`,
      [idOf(key.tag, key.id), checksOf(key), now + d],
    );
    const row = rows[0];
    if (!row) return null;
    const usedAt = row.used_at === null ? null : Number(row.used_at) - d;
    const expiresAt = Number(row.expires_at) - d;
    // A burnt link stopped working when the email signed in elsewhere: it reads as expired now.
    return {
      sealed: row.sealed,
      emailKey: row.email_key,
      expiresAt: usedAt === null && row.burnt && now < expiresAt ? now : expiresAt,
      retainUntil: Number(row.retain_until) - d,
      usedAt,
      ...(row.attempt_check === null ? {} : { attempt: { check: row.attempt_check, match: row.attempt_match!, sealed: row.attempt_sealed! } }),
    };
  }

  redeem(key: TokenKey, options: RedeemOptions): Promise<RedeemResult> {
    return this.redeemWithBudget(key, options, []) as Promise<RedeemResult>;
  }

  /** Takes a point of each budget counter, then redeems, in one statement: a verify is one round trip. */
  async redeemWithBudget(key: TokenKey, options: RedeemOptions, counters: readonly BudgetCounter[]): Promise<BudgetedRedeemResult> {
    const { now, burnOthers, linkTtlMs, bindings = [], replayWindowMs = 0 } = options;
    const d = await this.#offset();
    const [row] = await this.#call<RedeemRow>('r.*', `FROM ${this.#prefix}redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) r`, [
      idOf(key.tag, key.id),
      checksOf(key),
      now + d,
      burnOthers,
      linkTtlMs,
      bindings,
      replayWindowMs,
      this.#deadline(),
      this.#synchronous,
      ...counterColumns(counters),
    ]);
    const result = row!;
    switch (result.o_status) {
      case 'over_budget':
        return overBudget(result);
      case 'redeemed': {
        const record = {
          sealed: result.o_sealed!,
          emailKey: result.o_email_key!,
          expiresAt: Number(result.o_expires_at) - d,
          retainUntil: Number(result.o_retain_until) - d,
          usedAt: now,
        };
        return result.o_replayed ? { status: 'redeemed', record, replayed: true } : { status: 'redeemed', record };
      }
      case 'not_found':
      case 'already_used':
      case 'expired':
        return { status: result.o_status };
    }
  }

  async exchange(email: EmailKey, codeDigest: string, { now, burnOthers, linkTtlMs, maxFailures }: ExchangeOptions): Promise<ExchangeResult> {
    const d = await this.#offset();
    const [row] = await this.#call<{ status: string }>(`${this.#prefix}exchange($1, $2, $3, $4, $5, $6, $7, $8) AS status`, '', [
      idOf(email.tag, codeDigest),
      email.digest,
      now + d,
      burnOthers,
      maxFailures,
      linkTtlMs,
      this.#deadline(),
      this.#synchronous,
    ]);
    const status = row!.status;
    if (status === 'redeemed' || status === 'already_used') return { status };
    return { status: 'not_found', wrong: status === 'wrong_code' };
  }

  async approve(key: TokenKey, { now, burnOthers, linkTtlMs, match }: ApproveOptions): Promise<ApproveResult> {
    const d = await this.#offset();
    const [row] = await this.#call<{ status: ApproveResult['status'] }>(`${this.#prefix}approve($1, $2, $3, $4, $5, $6, $7, $8) AS status`, '', [
      idOf(key.tag, key.id),
      checksOf(key),
      now + d,
      burnOthers,
      linkTtlMs,
      match,
      this.#deadline(),
      this.#synchronous,
    ]);
    return { status: row!.status };
  }

  async attempt(key: AttemptKey, { now, step, collectWindowMs }: AttemptOptions): Promise<AttemptRecord | null> {
    const d = await this.#offset();
    const [row] = await this.#call<AttemptRow>('a.*', `FROM ${this.#prefix}attempt($1, $2, $3, $4, $5, $6, $7) a`, [
      idOf(key.tag, key.id),
      key.check,
      now + d,
      step,
      collectWindowMs,
      step === 'read' ? null : this.#deadline(),
      this.#synchronous,
    ]);
    if (!row || row.o_state === null) return null;
    const usedAt = row.o_used_at === null ? null : Number(row.o_used_at) - d;
    const expiresAt = Number(row.o_expires_at) - d;
    return {
      state: row.o_state,
      sealed: row.o_sealed!,
      expiresAt: usedAt === null && row.o_burnt && now < expiresAt ? now : expiresAt,
      usedAt,
      approvedAt: row.o_approved_at === null ? null : Number(row.o_approved_at) - d,
      revoked: row.o_revoked === true,
      taken: row.o_taken === true,
    };
  }

  async revoke(email: EmailKey, { now, linkTtlMs }: RevokeOptions): Promise<void> {
    const d = await this.#offset();
    await this.#call(`${this.#prefix}revoke($1, $2, $3, $4, $5) AS status`, '', [
      email.digest,
      now + d,
      now + d + linkTtlMs,
      this.#deadline(),
      this.#synchronous,
    ]);
  }

  async delete(key: TokenKey): Promise<void> {
    await this.#query(`DELETE FROM ${this.#prefix}links WHERE id = $1`, [idOf(key.tag, key.id)]);
  }

  /** Budgets in the same database: every process sharing it shares them, windowed on the server's clock. */
  createLimiter(spec: LimiterSpec): RateLimiterStoreAbstract {
    return new PostgresRateLimiter(spec, this.#client, (text, values) => this.#query(text, values), this.#prefix);
  }

  /**
   * Deletes rows past their retention in batches, by one process at a time (an advisory lock):
   * returns how many links went, or 0 when another process is pruning. Runs on a timer too; a cron
   * job may call it instead (`pruneIntervalMs: 0`).
   */
  async prune(): Promise<number> {
    let removed = 0;
    for (;;) {
      const [row] = await this.#query<{ removed: number }>(`SELECT ${this.#prefix}prune(${this.#prefix}clock(), $1) AS removed`, [this.#pruneBatch]);
      const batch = Number(row?.removed ?? -1);
      if (batch <= 0) return removed;
      removed += batch;
      if (batch < this.#pruneBatch) return removed;
    }
  }

  /** Stops the prune timer (the pool is the app's to end). */
  close(): void {
    clearInterval(this.#timer);
  }

  /** The latest moment, on the server's clock, at which this call may still write. */
  #deadline(): number {
    return this.#clock.deadline(this.#writeDeadlineMs);
  }

  /**
   * Server clock minus app clock. Before the first write it is measured (one round trip), so that
   * the first deadline already allows for how far away the server is.
   */
  async #offset(): Promise<number> {
    if (!this.#clock.measured) await this.#call('1 AS one', '', []);
    return this.#clock.toServer(0);
  }

  /** One statement, with the server's clock read in it to keep the offset and latency measured. */
  async #call<Row>(columns: string, from: string, values: unknown[]): Promise<Row[]> {
    const sentAt = this.#clock.now();
    const rows = await this.#query<Row & { clock?: string }>(`SELECT ${columns}, ${this.#prefix}clock() AS clock ${from}`, values);
    const clock = Number(rows[0]?.clock);
    if (Number.isFinite(clock)) this.#clock.sample(clock, sentAt, this.#clock.now());
    return rows;
  }

  async #query<Row>(text: string, values: unknown[]): Promise<Row[]> {
    try {
      const result = await this.#client.query<Row>(text, values);
      if (!this.#schemaChecked) void this.#checkSchema();
      return result.rows;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === DEADLINE_CODE) throw new StoreDeadlineError('PostgreSQL');
      if (typeof code === 'string' && MISSING_SCHEMA_CODES.has(code)) {
        warnOnce(
          'EXPRESS_MAGIC_LINK_POSTGRES_SCHEMA',
          `The express-magic-link tables (prefix "${this.#prefix}") are missing: run \`await migrate(pool)\` once before serving, or apply the package's schema.sql. Sign-ins answer 503 until then.`,
        );
      }
      throw error;
    }
  }

  /** Once: the schema version matches, and a synchronous commit has a standby to wait for. */
  async #checkSchema(): Promise<void> {
    this.#schemaChecked = true;
    try {
      const { rows } = await this.#client.query<{ value: string }>(`SELECT value FROM ${this.#prefix}meta WHERE name = 'schema_version'`);
      if (rows[0]?.value !== String(SCHEMA_VERSION)) {
        warnOnce(
          'EXPRESS_MAGIC_LINK_POSTGRES_SCHEMA_VERSION',
          `The express-magic-link schema in the database is version ${rows[0]?.value ?? 'unknown'}, this package needs ${SCHEMA_VERSION}: run \`await migrate(pool)\`.`,
        );
      }
      if (this.#synchronous === null) {
        const commit = await this.#client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
        if (commit.rows[0]?.synchronous_commit === 'off') {
          warnOnce(
            'EXPRESS_MAGIC_LINK_POSTGRES_ASYNC_COMMIT',
            'PostgreSQL runs with `synchronous_commit = off`: a server crash forgets the sign-ins answered in its last moments, and their links work again. Set it to `on`, or pass `synchronousCommit` to the store.',
          );
        }
      }
      if (this.#synchronous === 'remote_write' || this.#synchronous === 'remote_apply') {
        const standby = await this.#client.query<{ synchronous_standby_names: string }>('SHOW synchronous_standby_names');
        if (!standby.rows[0]?.synchronous_standby_names) {
          warnOnce(
            'EXPRESS_MAGIC_LINK_POSTGRES_NO_SYNC_STANDBY',
            `\`synchronousCommit: '${this.#synchronous}'\` is set, but the server has no \`synchronous_standby_names\`: commits do not wait for any standby, so a failover can forget answered sign-ins.`,
          );
        }
      }
    } catch {
      // Best effort: a permission or a passing fault must not fail a request.
    }
  }
}

/** Creates (or brings up to date) the store's tables and functions, in one transaction; safe to run again. */
export async function migrate(client: PostgresClient, options: { tablePrefix?: string } = {}): Promise<void> {
  const prefix = options.tablePrefix ?? DEFAULTS.tablePrefix;
  // A multi-statement query without parameters runs as one implicit transaction: all or nothing, and
  // under a lock, so processes starting together do not race.
  await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('${prefix}migrate', 0));\n${postgresSchema(prefix)}`);
}

const idOf = (tag: string, id: string): string => `${tag}:${id}`;

function checksOf(key: TokenKey): string[] {
  return [key.check, ...(key.formerChecks ?? [])];
}

/** Budget counters as the SQL functions take them: keys, points, windows and blocks, one array each. */
function counterColumns(counters: readonly BudgetCounter[]): [string[], number[], number[], number[]] {
  return [counters.map((c) => c.key), counters.map((c) => c.points), counters.map((c) => c.windowMs), counters.map((c) => c.blockMs)];
}

/** A function's over_budget row: the counter (0-based) and when it has a point again. */
function overBudget(row: { o_counter: number | string | null; o_ms_before_next: number | string | null }): OverBudget {
  return { status: 'over_budget', counter: Number(row.o_counter), msBeforeNext: Math.max(0, Number(row.o_ms_before_next)) };
}
