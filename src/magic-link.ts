// The public entry object: one per app, holding the normalised config, the stores and the handler factories.
import type { Request, Response } from 'express';
import { createConfirmFormHandler, createConfirmPageHandler } from './confirm-page.js';
import { isRequestLike } from './error-handler.js';
import { createExchangeHandler } from './exchange.js';
import { normalizeOptions } from './options.js';
import { createRequestLinkHandler } from './request-link.js';
import { SignInService } from './sign-in-service.js';
import type { MagicLinkOptions, TokenStore } from './types.js';
import { createVerifyHandler } from './verify.js';

/** A request handler as the factories return it: named, so it shows up in stack traces and profiles. */
export type MagicLinkHandler = (req: Request, res: Response) => Promise<void>;

const services = new WeakMap<object, SignInService>();

/** The sign-in service behind a MagicLink; internal, not exported from the package. */
export function serviceOf(magicLink: MagicLink): SignInService {
  const service = services.get(magicLink);
  if (!service) throw new TypeError('Expected a `MagicLink` instance (`new MagicLink({ baseUrl, mailer })`).');
  return service;
}

function factoryOf(self: unknown, args: readonly unknown[], name: string): SignInService {
  if (isRequestLike(args[0]) || !services.has(self as object)) {
    throw new TypeError(
      `\`magicLink.${name}\` is a factory: mount what it returns, e.g. \`app.post(path, magicLink.${name}())\`, not \`magicLink.${name}\`.`,
    );
  }
  return services.get(self as object)!;
}

/**
 * Passwordless sign-in for one app:
 *
 * ```ts
 * const magicLink = new MagicLink({ baseUrl: 'https://app.example.com', mailer });
 * passport.use(new MagicLinkStrategy({ magicLink }, async (email) => findUser(email) ?? false));
 * app.post('/v1/auth/magic-link', magicLink.requestLinkHandler());
 * app.post('/v1/auth/verify', magicLink.verifyHandler());
 * app.post('/v1/auth/exchange', magicLink.exchangeHandler());
 * app.get('/auth/magic-link/confirm', magicLink.confirmPageHandler());
 * app.post('/auth/magic-link/confirm', magicLink.confirmFormHandler());
 * app.use(errorHandler());
 * ```
 *
 * Options are checked once, here; a mistake throws a TypeError naming the option and the fix.
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

  /** `POST {email, redirect?}` → 202, mails a link. Parses its own JSON body (64 KiB). */
  requestLinkHandler(...args: []): MagicLinkHandler {
    return createRequestLinkHandler(factoryOf(this, args, 'requestLinkHandler'));
  }

  /** `POST {token}` → 200 `{user}` and a signed-in session. Needs express-session and `passport.session()`. */
  verifyHandler(...args: []): MagicLinkHandler {
    return createVerifyHandler(factoryOf(this, args, 'verifyHandler'));
  }

  /** `POST {email, code}` → 200 `{user}` and a signed-in session: the mail's code, typed on another device. */
  exchangeHandler(...args: []): MagicLinkHandler {
    return createExchangeHandler(factoryOf(this, args, 'exchangeHandler'));
  }

  /** `GET ?token=` → the confirm page; consumes nothing. */
  confirmPageHandler(...args: []): MagicLinkHandler {
    return createConfirmPageHandler(factoryOf(this, args, 'confirmPageHandler'));
  }

  /** `POST token=` (the confirm page's form) → 303 to the link's redirect, signed in. */
  confirmFormHandler(...args: []): MagicLinkHandler {
    return createConfirmFormHandler(factoryOf(this, args, 'confirmFormHandler'));
  }
}
