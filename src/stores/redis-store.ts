// Token store on Redis: one small hash per link, plus a hash of policy state for an email once it
// has any. Every operation is one Lua script (or one command); see redis-scripts.ts for the layout.
import { assertKeyPrefix, assertKnownKeys, assertWholeNumber, describe, dropUndefined } from '../config/checks.js';
import type {
  BudgetCounter,
  BudgetedRedeemResult,
  EmailKey,
  ExchangeOptions,
  ExchangeResult,
  RedeemOptions,
  RedeemResult,
  SaveOptions,
  TokenKey,
  TokenRecord,
  TokenStore,
} from './contract.js';
import { isCluster, isRedisClient, untilReady, type RedisClient } from './redis-client.js';
import { checkDeploymentWhenReady } from './redis-deployment.js';
import { EXCHANGE_SCRIPT, PEEK_SCRIPT, REDEEM_SCRIPT, SAVE_SCRIPT } from './redis-scripts.js';

/** Thrown when fewer replicas than asked acknowledged a redeem or exchange in time (`waitForReplicas`). */
export class ReplicaAckError extends Error {
  constructor(wanted: number, got: number) {
    super(`${got} of ${wanted} replicas acknowledged the write in time`);
    this.name = 'ReplicaAckError';
  }
}

/** Thrown when a script refused to write because the request's deadline had passed (Redis was frozen or slow). */
export class StoreDeadlineError extends Error {
  constructor() {
    super('the store call reached Redis after its deadline; it changed nothing');
    this.name = 'StoreDeadlineError';
  }
}

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
   * Redeems and exchanges wait (Redis `WAIT`, pipelined with the script: still one round trip) until
   * this many replicas hold the write, for at most half of `writeDeadlineMs`; fewer in time answers
   * `service_unavailable`. Makes an acknowledged redeem survive a failover. Default `0` (no wait).
   */
  waitForReplicas?: number;
}

