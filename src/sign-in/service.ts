// The sign-in rules behind every way in: issue links, inspect them, and sign in by link or code
// with the budgets, the redeem, the counting of refusals and the events, all in one place. Knows
// nothing of Express: callers hand it a client (address and request id) and a credential.
import type { Request } from 'express';
import type { MagicLinkConfig } from '../config/options.js';
import { MagicLinkError, type ErrorCode } from '../errors.js';
import type { ExchangeResult, RedeemOptions, RedeemResult, TokenKey, TokenRecord } from '../stores/contract.js';
import type { LinkData, SignInDetails } from '../types.js';
import { clientIpKeys } from './client-ip.js';
import { withDeadline } from './deadline.js';
import { mailboxOf } from './email.js';
import { emitEvent, type EventDetails } from './events.js';
import { isLimitCode, Limits, unavailable, type ClientKeys } from './limits.js';
import { emailKeyOf, isWellFormedCode, Keyring, isWellFormedToken, newCode, newToken, seal, tagOfEmailDigest, unseal } from './tokens.js';

/** Who is asking: a validated address (or null) and the request's id. Nothing else of the request. */
export interface Client {
  readonly ip: string | null;
  readonly requestId: string;
}

/** `{token}` from a link, or `{email, code}` from the mail (the email already canonical). */
export type Credential = { readonly token: string } | { readonly email: string; readonly code: string };

/** What `success` passes on as `info`: how, where the link asked to go, and whose email it was (as a digest). */
export interface MagicLinkAuthInfo {
  /** `link` for a token, `code` for an exchange code. */
  readonly method: 'link' | 'code';
  /** The link's stored redirect; null for codes and for links without one. */
  readonly redirect: string | null;
  /** The keyed digest of the email (as in events), never the address. */
  readonly emailDigest: string;
  /** True when the same browser presented an already-redeemed link again within the grace window. */
  readonly replayed: boolean;
}

export type SignInResult =
  | { readonly kind: 'success'; readonly user: Express.User; readonly info: MagicLinkAuthInfo }
  | { readonly kind: 'fail'; readonly error: MagicLinkError }
  | { readonly kind: 'error'; readonly error: Error };

/** Finds the app's user for a redeemed email: the strategy's verify callback, bound to its request. */
export type UserLookup = (email: string, details: SignInDetails) => Promise<Express.User | false | null | undefined>;

export interface IssuedLink {
  readonly email: string;
  readonly expiresAt: number;
  readonly sentAt: number;
  readonly ttlSeconds: number;
}

/** What a token opens to: the canonical email, its digest and the stored redirect. */
export interface LinkContent {
  readonly email: string;
  readonly emailDigest: string;
  readonly redirect: string | null;
  /** The app's data sealed with the link (`magicLink.requestLink(req, { data })`); a code cannot open it. */
  readonly data?: LinkData | undefined;
}

/** What one link request may carry beyond the address: its own lifetime, and app data. */
export interface LinkExtras {
  readonly ttlSeconds?: number | undefined;
  readonly data?: LinkData | undefined;
}

export type LinkState =
  { readonly status: 'valid' | 'already_used' | 'expired'; readonly content: LinkContent; readonly expiresAt: number } | { readonly status: 'not_found' };

export const REDEEM_CODES = {
  not_found: 'magic_link_not_found',
  expired: 'magic_link_expired',
  already_used: 'magic_link_already_used',
} as const;

/** How long the browser that redeemed a link may present it again and still end signed in. */
export const REPLAY_WINDOW_MS = 120_000;

/**
 * Fresh codes tried before giving up on a save. An address holding n records refuses a code with
 * probability n / 1,000,000: with the default per-address limit that is a few in ten thousand, and
 * even 100,000 records for one address (limits lifted) fail ten draws in a row once in 10^10.
 */
const SAVE_ATTEMPTS = 10;

type Refusal = { readonly ok: false; readonly error: MagicLinkError };
type Redeemed = { readonly ok: true; readonly content: LinkContent; readonly replayed: boolean };

export class SignInService {
  readonly config: MagicLinkConfig;
  readonly #limits: Limits;
  readonly #keyring: Keyring;

  constructor(config: MagicLinkConfig) {
    this.config = config;
    this.#keyring = new Keyring(config.secrets);
    this.#limits = new Limits(config.limits, config.keyPrefix, config.redis, config.storeTimeoutMs);
  }

