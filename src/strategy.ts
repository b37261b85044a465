// The Passport strategy: reads a credential and hands it to the one sign-in service, which holds
// every rule (budgets, redeem, counting, events). Mounted on an app's own route or used by the
// package's handlers, it is the same sign-in.
import type { Request } from 'express';
import { Strategy } from 'passport-strategy';
import { describe } from './config/checks.js';
import { MagicLinkError } from './errors.js';
import { readAnyBody } from './http/body.js';
import { clientOf } from './http/client.js';
import { readCredential } from './http/credentials.js';
import { HANDLER_OPTIONS, hasSession, missingSession, type HandlerOptions } from './http/passport-sign-in.js';
import { rememberRefusal } from './http/refusals.js';
import { toMagicLinkError } from './http/respond.js';
import { serviceOf, type MagicLink } from './magic-link.js';
import type { SignInResult } from './sign-in/service.js';
import type { VerifyCallback } from './types.js';

export type { MagicLinkAuthInfo } from './sign-in/service.js';

export interface MagicLinkStrategyOptions {
  /** The MagicLink whose store issued the tokens. Required. */
  magicLink: MagicLink;
}

/** What Passport hands `authenticate()`: the options given to `passport.authenticate(name, options)`. */
interface AuthenticateOptions {
  session?: boolean;
  [HANDLER_OPTIONS]?: HandlerOptions;
}

/**
 * `passport.use(new MagicLinkStrategy({ magicLink }, async (email, req) => findUser(email) ?? false))`,
 * then `passport.authenticate('magic-link', …)` by name. The body holds `{token}` from a link or
 * `{email, code}` from the mail's exchange code (JSON or a form; no body parser needed). Each
 * request ends in exactly one of `success`, `fail` (a MagicLinkError as the challenge, with its
 * status: 401, 404, 422 or 429 with `Retry-After`) or `error`.
 */
export class MagicLinkStrategy extends Strategy {
  readonly name = 'magic-link';
  // Not #private: Passport runs each request on Object.create(strategy), which fails #private brand checks.
  private readonly magicLink: MagicLink;
  private readonly verify: VerifyCallback;

  constructor(options: MagicLinkStrategyOptions, verify: VerifyCallback) {
    super();
    if (typeof options !== 'object' || options === null || typeof options.magicLink !== 'object') {
      throw new TypeError(
        `\`MagicLinkStrategy\` needs \`{ magicLink }\` as its first argument: \`new MagicLinkStrategy({ magicLink }, verify)\`; got ${describe(options)}.`,
      );
    }
    serviceOf(options.magicLink); // throws a clear TypeError for anything that is not a MagicLink
    const extra = Object.keys(options).filter((key) => key !== 'magicLink');
    if (extra.length > 0) throw new TypeError(`\`MagicLinkStrategy\` got an unknown option \`${extra[0]}\`; it takes only \`magicLink\`.`);
    if (typeof verify !== 'function') {
      throw new TypeError(
        `\`MagicLinkStrategy\` needs a verify callback as its second argument: \`async (email, req) => user or false\`; got ${describe(verify)}.`,
      );
    }
    this.magicLink = options.magicLink;
    this.verify = verify;
  }

  override authenticate(req: Request, options: AuthenticateOptions = {}): void {
    const handler = options[HANDLER_OPTIONS];
    // Passport logs in after success unless `session: false`: without a session the link would be
    // spent and nobody signed in, so refuse before anything is read.
    if (options.session !== false && !hasSession(req)) {
      this.error(missingSession("passport.authenticate('magic-link')"));
      return;
    }
    this.signInFrom(req, handler).then(
      (result) => {
        if (result.kind === 'success') this.success(result.user, result.info);
        else if (result.kind === 'fail') this.refuse(req, result.error);
        else this.error(result.error);
      },
      // Only reached if Passport's own callbacks throw; it has answered by then.
      () => undefined,
    );
  }

  private async signInFrom(req: Request, handler: HandlerOptions | undefined): Promise<SignInResult> {
    try {
      const service = serviceOf(this.magicLink);
      const credential = readCredential(await readAnyBody(req), handler?.accepts ?? 'either');
      if (credential instanceof MagicLinkError) return { kind: 'fail', error: credential };
      return await service.signIn(clientOf(req), credential, (email, details) => this.verify(email, req, details), handler?.browserSecrets);
    } catch (error) {
      const failure = toMagicLinkError(error);
      return failure.status >= 500 ? { kind: 'error', error: error instanceof Error ? error : failure } : { kind: 'fail', error: failure };
    }
  }

  private refuse(req: Request, error: MagicLinkError): void {
    rememberRefusal(req, error);
    // Passport answers a plain refusal itself; the wait still reaches the client.
    if (error.retryAfter !== null) req.res?.setHeader('Retry-After', String(error.retryAfter));
    this.fail(error, error.status);
  }
}
