// The package's handlers sign in through Passport by name, exactly as an app's own route would, and
// then log the user into the session themselves (so they can answer JSON or redirect).
import type { Request, Response } from 'express';
import { warnOnce } from '../warnings.js';
import { MagicLinkError } from '../errors.js';
import type { MagicLinkAuthInfo } from '../sign-in/service.js';
import type { Accepts } from './credentials.js';

/** Where the session remembers whose link signed it in (a keyed digest), for the confirm page's "way on". */
export const SESSION_EMAIL_KEY = 'magicLinkEmailDigest';

/** Per-call instructions from a package handler to the strategy, under a key an app cannot collide with. */
export const HANDLER_OPTIONS = Symbol.for('express-magic-link.handler-options');
export interface HandlerOptions {
  readonly accepts: Accepts;
  /** The confirm form's browser secret: its redeem is bound to it and may be replayed by it. */
  readonly browserSecrets?: readonly string[];
}

export interface SignedIn {
  readonly user: Express.User;
  readonly info: MagicLinkAuthInfo;
}

interface Authenticator {
  authenticate(name: string, options: object, callback: (...args: unknown[]) => void): (req: Request, res: Response, next: (error?: unknown) => void) => void;
}

// express-session's types are the app's business; the library only reads and writes one key.
function sessionOf(req: Request): Record<string, unknown> | undefined {
  return (req as unknown as { session?: Record<string, unknown> }).session;
}

/** Session sign-in needs express-session in front (and Passport's req.logIn). */
export function hasSession(req: Request): boolean {
  return typeof sessionOf(req) === 'object' && sessionOf(req) !== null && typeof req.logIn === 'function';
}

/** A handler mounted without express-session: refused before anything is redeemed, logged once with the fix. */
export function missingSession(handler: string): MagicLinkError {
  const fix = `\`${handler}\` signs the user into a session, but the request has none: mount express-session and \`passport.session()\` before it. No link was spent.`;
  warnOnce('EXPRESS_MAGIC_LINK_NO_SESSION', fix);
  return new MagicLinkError('internal_error', { cause: new Error(fix) });
}

/** Runs the 'magic-link' strategy by name (Passport then runs a fresh copy for this request). */
export function authenticate(passport: Authenticator, req: Request, res: Response, options: HandlerOptions): Promise<SignedIn> {
  return new Promise((resolve, reject) => {
    const middleware = passport.authenticate('magic-link', { session: false, [HANDLER_OPTIONS]: options }, (...args: unknown[]) => {
      const [error, user, info] = args;
      if (error) reject(error);
      else if (user) resolve({ user: user, info: info as MagicLinkAuthInfo });
      else reject(info instanceof MagicLinkError ? info : new MagicLinkError('magic_link_not_found'));
    });
    middleware(req, res, (error?: unknown) => reject(error ?? new Error('passport called next() without an outcome')));
  });
}

/** Logs the user into the session. Passport 0.6+ regenerates it here, so a planted session id never becomes signed in. */
export async function logIn(req: Request, user: Express.User, info: MagicLinkAuthInfo): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => req.logIn(user, (error?: unknown) => (error ? reject(error) : resolve())));
  } catch (error) {
    throw new MagicLinkError('internal_error', { cause: error });
  }
  const session = sessionOf(req);
  if (session) session[SESSION_EMAIL_KEY] = info.emailDigest;
}

/** The digest of the email whose link signed this session in, while it is still signed in. */
export function signedInEmailDigest(req: Request): string | undefined {
  if (typeof req.isAuthenticated !== 'function' || !req.isAuthenticated()) return undefined;
  const value = sessionOf(req)?.[SESSION_EMAIL_KEY];
  return typeof value === 'string' ? value : undefined;
}
