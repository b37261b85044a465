// The public entry object: one per app, holding the normalised config, the sign-in service and the
// handler factories.
import type { NextFunction, Request, Response } from 'express';
import { normalizeOptions } from './config/options.js';
import { assertKnownKeys, describe, dropUndefined } from './config/checks.js';
import { attemptCookieOf, createAttemptCollectHandler, createAttemptStatusHandler } from './http/attempt.js';
import { createConfirmFormHandler, createConfirmPageHandler } from './http/confirm-page.js';
import { assertSameSite } from './http/cross-site.js';
import { isRequestLike } from './http/error-handler.js';
import { invalidEmail } from './http/body.js';
import { clientOf } from './http/client.js';
import { createRequestLinkHandler, parseLinkRequest, requestLinkFor } from './http/request-link.js';
import { createExchangeHandler, createVerifyHandler } from './http/verify.js';
import { normalizeEmail } from './sign-in/email.js';
import { MagicLinkError } from './errors.js';
import type { Client } from './sign-in/records.js';
import { SignInService } from './sign-in/service.js';
import type { TokenStore } from './stores/contract.js';
import type { AttemptStatus, LinkData, LinkIssued, LinkSent, MagicLinkOptions, RequestLinkHandlerOptions } from './types.js';

/** A request handler as the factories return it: named, so it shows up in stack traces and profiles. */
export type MagicLinkHandler = (req: Request, res: Response) => Promise<void>;

function requestLinkHandlerOptions(given: unknown): { sessionRequired: boolean } {
  const options = dropUndefined(given as RequestLinkHandlerOptions | undefined, 'requestLinkHandler');
  assertKnownKeys(options, ['sessionRequired'], 'requestLinkHandler');
  if (options.sessionRequired !== undefined && typeof options.sessionRequired !== 'boolean') {
    throw new TypeError(`\`requestLinkHandler\` option \`sessionRequired\` must be true or false; got ${describe(options.sessionRequired)}.`);
  }
  return { sessionRequired: options.sessionRequired ?? true };
}

const services = new WeakMap<object, SignInService>();

/** Who asks when no request does (a revoke from a job): no IP, a fixed request id. */
const SERVER: Client = { ip: null, requestId: 'server' };

/** The sign-in service behind a MagicLink; internal, not exported from the package. */
export function serviceOf(magicLink: MagicLink): SignInService {
  const service = services.get(magicLink);
  if (!service) throw new TypeError('Expected a `MagicLink` instance (`new MagicLink({ baseUrl, mailer })`).');
  return service;
}

function factoryOf(self: unknown, args: readonly unknown[], name: string): SignInService {
  if (isRequestLike(args[0]) || !services.has(self as object)) {
    throw new TypeError(`\`magicLink.${name}\` is a factory: mount what it returns, e.g. \`app.post(path, magicLink.${name}())\`, not \`magicLink.${name}\`.`);
  }
  return services.get(self as object)!;
}

/**
 * Passwordless sign-in for one app:
 *
 * ```ts
 * const magicLink = new MagicLink({ baseUrl: 'https://app.example.com', mailer, secret });
 * passport.use(new MagicLinkStrategy({ magicLink }, async (email) => findUser(email) ?? false));
 * app.post('/v1/auth/magic-link', magicLink.requestLinkHandler());
 * app.post('/v1/auth/verify', magicLink.verifyHandler());
 * app.post('/v1/auth/exchange', magicLink.exchangeHandler());
 * app.get('/auth/magic-link/confirm', magicLink.confirmPageHandler());
 * app.post('/auth/magic-link/confirm', magicLink.confirmFormHandler());
 * app.use(errorHandler());
 * ```
 *
 * Or mount the strategy on routes of your own: `passport.authenticate('magic-link', …)` runs the
 * same sign-in with the same budgets and events. Options are checked once, here; a mistake throws
 * a TypeError naming the option and the fix.
 */
export class MagicLink {
  constructor(options: MagicLinkOptions) {
    if (isRequestLike(options)) {
      throw new TypeError('`MagicLink` is a class: create it once with `new MagicLink({ baseUrl, mailer })` and mount its handlers.');
    }
    services.set(this, new SignInService(normalizeOptions(options)));
  }

  /** The token store in use (the memory store unless one was given). */
  get store(): TokenStore {
    return serviceOf(this).config.store;
  }