  /** The client's limiter keys, as pseudonyms: no IP reaches the store or the events. */
  clientKeys(client: Client): ClientKeys {
    const { narrow, wide } = clientIpKeys(client.ip, this.config.ipv6SubnetBits, this.config.ipv6WideSubnetBits);
    return { narrow: this.#keyring.ipPseudonym(narrow), wide: wide === null ? null : this.#keyring.ipPseudonym(wide) };
  }

  /** Reports a sign-in event after the answer; never blocks or fails the request. */
  emit(client: Client, details: DistributiveEvent, emailDigestValue: string | null): void {
    if (!this.config.onEvent) return;
    const event = { ...details, requestId: client.requestId, emailDigest: emailDigestValue, ipKey: this.clientKeys(client).narrow } as EventDetails;
    emitEvent(this.config.onEvent, event, this.config.now());
  }

  /**
   * Takes the client's and the email's (and mailbox's) link budgets, stores the link and its code,
   * and mails them. A mail failure deletes both; the email's points come back only when the mailer
   * surely did not send (it rejected; a timeout may still deliver).
   */
  async requestLink(client: Client, email: string, redirect: string | null, request: Request, extras: LinkExtras = {}): Promise<IssuedLink> {
    const { config } = this;
    const digest = this.#keyring.emailDigest(email);
    const counters = this.#limits.linkRequest(this.clientKeys(client), this.#keyring.mailboxDigest(mailboxOf(email)));
    this.emit(client, { type: 'link_requested' }, digest);
    await this.#guard(client, digest, 'redeem_rejected', () => this.#limits.take(counters));

    const issuedAt = config.now();
    const ttlSeconds = extras.ttlSeconds ?? config.ttlSeconds;
    const expiresAt = issuedAt + ttlSeconds * 1000;
    const data = extras.data === undefined ? undefined : JSON.stringify(extras.data);
    let saved: { token: string; code: string; key: TokenKey };
    try {
      saved = await this.#store(() => this.#saveLink(email, digest, { redirect, data }, issuedAt, expiresAt));
    } catch (error) {
      await this.#limits.give(counters);
      throw error;
    }

    const url = `${config.baseHref}${config.confirmPath}?token=${saved.token}`;
    const message = { to: email, url, code: saved.code, expiresAt: new Date(expiresAt), request };
    let timedOut = false;
    try {
      await withDeadline(
        Promise.resolve().then(() => config.mailer.send(message)),
        config.mailTimeoutMs,
        'mailer',
        () => void (timedOut = true),
      );
    } catch (error) {
      const emailCounters = counters.filter((counter) => counter.refusal === 'magic_link_email_limit_exceeded');
      await Promise.allSettled([this.#store(() => config.store.delete(saved.key)), timedOut ? undefined : this.#limits.give(emailCounters)]);
      this.emit(client, { type: 'mail_failed', code: 'email_delivery_failed' }, digest);
      throw new MagicLinkError('email_delivery_failed', { cause: error });
    }
    this.emit(client, { type: 'link_sent' }, digest);
    return { email, expiresAt, sentAt: config.now(), ttlSeconds };
  }

  /**
   * Reads a link's state without consuming it (the confirm page). An unknown token counts against
   * the client's failed-verify budget, so the page is no free oracle; a blocked client is refused.
   */
  async inspect(client: Client, token: string): Promise<LinkState> {
    const counters = this.#limits.failedVerify(this.clientKeys(client));
    await this.#guard(client, null, 'redeem_rejected', () => this.#limits.take(counters));
    let state: LinkState;
    try {
      state = await this.#peek(token);
    } catch (error) {
      await this.#limits.give(counters);
      throw error;
    }
    if (state.status !== 'not_found') await this.#limits.give(counters);
    return state;
  }

  /**
   * One sign-in attempt, whatever route it came through: the budget chosen by the credential, the
   * atomic redeem or exchange, the counting of refusals, the user lookup and the events. Exactly one
   * outcome: a success, a refusal (`fail`, a MagicLinkError with its status) or a fault (`error`).
   * `browserSecrets` name the browser (the confirm form): it may replay its own redeem for a short while.
   */
  async signIn(client: Client, credential: Credential, lookup: UserLookup, browserSecrets?: readonly string[]): Promise<SignInResult> {
    const byCode = 'code' in credential;
    const knownDigest = byCode ? this.#keyring.emailDigest(credential.email) : null;
    const rejected = byCode ? 'code_rejected' : 'redeem_rejected';
    let redeemed: Redeemed | Refusal;
    try {
      redeemed = byCode
        ? await this.#exchange(client, credential.email, credential.code, knownDigest!)
        : await this.#redeem(client, credential.token, browserSecrets);
    } catch (error) {
      const failure = error instanceof MagicLinkError ? error : unavailable(error);
      if (failure.status >= 500) return { kind: 'error', error: failure };
      this.#reportRefusal(client, failure, rejected, knownDigest);
      return { kind: 'fail', error: failure };
    }
    if (!redeemed.ok) {
      this.#reportRefusal(client, redeemed.error, rejected, knownDigest);
      return { kind: 'fail', error: redeemed.error };
    }
    const { content, replayed } = redeemed;
    let user: Express.User | false | null | undefined;
    try {
      user = await lookup(content.email, { via: byCode ? 'code' : 'link', data: content.data });
    } catch (error) {
      return { kind: 'error', error: error instanceof Error ? error : new Error(String(error)) };
    }
    if (!user) {
      const error = new MagicLinkError('account_not_found');
      this.#reportRefusal(client, error, rejected, content.emailDigest);
      return { kind: 'fail', error };
    }
    this.emit(client, { type: byCode ? 'code_redeemed' : 'link_redeemed' }, content.emailDigest);
    return { kind: 'success', user, info: { method: byCode ? 'code' : 'link', redirect: content.redirect, emailDigest: content.emailDigest, replayed } };
  }

  /** The keyed digest of a browser secret, for the confirm form's nonce and its redeem binding. */
  browserDigest(purpose: 'nonce' | 'binding', secret: string): string {
    return this.#keyring.browserDigest(purpose, secret);
  }

  async #redeem(client: Client, token: string, browserSecrets: readonly string[] | undefined): Promise<Redeemed | Refusal> {
    const { config } = this;
    const counters = this.#limits.failedVerify(this.clientKeys(client));
    const wellFormed = isWellFormedToken(token);
    const key = wellFormed ? this.#keyring.tokenKey(token) : null;
    const options: RedeemOptions = {
      now: config.now(),
      burnOthers: config.burnOtherLinksOnSignIn,
      linkTtlMs: config.maxTtlSeconds * 1000,
      ...(browserSecrets?.length
        ? { bindings: browserSecrets.map((secret) => this.#keyring.browserDigest('binding', secret)), replayWindowMs: REPLAY_WINDOW_MS }
        : {}),
    };
    const { store } = config;
    let result: RedeemResult;
    if (key && config.limitsInStore && typeof store.redeemWithBudget === 'function') {
      // One round trip: the store takes the points, redeems and gives them back on success, atomically.
      const budgeted = await this.#store(() => store.redeemWithBudget!(key, options, this.#limits.inStore(counters)));
      if (budgeted.status === 'over_budget') throw this.#limits.refusal(counters[budgeted.counter]!, budgeted.msBeforeNext);
      result = budgeted;
    } else {
      await this.#limits.take(counters);
      try {
        result = key ? await this.#store(() => store.redeem(key, options)) : { status: 'not_found' };
      } catch (error) {
        await this.#limits.give(counters);
        throw error;
      }
      if (result.status === 'redeemed') await this.#limits.give(counters);
    }
    if (result.status !== 'redeemed') return refused(REDEEM_CODES[result.status]);
    const content = openRecord((email) => this.#keyring.emailDigest(email), token, result.record);
    return content ? { ok: true, content, replayed: result.replayed === true } : refused('magic_link_not_found');
  }

  async #exchange(client: Client, email: string, code: string, digest: string): Promise<Redeemed | Refusal> {
    const counters = this.#limits.failedExchange(this.clientKeys(client), digest);
    await this.#limits.take(counters);
    let result: ExchangeResult;
    try {
      // A malformed code cannot match; it is still a wrong try, counted like any other.
      result = isWellFormedCode(code) ? await this.#exchangeUnderEachSecret(email, code) : { status: 'not_found', wrong: true };
    } catch (error) {
      await this.#limits.give(counters);
      throw error;
    }
    if (result.status !== 'not_found') await this.#limits.give(counters);
    if (result.status === 'redeemed') return { ok: true, content: { email, emailDigest: digest, redirect: null }, replayed: false };
    return refused(result.status === 'already_used' ? 'exchange_code_already_used' : 'exchange_code_not_found');
  }

  /** While secrets rotate, a code may belong to a link issued under a former secret: try each in turn. */
  async #exchangeUnderEachSecret(email: string, code: string): Promise<ExchangeResult> {
    const { config } = this;
    const options = { now: config.now(), burnOthers: config.burnOtherLinksOnSignIn, linkTtlMs: config.maxTtlSeconds * 1000, maxFailures: config.codeAttempts };
    let result: ExchangeResult = { status: 'not_found', wrong: true };
    for (let index = 0; index < this.#keyring.size; index++) {
      const digest = this.#keyring.emailDigest(email, index);
      const emailKey = { tag: tagOfEmailDigest(digest), digest: emailKeyOf(digest) };
      const codeDigest = this.#keyring.codeDigest(digest, code, index);
      result = await this.#store(() => config.store.exchange(emailKey, codeDigest, options));
      if (result.status !== 'not_found' || !result.wrong) return result;
    }
    return result;
  }

  async #peek(token: string): Promise<LinkState> {
    if (!isWellFormedToken(token)) return { status: 'not_found' };
    const { config } = this;
    const now = config.now();
    const key = this.#keyring.tokenKey(token);
    const record = await this.#store(() => config.store.peek(key, now));
    const content = record && openRecord((email) => this.#keyring.emailDigest(email), token, record);
    if (!record || !content) return { status: 'not_found' };
    const status = record.usedAt !== null ? 'already_used' : now >= record.expiresAt ? 'expired' : 'valid';
    return { status, content, expiresAt: record.expiresAt };
  }

  /** Runs a budget check, reporting a refusal as `limit_exceeded` before passing it on. */
  async #guard(client: Client, digest: string | null, rejection: 'redeem_rejected' | 'code_rejected', check: () => Promise<void>): Promise<void> {
    try {
      await check();
    } catch (error) {
      if (error instanceof MagicLinkError) this.#reportRefusal(client, error, rejection, digest);
      throw error;
    }
  }

  #reportRefusal(client: Client, error: MagicLinkError, rejection: 'redeem_rejected' | 'code_rejected', digest: string | null): void {
    if (isLimitCode(error.code)) this.emit(client, { type: 'limit_exceeded', code: error.code }, digest);
    else if (error.status < 500)
      this.emit(client, rejection === 'redeem_rejected' ? { type: rejection, code: error.code } : { type: rejection, code: error.code }, digest);
  }

  /**
   * Draws a code and stores the link under its digest. The email may already hold a record with
   * that digest (one chance in a million per record it holds); the store then refuses and we draw again.
   */
  async #saveLink(
    email: string,
    digest: string,
    sealed: { redirect: string | null; data: string | undefined },
    now: number,
    expiresAt: number,
  ): Promise<{ token: string; code: string; key: TokenKey }> {
    const { config } = this;
    const tag = tagOfEmailDigest(digest);
    for (let attempt = 1; ; attempt++) {
      const code = newCode();
      const token = newToken(tag, this.#keyring.codeDigest(digest, code));
      const key = this.#keyring.tokenKey(token);
      const record: TokenRecord = {
        sealed: seal(token, { email, ...sealed }),
        emailKey: emailKeyOf(digest),
        expiresAt,
        retainUntil: expiresAt + config.retentionSeconds * 1000,
        usedAt: null,
      };
      if (await config.store.save(key, record, { now, revokeOthers: config.revokeEarlierLinks })) return { token, code, key };
      if (attempt === SAVE_ATTEMPTS) throw new Error(`the token store refused ${SAVE_ATTEMPTS} fresh codes in a row`);
    }
  }

  // A thunk, so a store that throws synchronously is handled like one that rejects. An in-process
  // store cannot hang, so it skips the deadline's timer.
  async #store<T>(call: () => Promise<T>): Promise<T> {
    try {
      if (this.config.storeIsInProcess) return await call();
      return await withDeadline(new Promise<T>((resolve) => resolve(call())), this.config.storeTimeoutMs, 'token store');
    } catch (error) {
      throw error instanceof MagicLinkError ? error : unavailable(error);
    }
  }
}

type DistributiveEvent = EventDetails extends infer E ? (E extends unknown ? Omit<E, 'requestId' | 'emailDigest' | 'ipKey'> : never) : never;

function refused(code: ErrorCode): Refusal {
  return { ok: false, error: new MagicLinkError(code) };
}

function openRecord(digestOf: (email: string) => string, token: string, record: TokenRecord): LinkContent | null {
  const content = unseal(token, record.sealed);
  return content && { email: content.email, emailDigest: digestOf(content.email), redirect: content.redirect, data: parseData(content.data) };
}

/** Sealed data is ours (written by `requestLink`), so it parses; anything else reads as none. */
function parseData(json: string | undefined): LinkData | undefined {
  if (json === undefined) return undefined;
  try {
    const data: unknown = JSON.parse(json);
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as LinkData) : undefined;
  } catch {
    return undefined;
  }
}
