// One sign-in attempt through Passport, shared by the JSON verify endpoint and the confirm form.
import type { Request, Response } from 'express';
import { toMagicLinkError } from './error-handler.js';
import { MagicLinkError } from './errors.js';
import type { SignInService } from './sign-in-service.js';
import type { MagicLinkAuthInfo } from './strategy.js';

/** Where the session remembers whose link signed it in (a digest), for the confirm page's "way on". */
export const SESSION_EMAIL_KEY = 'magicLinkEmailDigest';

const TOKEN_FAILURES = new Set(['magic_link_not_found', 'magic_link_expired', 'magic_link_already_used']);

export interface SignedIn {
  readonly user: Express.User;
  readonly info: MagicLinkAuthInfo;
}

interface PassportOutcome {
  readonly error: unknown;
  readonly user: Express.User | false | undefined;
  readonly info: unknown;
}

function runStrategy(service: SignInService, req: Request, res: Response): Promise<PassportOutcome> {
  return new Promise((resolve) => {
    // By name: Passport then runs a fresh copy of the strategy for this request.
    const middleware = service.config.passport.authenticate(
      'magic-link',
      { session: false },
      (error: unknown, user: Express.User | false | undefined, info: unknown) => resolve({ error, user, info }),
    ) as (req: Request, res: Response, next: (error?: unknown) => void) => void;
    middleware(req, res, (error?: unknown) => resolve({ error: error ?? new Error('passport called next() without an outcome'), user: false, info: undefined }));
  });
}

// express-session's types are the app's business; the library only reads and writes one key.
function sessionOf(req: Request): Record<string, unknown> | undefined {
  return (req as unknown as { session?: Record<string, unknown> }).session;
}

function logIn(req: Request, user: Express.User): Promise<void> {
  // Passport 0.6+ regenerates the session here, so a planted session id never becomes signed in.
  return new Promise((resolve, reject) => req.logIn(user, (error?: unknown) => (error ? reject(error) : resolve())));
}

/**
 * Checks the per-IP failed-verify budget, redeems through the strategy, counts failures and logs
 * the user in. Throws a MagicLinkError for every refusal.
 */
export async function signInWithToken(service: SignInService, req: Request, res: Response): Promise<SignedIn> {
  await service.assertVerifyAllowed(req);
  const outcome = await runStrategy(service, req, res);
  if (outcome.error) throw toMagicLinkError(outcome.error);
  if (!outcome.user) {
    const refusal = outcome.info instanceof MagicLinkError ? outcome.info : new MagicLinkError('magic_link_not_found');
    // Only guesses count against the IP: unknown, expired or used tokens.
    if (TOKEN_FAILURES.has(refusal.code)) await service.countFailedVerify(req);
    throw refusal;
  }
  const info = outcome.info as MagicLinkAuthInfo;
  try {
    await logIn(req, outcome.user);
  } catch (error) {
    throw new MagicLinkError('internal_error', { cause: error });
  }
  const session = sessionOf(req);
  if (session) session[SESSION_EMAIL_KEY] = info.emailDigest;
  return { user: outcome.user, info };
}

/** The digest of the email whose link signed this session in, while it is still signed in. */
export function signedInEmailDigest(req: Request): string | undefined {
  if (typeof req.isAuthenticated !== 'function' || !req.isAuthenticated()) return undefined;
  const value = sessionOf(req)?.[SESSION_EMAIL_KEY];
  return typeof value === 'string' ? value : undefined;
}
