// Token store on Redis: one small hash per link, plus a hash of policy state for an email once it
// has any. Every operation is one Lua script (or one command); see redis-scripts.ts for the layout.
import { assertKeyPrefix, assertKnownKeys, assertOptionalFunction, assertWholeNumber, describe, dropUndefined } from '../config/checks.js';
import type { BudgetCounter, BudgetedRedeem, BudgetedRedeemResult, BudgetedSave, OverBudget } from './capabilities.js';
import type {
  ApproveOptions,
  ApproveResult,
  AttemptKey,
  AttemptOptions,
  AttemptRecord,
  EmailKey,
  LimiterSpec,
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
import { RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import { DEFAULTS, storeDeadlines } from '../config/defaults.js';
import { isCluster, isRedisClient, untilReady, type RedisClient } from './redis-client.js';
import { checkDeploymentWhenReady } from './redis-deployment.js';
import { ReplicaWaits } from './redis-replicas.js';
import { ServerClock } from './server-clock.js';
import { StoreDeadlineError } from './store-errors.js';
import {
  APPROVE,
  ATTEMPT,
  callArgs,
  EXCHANGE,
  PEEK,
  REDEEM,
  replyStatus,
  REVOKE,
  SAVE,
  SCRIPTS,
  withoutClock,
  type ReplyStatus,
  type ScriptContract,
} from './redis-scripts.js';

export interface RedisTokenStoreOptions {
  /** Prefix of every key the store writes; the hash tag follows it. Default `ml:`. */
  keyPrefix?: string;
  /** How long a call waits for a (re)connecting client before failing. Default `500`. */
  readyTimeoutMs?: number;
  /**
   * A write that reaches Redis later than this after it was sent changes nothing (its caller has
   * been answered by then). Keep it below the app's store deadline. Default `800`.
   */
  writeDeadlineMs?: number;
  /**
   * Saves, redeems, exchanges and revokes that wrote wait (Redis `WAIT`, pipelined with the script:
   * still one round trip) until this many replicas hold the write, for at most half of
   * `writeDeadlineMs`; fewer in time answers `service_unavailable`. They wait on connections of their
   * own (`duplicate()`), so a lagging replica never holds up anything else, and while replicas do not
   * acknowledge, writes after the first are refused at once, before writing. Makes an acknowledged
   * link and redeem survive a failover. Default `0` (no wait).
   */
  waitForReplicas?: number;
  /** The app's clock in ms, against which the offset to Redis's clock is measured. Default `Date.now`. */
  clock?: () => number;
}

/** How often the offset to Redis's clock and its latency are measured again (one TIME command). */
const CLOCK_REFRESH_MS = 5_000;

type ScriptCommand = (...countThenKeysThenArgs: Array<string | number>) => Promise<unknown>;

const toBase36 = (ms: number): string => ms.toString(36);
const fromBase36 = (text: string): number => parseInt(text, 36);
/** A link's stored times, back on the app's clock (`offset`: Redis's clock minus the app's). */
const fromTimes = (times: string, offset: number): [expiresAt: number, retainUntil: number] => {
  const sep = times.indexOf(':');
  return [fromBase36(times.slice(0, sep)) - offset, fromBase36(times.slice(sep + 1)) - offset];
};
const flag = (on: boolean): string => (on ? '1' : '0');

/** A rate-limiter-flexible limiter that, like the store, never hands ioredis a command while it is reconnecting. */
class ReadyRateLimiterRedis extends RateLimiterRedis {
  readonly #ready: () => Promise<void>;

  constructor(options: ConstructorParameters<typeof RateLimiterRedis>[0], ready: () => Promise<void>) {
    super(options);
    this.#ready = ready;
  }

  override consume(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    return this.#ready().then(() => super.consume(key, points, options));
  }

  override reward(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    return this.#ready().then(() => super.reward(key, points, options));
  }
}

/** Keeps links in Redis so that every process of an app shares them; pass an ioredis `Redis` or `Cluster`. */
export class RedisTokenStore implements TokenStore, Partial<BudgetedRedeem>, Partial<BudgetedSave> {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #readyTimeoutMs: number;
  readonly #writeDeadlineMs: number;
  readonly #replicas: number;
  readonly #clock: ServerClock;
  readonly #waits: ReplicaWaits | null;
  #measuring: Promise<void> | null = null;

  constructor(client: RedisClient, options: RedisTokenStoreOptions = {}) {
    if (!isRedisClient(client)) {
      throw new TypeError(`\`RedisTokenStore\` needs an ioredis client (\`new Redis(url)\` or \`new Redis.Cluster(nodes)\`); got ${describe(client)}.`);
    }
    const given = dropUndefined(options, 'RedisTokenStore');
    assertKnownKeys(given, ['keyPrefix', 'readyTimeoutMs', 'writeDeadlineMs', 'waitForReplicas', 'clock'], 'RedisTokenStore');
    assertOptionalFunction(given.clock, 'RedisTokenStore', 'clock');
    assertWholeNumber(given.waitForReplicas, 'RedisTokenStore', 'waitForReplicas', 0, 10);
    assertKeyPrefix(given.keyPrefix, 'RedisTokenStore');
    assertWholeNumber(given.readyTimeoutMs, 'RedisTokenStore', 'readyTimeoutMs', 0, 60_000);
    assertWholeNumber(given.writeDeadlineMs, 'RedisTokenStore', 'writeDeadlineMs', 1, 60_000);
    this.#client = client;
    const deadlines = storeDeadlines(DEFAULTS.storeTimeoutMs);
    this.#prefix = given.keyPrefix ?? DEFAULTS.keyPrefix;
    this.#readyTimeoutMs = given.readyTimeoutMs ?? deadlines.readyTimeoutMs;
    this.#writeDeadlineMs = given.writeDeadlineMs ?? deadlines.writeDeadlineMs;
    this.#replicas = given.waitForReplicas ?? DEFAULTS.waitForReplicas;
    this.#clock = new ServerClock(given.clock ?? Date.now);
    // Budget counters live under other hash tags: one script may not touch them on a Cluster.
    if (isCluster(client)) {
      this.redeemWithBudget = undefined;
      this.saveWithBudget = undefined;
    }
    checkDeploymentWhenReady(client);
    defineScripts(client);
    this.#waits =
      this.#replicas === 0
        ? null
        : new ReplicaWaits(client, this.#replicas, Math.max(1, Math.floor(this.#writeDeadlineMs / 2)), this.#readyTimeoutMs, defineScripts);
  }

  /** Budgets in the same Redis: every process sharing it shares them. One key per call, so a Cluster works. */
  createLimiter({ name, points, duration, blockDuration }: LimiterSpec): RateLimiterRedis {
    const options = { keyPrefix: `${this.#prefix}rl:${name}`, points, duration, blockDuration, storeClient: this.#client };
    // rejectIfRedisNotReady: fail at once during an outage instead of queueing behind a reconnect.
    return new ReadyRateLimiterRedis({ ...options, rejectIfRedisNotReady: true }, () => untilReady(this.#client, this.#readyTimeoutMs));
  }

  /** The Redis key of a link: the `{tag}` hash tag keeps one email's keys in one cluster slot. */
  keyOf(key: Pick<TokenKey, 'tag' | 'id'>): string {
    return `${this.#prefix}{${key.tag}}:l:${key.id}`;
  }

  async save(key: TokenKey, record: TokenRecord, options: SaveOptions): Promise<boolean> {
    return (await this.#save(key, record, options, [])) === true;
  }

  /**
   * Internal capability (`BudgetedSave`): the link request's budgets taken in the save's script, one
   * round trip instead of one per budget, on one Redis (a Cluster client does not offer it).
   */
  saveWithBudget?(key: TokenKey, record: TokenRecord, options: SaveOptions, counters: readonly BudgetCounter[]): Promise<boolean | OverBudget> {
    return this.#save(key, record, options, counters);
  }

  async #save(key: TokenKey, record: TokenRecord, { now, revokeOthers }: SaveOptions, counters: readonly BudgetCounter[]): Promise<boolean | OverBudget> {
    // Times are kept on Redis's clock, the one every app host sees; the key expires on it too.
    const d = await this.#offset();
    const reply = await this.#run(
      SAVE,
      { linkKey: this.keyOf(key), stateKey: this.#stateKey(key.tag, record.emailKey) },
      {
        sealed: record.sealed,
        emailKey: record.emailKey,
        linkTimes: `${toBase36(record.expiresAt + d)}:${toBase36(record.retainUntil + d)}`,
        retainMs: String(Math.max(1, record.retainUntil - now)),
        check: key.check,
        revokeOthers: flag(revokeOthers),
        nowB36: toBase36(now + d),
        validMs: String(Math.max(1, record.expiresAt - now)),
        deadline: this.#deadline(),
        attemptCheck: record.attempt?.check ?? '',
        attemptMatch: record.attempt?.match ?? '',
        attemptSealed: record.attempt?.sealed ?? '',
      },
      // A link the app mailed must survive a failover as surely as a redeem: it waits for replicas too.
      true,
      counters,
    );
    const status = replyStatus(reply);
    if (status === 'too_late') throw new StoreDeadlineError('Redis');
    if (status === 'over_budget') return overBudget(reply);
    return status === 'saved';
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    const d = await this.#offset();
    const reply = (await this.#run(
      PEEK,
      { linkKey: this.keyOf(key) },
      { nowB36: toBase36(now + d), statePrefix: this.#statePrefix(key.tag), checks: checksOf(key) },
    )) as [number, string, string, string, string, number, string, string, string];
    if (replyStatus(reply) !== 'found') return null;
    const [, sealed, emailKey, times, used, burnt, attemptCheck, attemptMatch, attemptSealed] = reply;
    const usedAt = used ? fromBase36(used) - d : null;
    const [expiresAt, retainUntil] = fromTimes(times, d);
    // A burnt link stopped working when the email signed in elsewhere: it reads as expired now.
    return {
      sealed,
      emailKey,
      expiresAt: usedAt === null && burnt === 1 && now < expiresAt ? now : expiresAt,
      retainUntil,
      usedAt,
      ...(attemptCheck ? { attempt: { check: attemptCheck, match: attemptMatch, sealed: attemptSealed } } : {}),
    };
  }

  async redeem(key: TokenKey, options: RedeemOptions): Promise<RedeemResult> {
    return this.#redeem(key, options, []) as Promise<RedeemResult>;
  }

  /**
   * Takes a point of each budget counter, then redeems, in one script: a verify costs one round
   * trip, and a counter over budget refuses before the link is read. Only on one Redis server,
   * where the counters (kept by the app's rate-limiter-flexible limiters) and the link share it;
   * a Cluster client does not offer it.
   */
  redeemWithBudget?(key: TokenKey, options: RedeemOptions, counters: readonly BudgetCounter[]): Promise<BudgetedRedeemResult> {
    return this.#redeem(key, options, counters);
  }

  async #redeem(key: TokenKey, options: RedeemOptions, counters: readonly BudgetCounter[]): Promise<BudgetedRedeemResult> {
    const { now, burnOthers, linkTtlMs, bindings = [], replayWindowMs = 0 } = options;
    const d = await this.#offset();
    const reply = (await this.#run(
      REDEEM,
      { linkKey: this.keyOf(key) },
      { ...this.#spendArgs(key, now + d, burnOthers, linkTtlMs), bindings: bindings.join(','), replayMs: String(replayWindowMs) },
      true,
      counters,
    )) as [number, ...Array<string | number>];
    switch (replyStatus(reply)) {
      case 'redeemed': {
        const [, sealed, emailKey, times, replayed] = reply;
        const [expiresAt, retainUntil] = fromTimes(String(times), d);
        const record = { sealed: String(sealed), emailKey: String(emailKey), expiresAt, retainUntil, usedAt: now };
        return replayed === 1 ? { status: 'redeemed', record, replayed: true } : { status: 'redeemed', record };
      }
      case 'already_used':
        return { status: 'already_used' };
      case 'expired':
        return { status: 'expired' };
      case 'over_budget':
        return overBudget(reply);
      case 'too_late':
        throw new StoreDeadlineError('Redis');
      case 'not_found':
        return { status: 'not_found' };
      case 'found':
      case 'saved':
      case 'id_taken':
      case 'wrong_code':
      case 'revoked':
      case 'approved':
      case 'denied':
      case 'attempt_changed':
        throw new Error(`unexpected reply from the redeem script: ${String(reply[0])}`);
    }
  }

  async approve(key: TokenKey, { now, burnOthers, linkTtlMs, match }: ApproveOptions): Promise<ApproveResult> {
    const d = await this.#offset();
    const reply = await this.#run(APPROVE, { linkKey: this.keyOf(key) }, { ...this.#spendArgs(key, now + d, burnOthers, linkTtlMs), match: match ?? '' }, true);
    const status = replyStatus(reply);
    if (status === 'too_late') throw new StoreDeadlineError('Redis');
    if (status === 'approved' || status === 'denied' || status === 'already_used' || status === 'expired') return { status };
    return { status: 'not_found' };
  }

  async attempt(key: AttemptKey, { now, step, collectWindowMs }: AttemptOptions): Promise<AttemptRecord | null> {
    const d = await this.#offset();
    const reply = (await this.#run(
      ATTEMPT,
      { linkKey: this.keyOf(key) },
      {
        nowB36: toBase36(now + d),
        statePrefix: this.#statePrefix(key.tag),
        attemptCheck: key.check,
        step,
        windowMs: String(collectWindowMs),
        deadline: step === 'read' ? '' : this.#deadline(),
      },
      step !== 'read',
    )) as [number, string, string, string, string, string, number, number, number];
    const status = replyStatus(reply);
    if (status === 'too_late') throw new StoreDeadlineError('Redis');
    if (status !== 'found' && status !== 'attempt_changed') return null;
    const [, sealed, times, used, state, approved, revoked, burnt, taken] = reply;
    const usedAt = used ? fromBase36(used) - d : null;
    const [expiresAt] = fromTimes(times, d);
    return {
      state: state === 'a' ? 'approved' : state === 'd' ? 'denied' : state === 'c' ? 'collected' : 'pending',
      sealed,
      expiresAt: usedAt === null && burnt === 1 && now < expiresAt ? now : expiresAt,
      usedAt,
      approvedAt: approved ? fromBase36(approved) - d : null,
      revoked: revoked === 1,
      taken: taken === 1,
    };
  }

  async exchange(email: EmailKey, codeDigest: string, { now, burnOthers, linkTtlMs, maxFailures }: ExchangeOptions): Promise<ExchangeResult> {
    const d = await this.#offset();
    const reply = await this.#run(
      EXCHANGE,
      { linkKey: this.keyOf({ tag: email.tag, id: codeDigest }), stateKey: this.#stateKey(email.tag, email.digest) },
      {
        nowB36: toBase36(now + d),
        burnOthers: flag(burnOthers),
        maxFailures: String(maxFailures),
        emailKey: email.digest,
        linkTtlMs: String(linkTtlMs),
        deadline: this.#deadline(),
      },
      true,
    );
    const status = replyStatus(reply);
    if (status === 'too_late') throw new StoreDeadlineError('Redis');
    if (status === 'redeemed' || status === 'already_used') return { status };
    return { status: 'not_found', wrong: status === 'wrong_code' };
  }

  async revoke(email: EmailKey, { now, linkTtlMs }: RevokeOptions): Promise<void> {
    const d = await this.#offset();
    const reply = await this.#run(
      REVOKE,
      { stateKey: this.#stateKey(email.tag, email.digest) },
      { nowB36: toBase36(now + d), linkTtlMs: String(Math.max(1, linkTtlMs)), deadline: this.#deadline() },
      true,
    );
    if (replyStatus(reply) === 'too_late') throw new StoreDeadlineError('Redis');
  }

  async delete(key: TokenKey): Promise<void> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    await this.#client.del(this.keyOf(key));
  }

  /** The latest moment, on Redis's clock, at which this call may still write (compared with `TIME` in the script). */
  #deadline(): string {
    return String(this.#clock.deadline(this.#writeDeadlineMs));
  }

  /**
   * Redis's clock minus the app's. Measured with one `TIME` before the first call (so the first
   * deadline already allows for how far away Redis is), then again every few seconds in the
   * background.
   */
  async #offset(): Promise<number> {
    if (!this.#clock.measured) await this.#measure();
    else if (this.#clock.age() > CLOCK_REFRESH_MS) void this.#measure().catch(() => undefined);
    return this.#clock.toServer(0);
  }

  #measure(): Promise<void> {
    this.#measuring ??= (async () => {
      try {
        await untilReady(this.#client, this.#readyTimeoutMs);
        const sentAt = this.#clock.now();
        const [seconds, micros] = await this.#client.time();
        this.#clock.sample(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000), sentAt, this.#clock.now());
      } finally {
        this.#measuring = null;
      }
    })();
    return this.#measuring;
  }

  /** What every script that spends a link by its token (redeem, approve) is told: when, by which checks, and the sign-in policy. */
  #spendArgs(key: TokenKey, serverNow: number, burnOthers: boolean, linkTtlMs: number) {
    return {
      nowB36: toBase36(serverNow),
      burnOthers: flag(burnOthers),
      statePrefix: this.#statePrefix(key.tag),
      checks: checksOf(key),
      linkTtlMs: String(linkTtlMs),
      deadline: this.#deadline(),
    };
  }

  #statePrefix(tag: string): string {
    return `${this.#prefix}{${tag}}:e:`;
  }

  #stateKey(tag: string, emailKey: string): string {
    return `${this.#statePrefix(tag)}${emailKey}`;
  }

  /**
   * Runs a script by its contract; `durable` writes wait for `waitForReplicas` replicas first. Budget
   * counters ride behind the named keys and arguments: their keys after the contract's, their specs
   * after its arguments.
   */
  #run<K extends string, A extends string>(
    contract: ScriptContract<K, A>,
    keys: Record<K, string>,
    args: Record<A, string>,
    durable = false,
    counters: readonly BudgetCounter[] = [],
  ): Promise<unknown> {
    const named = callArgs(contract, keys, args);
    const keyCount = contract.keys.length;
    const counterKeys = counters.map((counter) => counter.key);
    const specs = counters.map((counter) => `${counter.points}:${counter.windowMs}:${counter.blockMs}`);
    return this.#send(durable, contract.name, keyCount + counters.length, ...named.slice(0, keyCount), ...counterKeys, ...named.slice(keyCount), ...specs);
  }

  /** A `durable` write counts once `waitForReplicas` replicas hold it (see ReplicaWaits). */
  async #send(durable: boolean, command: string, keyCount: number, ...keysThenArgs: string[]): Promise<unknown> {
    if (durable && this.#waits) {
      // The replicas' wait is in this round trip: what it says of the way back is the WAIT's, not the network's.
      return withoutClock(await this.#waits.send(command, keyCount, keysThenArgs, (raw) => wroteSomething(withoutClock(raw).reply))).reply;
    }
    await untilReady(this.#client, this.#readyTimeoutMs);
    const run = (this.#client as unknown as Record<string, ScriptCommand>)[command]!;
    const { reply, ranAt } = withoutClock(await run.call(this.#client, keyCount, ...keysThenArgs));
    this.#clock.wayBack(ranAt, this.#clock.now()); // a late answer too: the next deadline allows for it
    return reply;
  }
}

/**
 * defineCommand loads each script once and runs it by SHA (EVALSHA, EVAL after a NOSCRIPT). No
 * fixed key count: each call says its own, so one definition serves with or without counters.
 */
function defineScripts(client: RedisClient): void {
  for (const { name, lua } of SCRIPTS) client.defineCommand(name, { lua } as { numberOfKeys: number; lua: string });
}

/** Replies after which a script changed a link or an address's state (budget counters aside: see README). */
const WRITES = new Set<ReplyStatus>(['saved', 'redeemed', 'wrong_code', 'revoked', 'approved', 'denied', 'attempt_changed']);
const wroteSomething = (reply: unknown): boolean => WRITES.has(replyStatus(reply));

/** A script's `{over_budget, counter index, pttl}`. */
function overBudget(reply: unknown): OverBudget {
  const [, counter, pttl] = reply as [number, number, number];
  return { status: 'over_budget', counter: Number(counter), msBeforeNext: Math.max(0, Number(pttl)) };
}

/** The token's check and any former ones (rotation), as the scripts read them. */
function checksOf(key: TokenKey): string {
  return key.formerChecks && key.formerChecks.length > 0 ? [key.check, ...key.formerChecks].join(',') : key.check;
}
