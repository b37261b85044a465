// The sign-in rules behind every way in: issue links, inspect them, and sign in by link or code
// with the budgets, the redeem, the counting of refusals and the events, all in one place. Of the
// request it knows only what the caller hands it (a client and a credential); the request object
// itself is passed through untouched to the app's mailer and verify callback.
import type { Request } from 'express';
import type { MagicLinkConfig } from '../config/options.js';
import { isLimitCode, MagicLinkError, type ErrorCode } from '../errors.js';
import { offersBudgetedRedeem, offersBudgetedSave } from '../stores/capabilities.js';
import type { AttemptKey, AttemptOptions, AttemptRecord, ExchangeResult, RedeemOptions, RedeemResult } from '../stores/contract.js';
import type { MagicLinkEventType, SignInDetails, VerifyCallback } from '../types.js';
import {
  attemptCookieValue,
  attemptStatusOf,
  decoyAttemptCookie,
  COLLECT_WINDOW_MS,
  matchInput,
  newAttempt,
  parseAttemptCookie,
  type AttemptStatusName,
  type NewAttempt,
} from './attempts.js';
import { clientIpKeys } from './client-ip.js';
import { withDeadline } from './deadline.js';
import { mailboxOf } from './email.js';
import { emitEvent, type EventFields } from './events.js';
import { Limits, memoryLimiter, unavailable, type ClientKeys, type Counter } from './limits.js';
import {
  openAttempt,
  openRecord,
  REDEEM_CODES,
  type Client,
  type Credential,
  type IssuedLink,
  type LinkContent,
  type LinkExtras,
  type LinkState,
  type SignInResult,
} from './records.js';
import { saveLink, type SaveRecord } from './issue.js';
import { askBeforeSend, assertDomainAllowed, gated, SendTime } from './policy.js';
import { emailKeyOf, isWellFormedCode, isWellFormedToken, Keyring, seal, tagOfEmailDigest } from './tokens.js';

/** A sign-in before the strategy handed over the app's user lookup: a fault of the setup, nothing spent. */
function noVerifyCallback(): SignInResult {
  const fix =
    'This `MagicLink` has no verify callback yet: create its strategy, `passport.use(new MagicLinkStrategy({ magicLink }, async (email) => findUser(email) ?? false))`, before the first sign-in. No link was spent.';
  return { kind: 'error', error: new MagicLinkError('internal_error', { cause: new Error(fix) }) };
}

/** How long the browser that redeemed a link may present it again and still end signed in. */
export const REPLAY_WINDOW_MS = 120_000;

/** Who asked for a link, when it may start a cross-device attempt: the kind of browser it is. */
export interface Asker {
  readonly from: string;
}

/** A started attempt, for the asking browser: its cookie's value and the number to show. */
export interface StartedAttempt {
  readonly cookie: string;
  readonly match: number;
}

/** What a collect came to: signed in (or refused, or a fault), or not approved yet. */
export type CollectResult = SignInResult | { readonly kind: 'pending' };

type Redeemed = { readonly ok: true; readonly content: LinkContent; readonly replayed: boolean } | { readonly ok: false; readonly code: ErrorCode };

export class SignInService {
  readonly config: MagicLinkConfig;
  readonly #limits: Limits;
  readonly #keyring: Keyring;
  #verify: VerifyCallback | undefined;
  /** Set once a handler that signs into the session is made: link requests then need a session too. */
  signsIntoSessions = false;
  readonly #sendTime = new SendTime();
  /** The counters live in the store (its own limiters): only then may its scripts take them. */
  readonly #budgetsInStore: boolean;

  constructor(config: MagicLinkConfig) {
    this.config = config;
    this.#keyring = new Keyring(config.secrets);
    const { store } = config;
    this.#budgetsInStore = typeof store.createLimiter === 'function';
    this.#limits = new Limits(config.limits, store.createLimiter?.bind(store) ?? memoryLimiter, store.inProcess ? null : config.storeTimeoutMs);
  }

  /** The app's user lookup, handed over by the strategy: the handlers and own routes share it. */
  useVerify(verify: VerifyCallback): void {
    if (this.#verify !== undefined && this.#verify !== verify) {
      throw new TypeError(
        'This `MagicLink` already has a verify callback from another `MagicLinkStrategy`: one MagicLink signs in through one callback. Create a second MagicLink for a second kind of user.',
      );
    }
    this.#verify = verify;
  }