  /**
   * `POST {email, redirect?}` → 202, mails a link. Parses its own JSON body (64 KiB). Refuses without
   * a session while this MagicLink signs into sessions (a link that could sign no one in is not
   * mailed), unless `sessionRequired: false` says the app mounts express-session only on the routes
   * that sign in: a link request needs none, and is spared its cost (docs/performance.md).
   */
  requestLinkHandler(...args: [options?: RequestLinkHandlerOptions]): MagicLinkHandler {
    const service = factoryOf(this, args, 'requestLinkHandler');
    return createRequestLinkHandler(service, requestLinkHandlerOptions(args[0]));
  }

  /**
   * Sends a link from a route of your own (an HTML form, an invite, a sign-up step): the same checks,
   * limits, store and mailer as `requestLinkHandler()`, keyed by this request's client IP. Resolves
   * with the normalised address and the link's times; rejects with a `MagicLinkError` (render it with
   * `errorHandler()` or your own page). The cross-site check is yours: mount `crossSiteGuard()` first.
   *
   * `ttlSeconds` gives this link its own lifetime (60 s up to `maxTtlSeconds`); `data` is sealed with
   * the link and handed to the verify callback when the link is used (not when the code is).
   */
  requestLink(req: Request, fields: { email: string; redirect?: string; ttlSeconds?: number; data?: LinkData }): Promise<LinkSent> {
    const service = serviceOf(this);
    if (!isRequestLike(req)) return Promise.reject(new TypeError('`magicLink.requestLink(req, { email })` needs the Express request first.'));
    try {
      const { ttlSeconds, data, ...rest } = fields;
      return requestLinkFor(
        service,
        req,
        { ...rest },
        { ttlSeconds: checkTtl(ttlSeconds, service.config.maxTtlSeconds, 'requestLink'), data: checkData(data, 'requestLink') },
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Mints a link and its code on the server without mailing them (invites, admin tools, tests): the
   * same record, sealing, single use and outstanding-links policy as a mailed link, and the domain
   * policy. No request budget is taken — call it only from server code you trust, never with an
   * address a visitor typed in an unauthenticated route (that is what `requestLink` is for).
   */
  async issueLink(fields: { email: string; redirect?: string; ttlSeconds?: number; data?: LinkData }): Promise<LinkIssued> {
    const service = serviceOf(this);
    const { ttlSeconds, data, ...rest } = fields;
    const extras = { ttlSeconds: checkTtl(ttlSeconds, service.config.maxTtlSeconds, 'issueLink'), data: checkData(data, 'issueLink') };
    const { email, redirect } = parseLinkRequest({ ...rest }, service);
    const issued = await service.issueLink(email, redirect, extras);
    return { url: issued.url, code: issued.code, expiresAt: new Date(issued.expiresAt) };
  }

  /**
   * Burns every outstanding link and code of `email` at once, for every process sharing the store
   * (an account disabled, an address changed, "sign out everywhere"): they then read as
   * `magic_link_already_used` / `exchange_code_already_used`. Links requested afterwards work. Pass
   * the request that asked for it, if any, to attribute the `links_revoked` event.
   */
  async revoke(email: string, req?: Request): Promise<void> {
    const service = serviceOf(this);
    const checked = typeof email === 'string' ? normalizeEmail(email) : undefined;
    if (!checked?.ok) throw invalidEmail('invalid');
    await service.revoke(checked.email, req && isRequestLike(req) ? clientOf(req) : SERVER);
  }

  /** `POST {token}` → 200 `{user}` and a signed-in session. Needs express-session and `passport.session()`. */
  verifyHandler(...args: []): MagicLinkHandler {
    return createVerifyHandler(sessionSignIn(factoryOf(this, args, 'verifyHandler')));
  }

  /** `POST {email, code}` → 200 `{user}` and a signed-in session: the mail's code, typed on another device. */
  exchangeHandler(...args: []): MagicLinkHandler {
    return createExchangeHandler(sessionSignIn(factoryOf(this, args, 'exchangeHandler')));
  }

  /** `GET ?token=` → the confirm page; consumes nothing. */
  confirmPageHandler(...args: []): MagicLinkHandler {
    return createConfirmPageHandler(factoryOf(this, args, 'confirmPageHandler'));
  }

  /** `POST token=` (the confirm page's form) → 303 to the link's redirect, signed in. */
  confirmFormHandler(...args: []): MagicLinkHandler {
    return createConfirmFormHandler(sessionSignIn(factoryOf(this, args, 'confirmFormHandler')));
  }

  /**
   * With `crossDevice`: `GET` → 200 `{status, match}` for the asking browser's attempt (`pending`,
   * `approved`, `expired`, `collected`), with `Retry-After` while it waits. Mount at `GET /v1/auth/attempt`.
   */
  attemptStatusHandler(...args: []): MagicLinkHandler {
    return createAttemptStatusHandler(crossDevice(factoryOf(this, args, 'attemptStatusHandler'), 'attemptStatusHandler'));
  }

  /**
   * With `crossDevice`: `POST` → 200 `{user}`, the asking browser signed in (session regenerated),
   * once its attempt is approved on another device; 202 `{status: "pending"}` before. Only the
   * browser holding the attempt's cookie can collect, once, within 60 s of the approval. An HTML
   * form post is answered with a redirect. Mount at `POST /v1/auth/attempt`.
   */
  attemptCollectHandler(...args: []): MagicLinkHandler {
    return createAttemptCollectHandler(sessionSignIn(crossDevice(factoryOf(this, args, 'attemptCollectHandler'), 'attemptCollectHandler')));
  }

  /**
   * With `crossDevice`: this browser's attempt (from its cookie) for a page of your own, such as a
   * "check your email" page rendered on the server; null when it holds none. Counts against the
   * client's attempt budget like a poll.
   */
  async attempt(req: Request): Promise<AttemptStatus | null> {
    const service = serviceOf(this);
    if (!isRequestLike(req)) throw new TypeError('`magicLink.attempt(req)` needs the Express request.');
    const cookie = attemptCookieOf(service, req);
    if (!service.config.crossDevice || cookie === undefined) return null;
    try {
      return await service.attemptStatus(clientOf(req), cookie);
    } catch (error) {
      if (error instanceof MagicLinkError && error.code === 'magic_link_not_found') return null;
      throw error;
    }
  }

  /**
   * The handlers' login-CSRF check for a route of your own: refuses a cross-site POST
   * (`Sec-Fetch-Site: cross-site`, or an `Origin` other than `baseUrl`) with `cross_site_request`,
   * passed to `next()` for your error handler. `app.post('/login/email', magicLink.crossSiteGuard(), passport.authenticate('magic-link'))`.
   */
  crossSiteGuard(...args: []): (req: Request, res: Response, next: NextFunction) => void {
    const { config } = factoryOf(this, args, 'crossSiteGuard');
    return function crossSiteGuardMiddleware(req: Request, _res: Response, next: NextFunction): void {
      try {
        assertSameSite(req, config.baseUrl.origin, config.trustedOrigins);
        next();
      } catch (error) {
        next(error);
      }
    };
  }
}

const MAX_DATA_BYTES = 1024;

/** A per-request lifetime: a whole number of seconds from 60 up to `maxTtlSeconds`. */
function checkTtl(value: unknown, max: number, method: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 60 || value > max) {
    throw new TypeError(`\`magicLink.${method}\` option \`ttlSeconds\` must be a whole number from 60 to ${max} (\`maxTtlSeconds\`); got ${describe(value)}.`);
  }
  return value;
}

/** App data for one link: a flat object of strings, numbers, booleans and nulls, at most 1 KiB as JSON. */
function checkData(value: unknown, method: string): LinkData | undefined {
  if (value === undefined) return undefined;
  const flat =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)));
  if (!flat || Buffer.byteLength(JSON.stringify(value)) > MAX_DATA_BYTES) {
    throw new TypeError(
      `\`magicLink.${method}\` option \`data\` must be a flat object of strings, numbers, booleans and nulls, at most ${MAX_DATA_BYTES} bytes as JSON.`,
    );
  }
  return value as LinkData;
}

/** The attempt handlers need `crossDevice`: mounting one without it is a mistake worth a clear message. */
function crossDevice(service: SignInService, name: string): SignInService {
  if (!service.config.crossDevice) {
    throw new TypeError(`\`magicLink.${name}()\` serves cross-device approval: turn it on with \`new MagicLink({ crossDevice: true, … })\`.`);
  }
  return service;
}

/** A handler that signs into the session: from now on the MagicLink's link requests need a session too. */
function sessionSignIn(service: SignInService): SignInService {
  service.signsIntoSessions = true;
  return service;
}
