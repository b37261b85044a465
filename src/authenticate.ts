// One sign-in attempt through Passport, shared by the JSON verify endpoint and the confirm form.
import type { Request, Response } from 'express';
import { toMagicLinkError } from './error-handler.js';
import { MagicLinkError } from './errors.js';
import type { SignInService } from './sign-in-service.js';
import type { MagicLinkAuthInfo } from './strategy.js';

/** Where the session remembers whose link signed it in (a digest), for the confirm page's "way on". */
export const SESSION_EMAIL_KEY = 'magicLinkEmailDigest';

const TOKEN_FAILURES = new Set(['magic_link_not_found', 'magic_link_expired', 'magic_link_already_used']);
const CODE_FAILURES = new Set(['exchange_code_not_found']);

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

/** How a sign-in by link and one by code differ: which budget guards them, which refusals count. */
interface Attempt {
  readonly assertAllowed: () => Promise<void>;
  /** Refusals that are guesses, counted against the budget. */
  readonly counted: ReadonlySet<string>;
  readonly countFailure: () => Promise<void>;
  readonly rejected: 'redeem_rejected' | 'code_rejected';
  readonly redeemed: 'link_redeemed' | 'code_redeemed';
  /** Known before the attempt for codes (the body names the email); from the link after it. */
  readonly emailDigest: string | null;
}

async function signIn(service: SignInService, req: Request, res: Response, attempt: Attempt): Promise<SignedIn> {
  try {
    await attempt.assertAllowed();
    const outcome = await runStrategy(service, req, res);
    if (outcome.error) throw toMagicLinkError(outcome.error);
    if (!outcome.user) {
      const refusal = outcome.info instanceof MagicLinkError ? outcome.info : new MagicLinkError('magic_link_not_found');
      if (attempt.counted.has(refusal.code)) await attempt.countFailure();
      throw refusal;
    }
    const info = outcome.info as MagicLinkAuthInfo;
    service.emit(req, { type: attempt.redeemed }, info.emailDigest);
    try {
      await logIn(req, outcome.user);
    } catch (error) {
      throw new MagicLinkError('internal_error', { cause: error });
    }
    const session = sessionOf(req);
    if (session) session[SESSION_EMAIL_KEY] = info.emailDigest;
    return { user: outcome.user, info };
  } catch (error) {
    if (error instanceof MagicLinkError) service.emitRefusal(req, error, attempt.rejected, attempt.emailDigest);
    throw error;
  }
}

/**
 * Checks the per-IP failed-verify budget, redeems the body's token through the strategy, counts
 * guesses and logs the user in. Throws a MagicLinkError for every refusal.
 */
export function signInWithToken(service: SignInService, req: Request, res: Response): Promise<SignedIn> {
  return signIn(service, req, res, {
    assertAllowed: () => service.checkVerifyAllowed(req),
    counted: TOKEN_FAILURES,
    countFailure: () => service.countFailedVerify(req),
    rejected: 'redeem_rejected',
    redeemed: 'link_redeemed',
    emailDigest: null,
  });
}

/** The same for the body's `{email, code}`: wrong codes count against the IP and the email. */
export function signInWithCode(service: SignInService, req: Request, res: Response, emailDigestValue: string): Promise<SignedIn> {
  return signIn(service, req, res, {
    assertAllowed: () => service.assertExchangeAllowed(req, emailDigestValue),
    counted: CODE_FAILURES,
    countFailure: () => service.countFailedExchange(req, emailDigestValue),
    rejected: 'code_rejected',
    redeemed: 'code_redeemed',
    emailDigest: emailDigestValue,
  });
}

/** The digest of the email whose link signed this session in, while it is still signed in. */
export function signedInEmailDigest(req: Request): string | undefined {
  if (typeof req.isAuthenticated !== 'function' || !req.isAuthenticated()) return undefined;
  const value = sessionOf(req)?.[SESSION_EMAIL_KEY];
  return typeof value === 'string' ? value : undefined;
}
