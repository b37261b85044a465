// The Passport strategy, for an app's own routes: reads a credential and hands it to its
// MagicLink's sign-in service, which holds every rule (budgets, redeem, counting, events). A leaf:
// credential in, one outcome out. The package's own handlers call the same service directly.
import type { Request } from 'express';
import { describe } from './config/checks.js';
import { MagicLinkError } from './errors.js';
import { readAnyBody } from './http/body.js';
import { clientOf } from './http/client.js';
import { readCredential, readRetryKey } from './http/credentials.js';
import { rememberRefusal } from './http/refusals.js';
import { toMagicLinkError } from './http/respond.js';
import { hasSession, missingSession, warnIfCookieWillNotArrive } from './http/session.js';
import { serviceOf, type MagicLink } from './magic-link.js';
import type { SignInResult } from './sign-in/records.js';
import type { VerifyCallback } from './types.js';

export interface MagicLinkStrategyOptions {
  /** The MagicLink whose store issued the tokens. Required. */
  magicLink: MagicLink;
  /**
   * The name Passport knows the strategy by: `passport.authenticate(name)`. Give each MagicLink's
   * strategy its own name when an app has two (customers and staff). Default `magic-link`.
   */
  name?: string;
}

const KNOWN = ['magicLink', 'name'];

/**
 * `passport.use(new MagicLinkStrategy({ magicLink }, async (email, req) => findUser(email) ?? false))`,
 * then `passport.authenticate('magic-link', …)` on a route of your own. The verify callback is also
 * the one `magicLink`'s handlers sign in with. The body holds `{token}` from a link or
 * `{email, code}` from the mail's exchange code (JSON or a form; no body parser needed). Each
 * request ends in exactly one of `success`, `fail` (a MagicLinkError as the challenge, with its
 * status: 401, 404, 422 or 429 with `Retry-After`) or `error`.
 */
export class MagicLinkStrategy {
  readonly name: string;
  // Passport attaches these to the copy of the strategy it runs for one request. Declared here, not
  // inherited from passport-strategy's types, so a JavaScript app installs no @types packages.
  declare success: (user: Express.User, info?: object) => void;
  declare fail: (challenge: MagicLinkError, status: number) => void;
  declare error: (error: Error) => void;
  // No #private members: Passport runs each request on Object.create(strategy), which fails #private brand checks.
  private readonly magicLink: MagicLink;

  constructor(options: MagicLinkStrategyOptions, verify: VerifyCallback) {
    if (typeof options !== 'object' || options === null || typeof options.magicLink !== 'object') {
      throw new TypeError(
        `\`MagicLinkStrategy\` needs \`{ magicLink }\` as its first argument: \`new MagicLinkStrategy({ magicLink }, verify)\`; got ${describe(options)}.`,
      );
    }
    const service = serviceOf(options.magicLink); // throws a clear TypeError for anything that is not a MagicLink
    const extra = Object.keys(options).filter((key) => !KNOWN.includes(key));
    if (extra.length > 0) throw new TypeError(`\`MagicLinkStrategy\` got an unknown option \`${extra[0]}\`; it takes \`magicLink\` and \`name\`.`);
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name.trim() === '')) {
      throw new TypeError(`\`MagicLinkStrategy\` option \`name\` must be a non-empty string; got ${describe(options.name)}.`);
    }
    if (typeof verify !== 'function') {
      throw new TypeError(
        `\`MagicLinkStrategy\` needs a verify callback as its second argument: \`async (email, req) => user or false\`; got ${describe(verify)}.`,
      );
    }
    service.useVerify(verify);
    this.name = options.name ?? 'magic-link';
    this.magicLink = options.magicLink;
  }

  authenticate(req: Request, options: { session?: boolean } = {}): void {
    // Passport logs in after success unless `session: false`: without a session the link would be
    // spent and nobody signed in, so refuse before anything is read.
    if (options.session !== false && !hasSession(req)) {
      this.error(missingSession(`passport.authenticate('${this.name}')`));
      return;
    }
    if (options.session !== false) warnIfCookieWillNotArrive(req);
    this.signInFrom(req).then(
      (result) => {
        if (result.kind === 'success') this.success(result.user, result.info);
        else if (result.kind === 'fail') this.refuse(req, result.error);
        else this.error(result.error);
      },
      // Only reached if Passport's own callbacks throw; it has answered by then.
      () => undefined,
    );
  }

  private async signInFrom(req: Request): Promise<SignInResult> {
    try {
      const credential = readCredential(await readAnyBody(req), 'either');
      if (credential instanceof MagicLinkError) return { kind: 'fail', error: credential };
      const retryKey = readRetryKey(req);
      if (retryKey instanceof MagicLinkError) return { kind: 'fail', error: retryKey };
      return await serviceOf(this.magicLink).signIn(clientOf(req), credential, req, retryKey);
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