  /** The client's limiter keys, as pseudonyms: no IP reaches the store or the events. */
  clientKeys(client: Client): ClientKeys {
    const { narrow, wide } = clientIpKeys(client.ip, this.config.ipv6SubnetBits, this.config.ipv6WideSubnetBits);
    return { narrow: this.#keyring.ipPseudonym(narrow), wide: wide === null ? null : this.#keyring.ipPseudonym(wide) };
  }

  /**
   * Takes the client's and the email's (and mailbox's) link budgets, stores the link and its code,
   * and mails them. A mail failure deletes both; the email's points come back only when the mailer
   * surely did not send (it rejected; a timeout may still deliver).
   */
  async requestLink(
    client: Client,
    email: string,
    redirect: string | null,
    request: Request,
    extras: LinkExtras = {},
    asker: Asker | null = null,
  ): Promise<IssuedLink & { attempt?: StartedAttempt }> {
    const { config } = this;
    assertDomainAllowed(config.domains, email);
    const digest = this.#keyring.emailDigest(email);
    // The per-email budget counts the mailbox (aliases folded) as the address it names: most
    // addresses are their own mailbox, and then the digest already made serves (one HMAC fewer).
    const mailbox = mailboxOf(email);
    const mailboxKey = emailKeyOf(mailbox === email ? digest : this.#keyring.emailDigest(mailbox));
    const counters = this.#limits.linkRequest(this.clientKeys(client), mailboxKey);
    this.#emit('link_requested', {}, client, digest);
    const { ttlSeconds, expiresAt, save, attempt } = this.#newLink(email, digest, redirect, extras, asker);
    const started = performance.now();
    const saved = config.beforeSend
      ? await gated(
          this.#limits,
          counters,
          () => askBeforeSend(config, request, email),
          save,
          (step) => this.#reportingLimits(client, digest, step),
        )
      : await this.#reportingLimits(client, digest, () => this.#saveUnder(counters, save));
    if (saved === null) {
      // Withheld by the app's hook: the same answer, after about as long as a sent link takes.
      await this.#sendTime.waitOut(started);
      this.#emit('link_withheld', {}, client, digest);
      // An attempt too, on no link: its poll reads pending, as a real one's does until approved.
      const decoy = attempt && { cookie: decoyAttemptCookie(attempt.secret), match: attempt.match };
      return { email, expiresAt, sentAt: config.now(), ttlSeconds, ...(decoy ? { attempt: decoy } : {}) };
    }

    const url = this.#urlOf(saved.token);
    const message = { to: email, url, code: saved.code, expiresAt: new Date(expiresAt), request };
    let timedOut = false;
    try {
      const sending = Promise.resolve().then(() => config.mailer.send(message));
      await withDeadline(sending, config.mailTimeoutMs, 'mailer', () => void (timedOut = true));
    } catch (error) {
      const emailCounters = counters.filter((counter) => counter.refusal === 'magic_link_email_limit_exceeded');
      await Promise.allSettled([this.#store(() => config.store.delete(saved.key)), timedOut ? undefined : this.#limits.give(emailCounters)]);
      this.#emit('mail_failed', { code: 'email_delivery_failed' }, client, digest);
      throw new MagicLinkError('email_delivery_failed', { cause: error });
    }
    this.#emit('link_sent', {}, client, digest);
    this.#sendTime.record(started);
    const made = attempt && { cookie: attemptCookieValue(saved.key.tag, saved.key.id, attempt.secret), match: attempt.match };
    return { email, expiresAt, sentAt: config.now(), ttlSeconds, ...(made ? { attempt: made } : {}) };
  }

  /**
   * A link minted on the server (`magicLink.issueLink`): the same record, sealing, single use and
   * outstanding-links policy as a mailed one, and the domain policy; no request budget, no mail.
   */
  async issueLink(email: string, redirect: string | null, extras: LinkExtras = {}): Promise<{ url: string; code: string; expiresAt: number }> {
    assertDomainAllowed(this.config.domains, email);
    const { expiresAt, save } = this.#newLink(email, this.#keyring.emailDigest(email), redirect, extras, null);
    const saved = await save();
    return { url: this.#urlOf(saved.token), code: saved.code, expiresAt };
  }

  /**
   * Burns every outstanding link and code of the address at once (`magicLink.revoke`), on the store
   * every process shares; they then read as used. `client` attributes the event (null: the server).
   */
  async revoke(email: string, client: Client): Promise<void> {
    const { store, maxTtlSeconds, now } = this.config;
    if (typeof store.revoke !== 'function') {
      throw new TypeError('This token store cannot revoke links (it has no `revoke` method): the memory, Redis and PostgreSQL stores can.');
    }
    const digest = this.#keyring.emailDigest(email);
    const emailKey = { tag: tagOfEmailDigest(digest), digest: emailKeyOf(digest) };
    await this.#store(() => store.revoke!(emailKey, { now: now(), linkTtlMs: maxTtlSeconds * 1000 }));
    this.#emit('links_revoked', {}, client, digest);
  }

  #newLink(email: string, digest: string, redirect: string | null, extras: LinkExtras, asker: Asker | null) {
    const issuedAt = this.config.now();
    const ttlSeconds = extras.ttlSeconds ?? this.config.ttlSeconds;
    const expiresAt = issuedAt + ttlSeconds * 1000;
    const data = extras.data === undefined ? undefined : JSON.stringify(extras.data);
    const attempt: NewAttempt | null = asker && this.config.crossDevice ? newAttempt() : null;
    // The link tells the approving device when and from what kind of browser it was asked; the
    // attempt opens, for the asking browser alone, to the address it signs in and its number.
    const sealed = { redirect, data, ...(attempt && asker ? { attempt: `${issuedAt}:${asker.from}` } : {}) };
    const attemptFields =
      attempt &&
      ((tag: string, id: string) => ({
        check: this.#keyring.browserDigest('attempt', attempt.secret),
        match: this.#keyring.browserDigest('match', matchInput(tag, id, attempt.match)),
        sealed: seal(attempt.secret, { email, redirect, data, attempt: String(attempt.match) }),
      }));
    const link = { email, digest, sealed, now: issuedAt, expiresAt, attempt: attemptFields ?? undefined };
    const save = (saveRecord?: SaveRecord) => this.#store(() => saveLink(this.config, this.#keyring, link, saveRecord));
    return { ttlSeconds, expiresAt, save, attempt };
  }

  #urlOf(token: string): string {
    return `${this.config.baseHref}${this.config.confirmPath}?token=${token}`;
  }

  /**
   * Reads a link's state without consuming it (the confirm page). An unknown token counts against
   * the client's failed-verify budget, so the page is no free oracle; a blocked client is refused.
   */
  inspect(client: Client, token: string): Promise<LinkState> {
    const counters = this.#limits.failedVerify(this.clientKeys(client));
    return this.#reportingLimits(client, null, () =>
      this.#limits.spend(
        counters,
        () => this.#peek(token),
        (state) => state.status !== 'not_found',
      ),
    );
  }

  /**
   * One sign-in attempt, whatever route it came through: the budget chosen by the credential, the
   * atomic redeem or exchange, the counting of refusals, the user lookup and the events. Exactly one
   * outcome: a success, a refusal (`fail`, a MagicLinkError with its status) or a fault (`error`).
   * `retrySecrets` name who sent the redeem (the confirm form's browser, an API client's Idempotency-Key): the
   * same sender may replay its own redeem for a short while.
   */
  async signIn(client: Client, credential: Credential, request: Request, retrySecrets?: readonly string[]): Promise<SignInResult> {
    const verify = this.#verify;
    if (verify === undefined) return noVerifyCallback();
    const via = 'code' in credential ? 'code' : 'link';
    const knownDigest = 'code' in credential ? this.#keyring.emailDigest(credential.email) : null;
    let redeemed: Redeemed;
    try {
      redeemed =
        'code' in credential
          ? await this.#exchange(client, credential.email, credential.code, knownDigest!)
          : await this.#redeem(client, credential.token, retrySecrets);
    } catch (error) {
      const failure = error instanceof MagicLinkError ? error : unavailable(error);
      return failure.status >= 500 ? { kind: 'error', error: failure } : this.#refuse(client, via, failure, knownDigest);
    }
    if (!redeemed.ok) return this.#refuse(client, via, new MagicLinkError(redeemed.code), knownDigest);
    const { content, replayed } = redeemed;
    let user: Express.User | false | null | undefined;
    try {
      user = await verify(content.email, request, { via, data: content.data } satisfies SignInDetails);
    } catch (error) {
      return { kind: 'error', error: error instanceof Error ? error : new Error(String(error)) };
    }
    if (!user) return this.#refuse(client, via, new MagicLinkError('account_not_found'), content.emailDigest);
    this.#emit(via === 'code' ? 'code_redeemed' : 'link_redeemed', {}, client, content.emailDigest);
    return { kind: 'success', user, info: { method: via, redirect: content.redirect, emailDigest: content.emailDigest, replayed } };
  }

  /** Whether the attempt cookie this browser holds is the one that asked for the link `token` opens. */
  isAskingBrowser(token: string, attemptCheck: string, cookie: string | undefined): boolean {
    const parts = parseAttemptCookie(cookie);
    return parts !== null && token.startsWith(parts.tag + parts.id) && this.#keyring.browserDigest('attempt', parts.secret) === attemptCheck;
  }

  /**
   * The approving device's answer for a link's cross-device attempt: `typed` the number the person
   * typed (null: "Not me"). A right number approves (the link is used, nobody signed in here); a
   * wrong one or none burns link and attempt. A wrong number costs a point of the address's
   * wrong-code budgets, as a wrong code does, and a spent budget refuses even a right number.
   */
  async approve(client: Client, token: string, typed: number | null): Promise<'approved' | 'denied'> {
    const state = await this.inspect(client, token);
    if (state.status !== 'valid') throw new MagicLinkError(REDEEM_CODES[state.status]);
    if (state.attemptCheck === null) throw new MagicLinkError('magic_link_not_found');
    const { config } = this;
    const key = this.#keyring.tokenKey(token);
    const digest = state.content.emailDigest;
    const counters = typed === null ? [] : this.#limits.failedExchange(this.clientKeys(client), digest);
    const options = {
      now: config.now(),
      burnOthers: config.burnOtherLinksOnSignIn,
      linkTtlMs: config.maxTtlSeconds * 1000,
      match: typed === null ? null : this.#keyring.browserDigest('match', matchInput(key.tag, key.id, typed)),
    };
    const result = await this.#reportingLimits(client, digest, () =>
      this.#limits.spend(
        counters,
        () => this.#store(() => config.store.approve!(key, options)),
        (outcome) => outcome.status !== 'denied',
      ),
    );
    if (result.status === 'approved') {
      this.#emit('attempt_approved', {}, client, digest);
      return 'approved';
    }
    if (result.status === 'denied') {
      this.#emit('attempt_denied', { reason: typed === null ? 'not_me' : 'wrong_number' }, client, digest);
      return 'denied';
    }
    throw new MagicLinkError(REDEEM_CODES[result.status]);
  }

  /**
   * The asking browser's attempt as it reads now, with its number while pending. A well-formed
   * cookie naming no attempt reads as pending: a withheld link (\`beforeSend\`) must look sent.
   */
  async attemptStatus(client: Client, cookie: string | undefined): Promise<{ status: AttemptStatusName; match: number | null }> {
    const parts = parseAttemptCookie(cookie);
    if (parts === null) throw new MagicLinkError('magic_link_not_found');
    const record = await this.#attempt(client, parts, 'read');
    if (record === null) return { status: 'pending', match: null };
    const status = attemptStatusOf(record, this.config.now());
    return { status, match: status === 'pending' ? (openAttempt(parts.secret, record.sealed)?.match ?? null) : null };
  }

  /**
   * Collects an approved attempt for the asking browser, exactly once: the user as the verify
   * callback finds them, to sign into this browser's session (a fault afterwards: `release`).
   */
  async collect(client: Client, cookie: string | undefined, request: Request): Promise<CollectResult> {
    const verify = this.#verify;
    if (verify === undefined) return noVerifyCallback();
    const parts = parseAttemptCookie(cookie);
    const fail = (code: ErrorCode): SignInResult => this.#refuse(client, 'link', new MagicLinkError(code), null);
    if (parts === null) return fail('magic_link_not_found');
    let record: AttemptRecord | null;
    try {
      record = await this.#attempt(client, parts, 'collect');
    } catch (error) {
      const failure = error instanceof MagicLinkError ? error : unavailable(error);
      return failure.status >= 500 ? { kind: 'error', error: failure } : this.#refuse(client, 'link', failure, null);
    }
    if (record === null) return { kind: 'pending' };
    if (!record.taken) {
      const status = attemptStatusOf(record, this.config.now());
      if (status === 'pending') return { kind: 'pending' };
      return fail(status === 'collected' || status === 'approved' ? 'magic_link_already_used' : 'magic_link_expired');
    }
    const opened = openAttempt(parts.secret, record.sealed);
    if (opened === null) return fail('magic_link_not_found');
    const digest = this.#keyring.emailDigest(opened.email);
    let user: Express.User | false | null | undefined;
    try {
      user = await verify(opened.email, request, { via: 'link', data: opened.data } satisfies SignInDetails);
    } catch (error) {
      await this.release(cookie).catch(() => undefined);
      return { kind: 'error', error: error instanceof Error ? error : new Error(String(error)) };
    }
    if (!user) return this.#refuse(client, 'link', new MagicLinkError('account_not_found'), digest);
    this.#emit('attempt_collected', {}, client, digest);
    return { kind: 'success', user, info: { method: 'link', redirect: opened.redirect, emailDigest: digest, replayed: false } };
  }

  /** A collected attempt whose session could not be saved: collectable again, so the person is not stranded. */
  async release(cookie: string | undefined): Promise<void> {
    const parts = parseAttemptCookie(cookie);
    if (parts === null) return;
    const key = this.#attemptKey(parts);
    await this.#store(() => this.config.store.attempt!(key, { now: this.config.now(), step: 'release', collectWindowMs: COLLECT_WINDOW_MS }));
  }

  /** The store's key of the attempt a cookie names: its link's tag and id, and the digest of its secret. */
  #attemptKey(parts: { tag: string; id: string; secret: string }): AttemptKey {
    return { tag: parts.tag, id: parts.id, check: this.#keyring.browserDigest('attempt', parts.secret) };
  }

  /** One poll or collect, on the client's attempt budget (every call costs a point). */
  #attempt(client: Client, parts: { tag: string; id: string; secret: string }, step: AttemptOptions['step']): Promise<AttemptRecord | null> {
    const { config } = this;
    const key = this.#attemptKey(parts);
    const counters = this.#limits.attemptCheck(this.clientKeys(client));
    return this.#reportingLimits(client, null, () =>
      this.#limits.spend(
        counters,
        () => this.#store(() => config.store.attempt!(key, { now: config.now(), step, collectWindowMs: COLLECT_WINDOW_MS })),
        () => false,
      ),
    );
  }

  /** The keyed digest of a browser secret, for the confirm form's nonce and its redeem binding. */
  browserDigest(purpose: 'nonce' | 'binding', secret: string): string {
    return this.#keyring.browserDigest(purpose, secret);
  }

  async #redeem(client: Client, token: string, retrySecrets: readonly string[] | undefined): Promise<Redeemed> {
    const { config } = this;
    const { store } = config;
    const counters = this.#limits.failedVerify(this.clientKeys(client));
    const key = isWellFormedToken(token) ? this.#keyring.tokenKey(token) : null;
    const options: RedeemOptions = {
      now: config.now(),
      burnOthers: config.burnOtherLinksOnSignIn,
      linkTtlMs: config.maxTtlSeconds * 1000,
      ...(retrySecrets?.length
        ? { bindings: retrySecrets.map((secret) => this.#keyring.browserDigest('binding', secret)), replayWindowMs: REPLAY_WINDOW_MS }
        : {}),
    };
    let result: RedeemResult;
    if (key && this.#budgetsInStore && offersBudgetedRedeem(store)) {
      // One round trip: the store checks the budgets and redeems atomically; a failed redeem costs a point.
      const budgeted = await this.#store(() => store.redeemWithBudget(key, options, this.#limits.inStore(counters)));
      if (budgeted.status === 'over_budget') throw this.#limits.refusal(counters[budgeted.counter]!, budgeted.msBeforeNext);
      result = budgeted;
    } else {
      const redeem = (): Promise<RedeemResult> => (key ? this.#store(() => store.redeem(key, options)) : Promise.resolve({ status: 'not_found' }));
      result = await this.#limits.spend(counters, redeem, (outcome) => outcome.status === 'redeemed');
    }
    if (result.status !== 'redeemed') return { ok: false, code: REDEEM_CODES[result.status] };
    const content = openRecord((email) => this.#keyring.emailDigest(email), token, result.record);
    return content ? { ok: true, content, replayed: result.replayed === true } : { ok: false, code: 'magic_link_not_found' };
  }

  async #exchange(client: Client, email: string, code: string, digest: string): Promise<Redeemed> {
    const counters: Counter[] = this.#limits.failedExchange(this.clientKeys(client), digest);
    // A malformed code cannot match; it is still a wrong try, counted like any other.
    const exchange = (): Promise<ExchangeResult> =>
      isWellFormedCode(code) ? this.#exchangeUnderEachSecret(email, code) : Promise.resolve({ status: 'not_found', wrong: true });
    const result = await this.#limits.spend(counters, exchange, (outcome) => outcome.status !== 'not_found');
    if (result.status === 'redeemed') return { ok: true, content: { email, emailDigest: digest, redirect: null }, replayed: false };
    return { ok: false, code: result.status === 'already_used' ? 'exchange_code_already_used' : 'exchange_code_not_found' };
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
    return { status, content, expiresAt: record.expiresAt, attemptCheck: record.attempt?.check ?? null };
  }

  /** A refusal, reported as its event: a spent budget as `limit_exceeded`, anything else as rejected. */
  #refuse(client: Client, via: 'link' | 'code', error: MagicLinkError, digest: string | null): SignInResult {
    if (isLimitCode(error.code)) this.#emit('limit_exceeded', { code: error.code }, client, digest);
    else this.#emit(via === 'code' ? 'code_rejected' : 'link_rejected', { code: error.code }, client, digest);
    return { kind: 'fail', error };
  }

  /** Runs a budgeted step, reporting a spent budget as `limit_exceeded` before passing it on. */
  /**
   * Saves a link under the link request's budgets: in the save itself when the store keeps the
   * counters and can (one round trip), else taken first and given back if the save fails.
   */
  #saveUnder<T>(counters: readonly Counter[], save: (saveRecord?: SaveRecord) => Promise<T>): Promise<T> {
    const { store } = this.config;
    if (!this.#budgetsInStore || !offersBudgetedSave(store)) return this.#limits.spend(counters, save, () => false);
    return save(async (key, record, options) => {
      const result = await store.saveWithBudget(key, record, options, this.#limits.inStore(counters));
      if (typeof result === 'boolean') return result;
      throw this.#limits.refusal(counters[result.counter]!, result.msBeforeNext);
    });
  }

  async #reportingLimits<T>(client: Client, digest: string | null, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof MagicLinkError && isLimitCode(error.code)) this.#emit('limit_exceeded', { code: error.code }, client, digest);
      throw error;
    }
  }

  /** Reports a sign-in event after the answer; never blocks or fails the request. */
  #emit<T extends MagicLinkEventType>(type: T, fields: EventFields<T>, client: Client, emailDigest: string | null): void {
    const { onEvent } = this.config;
    if (!onEvent) return;
    emitEvent(onEvent, type, fields, { requestId: client.requestId, emailDigest, ipKey: this.clientKeys(client).narrow }, this.config.now());
  }

  // A thunk, so a store that throws synchronously is handled like one that rejects. An in-process
  // store cannot hang, so it skips the deadline's timer.
  async #store<T>(call: () => Promise<T>): Promise<T> {
    try {
      if (this.config.store.inProcess) return await call();
      return await withDeadline(new Promise<T>((resolve) => resolve(call())), this.config.storeTimeoutMs, 'token store');
    } catch (error) {
      throw error instanceof MagicLinkError ? error : unavailable(error);
    }
  }
}