// Named after the script version, so stores with other prefixes on one client share the definition.
const COMMANDS = {
  save: ['expressMagicLinkSave5', SAVE_SCRIPT, 2],
  peek: ['expressMagicLinkPeek5', PEEK_SCRIPT, 1],
  redeem: ['expressMagicLinkRedeem5', REDEEM_SCRIPT, 1],
  // The same script with the budget counters as further keys; ioredis fixes the key count per command.
  redeem1: ['expressMagicLinkRedeemBudget1x5', REDEEM_SCRIPT, 2],
  redeem2: ['expressMagicLinkRedeemBudget2x5', REDEEM_SCRIPT, 3],
  exchange: ['expressMagicLinkExchange5', EXCHANGE_SCRIPT, 2],
} as const;
const BUDGETED = ['redeem', 'redeem1', 'redeem2'] as const;

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
  readonly #writeDeadlineMs: number;
  readonly #replicas: number;

  constructor(client: RedisClient, options: RedisTokenStoreOptions = {}) {
    if (!isRedisClient(client)) {
      throw new TypeError(`\`RedisTokenStore\` needs an ioredis client (\`new Redis(url)\` or \`new Redis.Cluster(nodes)\`); got ${describe(client)}.`);
    }
    const given = dropUndefined(options, 'RedisTokenStore');
    assertKnownKeys(given, ['keyPrefix', 'readyTimeoutMs', 'writeDeadlineMs', 'waitForReplicas'], 'RedisTokenStore');
    assertWholeNumber(given.waitForReplicas, 'RedisTokenStore', 'waitForReplicas', 0, 10);
    assertKeyPrefix(given.keyPrefix, 'RedisTokenStore');
    assertWholeNumber(given.readyTimeoutMs, 'RedisTokenStore', 'readyTimeoutMs', 0, 60_000);
    assertWholeNumber(given.writeDeadlineMs, 'RedisTokenStore', 'writeDeadlineMs', 1, 60_000);
    this.#client = client;
    this.#prefix = given.keyPrefix ?? 'ml:';
    this.#readyTimeoutMs = given.readyTimeoutMs ?? 500;
    this.#writeDeadlineMs = given.writeDeadlineMs ?? 800;
    this.#replicas = given.waitForReplicas ?? 0;
    // Budget counters live under other hash tags: one script may not touch them on a Cluster.
    if (isCluster(client)) this.redeemWithBudget = undefined;
    checkDeploymentWhenReady(client);
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
      this.#deadline(),
    );
    if (Number(saved) === -1) throw new StoreDeadlineError();
    return Number(saved) === 1;
  }

  async peek(key: TokenKey, now: number): Promise<TokenRecord | null> {
    const reply = (await this.#run('peek', this.keyOf(key), toBase36(now), this.#statePrefix(key.tag), checksOf(key))) as
      [string, string, string, string, number] | [];
    if (reply.length === 0) return null;
    const [sealed, emailKey, times, used, burnt] = reply;
    const usedAt = used ? fromBase36(used) : null;
    const [expiresAt, retainUntil] = fromTimes(times);
    // A burnt link stopped working when the email signed in elsewhere: it reads as expired now.
    return { sealed, emailKey, expiresAt: usedAt === null && burnt === 1 && now < expiresAt ? now : expiresAt, retainUntil, usedAt };
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
    if (counters.length >= BUDGETED.length) throw new TypeError(`redeemWithBudget takes at most ${BUDGETED.length - 1} counters`);
    const args = [
      toBase36(now),
      flag(burnOthers),
      this.#statePrefix(key.tag),
      checksOf(key),
      String(linkTtlMs),
      bindings.join(','),
      String(replayWindowMs),
      this.#deadline(),
      ...counters.flatMap((counter) => [String(counter.points), String(counter.windowMs), String(counter.blockMs)]),
    ];
    const reply = (await this.#runDurable(BUDGETED[counters.length]!, this.keyOf(key), ...counters.map((counter) => counter.key), ...args)) as [
      number,
      (string | number)?,
      (string | number)?,
      string?,
      number?,
    ];
    switch (reply[0]) {
      case 1: {
        const [expiresAt, retainUntil] = fromTimes(reply[3]!);
        const record = { sealed: String(reply[1]), emailKey: String(reply[2]), expiresAt, retainUntil, usedAt: now };
        return reply[4] === 1 ? { status: 'redeemed', record, replayed: true } : { status: 'redeemed', record };
      }
      case 2:
        return { status: 'already_used' };
      case 3:
        return { status: 'expired' };
      case 4:
        return { status: 'over_budget', counter: Number(reply[1]), msBeforeNext: Math.max(0, Number(reply[2])) };
      case 5:
        throw new StoreDeadlineError();
      default:
        return { status: 'not_found' };
    }
  }

  async exchange(email: EmailKey, codeDigest: string, { now, burnOthers, linkTtlMs, maxFailures }: ExchangeOptions): Promise<ExchangeResult> {
    const reply = Number(
      await this.#runDurable(
        'exchange',
        this.keyOf({ tag: email.tag, id: codeDigest }),
        this.#stateKey(email.tag, email.digest),
        toBase36(now),
        flag(burnOthers),
        String(maxFailures),
        email.digest,
        String(linkTtlMs),
        this.#deadline(),
      ),
    );
    if (reply === -1) throw new StoreDeadlineError();
    if (reply === 1) return { status: 'redeemed' };
    if (reply === 2) return { status: 'already_used' };
    return { status: 'not_found', wrong: reply === 0 };
  }

  async delete(key: TokenKey): Promise<void> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    await this.#client.del(this.keyOf(key));
  }

  /** The latest moment, on a synchronised clock, at which this call may still write. */
  #deadline(): string {
    return String(Date.now() + this.#writeDeadlineMs);
  }

  #statePrefix(tag: string): string {
    return `${this.#prefix}{${tag}}:e:`;
  }

  #stateKey(tag: string, emailKey: string): string {
    return `${this.#statePrefix(tag)}${emailKey}`;
  }

  /** A write that must reach `waitForReplicas` replicas before it counts: the script and WAIT in one round trip. */
  async #runDurable(command: keyof typeof COMMANDS, ...keysThenArgs: string[]): Promise<unknown> {
    if (this.#replicas === 0) return this.#run(command, ...keysThenArgs);
    await untilReady(this.#client, this.#readyTimeoutMs);
    const pipeline = this.#client.pipeline();
    (pipeline as unknown as Record<string, (...args: string[]) => unknown>)[COMMANDS[command][0]]!.apply(pipeline, keysThenArgs);
    const results = await pipeline.wait(this.#replicas, Math.max(1, Math.floor(this.#writeDeadlineMs / 2))).exec();
    const [scriptError, reply] = results?.[0] ?? [new Error('the pipeline was not run'), null];
    if (scriptError) throw scriptError;
    const acknowledged = Number(results?.[1]?.[1] ?? 0);
    if (acknowledged < this.#replicas) throw new ReplicaAckError(this.#replicas, acknowledged);
    return reply;
  }

  async #run(command: keyof typeof COMMANDS, ...keysThenArgs: string[]): Promise<unknown> {
    await untilReady(this.#client, this.#readyTimeoutMs);
    const run = (this.#client as unknown as Record<string, ScriptCommand>)[COMMANDS[command][0]]!;
    return run.apply(this.#client, keysThenArgs);
  }
}

/** The token's check and any former ones (rotation), as the scripts read them. */
function checksOf(key: TokenKey): string {
  return key.formerChecks && key.formerChecks.length > 0 ? [key.check, ...key.formerChecks].join(',') : key.check;
}
