// The Passport strategy: redeems the single-use token in the body, then asks the app for the user.
import type { Request } from 'express';
import { Strategy } from 'passport-strategy';
import { readCredential, type Credential } from './credentials.js';
import { MagicLinkError } from './errors.js';
import { serviceOf, type MagicLink } from './magic-link.js';
import type { VerifyCallback } from './types.js';
import { describe } from './option-checks.js';

export interface MagicLinkStrategyOptions {
  /** The MagicLink whose store issued the tokens. Required. */
  magicLink: MagicLink;
}

/** What `success` passes on as `info`: how, where the link asked to go, and whose email it was (as a digest). */
export interface MagicLinkAuthInfo {
  /** `link` for a token, `code` for an exchange code. */
  readonly method: 'link' | 'code';
  /** The link's stored redirect; null for codes and for links without one. */
  readonly redirect: string | null;
  readonly emailDigest: string;
}

/**
 * `passport.use(new MagicLinkStrategy({ magicLink }, async (email, req) => findUser(email) ?? false))`,
 * then `passport.authenticate('magic-link', …)` by name. The body holds `{token}` from a link or
 * `{email, code}` from the mail's exchange code. Each request ends in exactly one of
 * `success`, `fail` (with a MagicLinkError as the challenge) or `error`.
 */
export class MagicLinkStrategy extends Strategy {
  readonly name = 'magic-link';
  // Not #private: Passport runs each request on Object.create(strategy), and #fields do not inherit.
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

  /** Reads `{token}` (a link) or `{email, code}` (an exchange code) from the body. */
  override authenticate(req: Request): void {
    const body: unknown = req.body;
    const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const credential = readCredential(fields);
    if (credential instanceof MagicLinkError) {
      this.fail(credential, credential.status);
      return;
    }
    this.settle(req, credential).then(
      (outcome) => {
        if (outcome.kind === 'success') this.success(outcome.user, outcome.info);
        else if (outcome.kind === 'fail') this.fail(outcome.error, outcome.error.status);
        else this.error(outcome.error);
      },
      // Only reached if the callbacks above throw; passport has then already answered.
      () => undefined,
    );
  }

  private async settle(
    req: Request,
    credential: Credential,
  ): Promise<
    | { kind: 'success'; user: Express.User; info: MagicLinkAuthInfo }
    | { kind: 'fail'; error: MagicLinkError }
    | { kind: 'error'; error: Error }
  > {
    try {
      const service = serviceOf(this.magicLink);
      const outcome = 'token' in credential ? await service.redeem(credential.token, req) : await service.exchange(credential.email, credential.code);
      if (!outcome.ok) return { kind: 'fail', error: new MagicLinkError(outcome.code, 'retryAfter' in outcome ? { retryAfter: outcome.retryAfter } : {}) };
      const user = await this.verify(outcome.content.email, req);
      if (!user) return { kind: 'fail', error: new MagicLinkError('account_not_found') };
      return {
        kind: 'success',
        user,
        info: { method: 'token' in credential ? 'link' : 'code', redirect: outcome.content.redirect, emailDigest: outcome.content.emailDigest },
      };
    } catch (error) {
      return { kind: 'error', error: error instanceof Error ? error : new Error(String(error)) };
    }
  }
}
