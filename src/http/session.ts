// Signing a person into the app's session: the handlers' last step after the service said yes.
// Passport's `req.logIn` (from `passport.session()`) regenerates the session, so a planted id never
// becomes signed in; the session also remembers whose link signed it in, for the confirm page.
import type { Request } from 'express';
import { MagicLinkError } from '../errors.js';
import type { MagicLinkAuthInfo } from '../types.js';
import { warnOnce } from '../warnings.js';

/** Where the session remembers whose link signed it in (a keyed digest), for the confirm page's "way on". */
const SESSION_EMAIL_KEY = 'magicLinkEmailDigest';

// express-session's types are the app's business; the library only reads and writes one key.
function sessionOf(req: Request): Record<string, unknown> | undefined {
  return (req as unknown as { session?: Record<string, unknown> }).session;
}

/** Session sign-in needs express-session in front (and Passport's req.logIn). */
export function hasSession(req: Request): boolean {
  const session = sessionOf(req);
  return typeof session === 'object' && session !== null && typeof req.logIn === 'function';
}

/** A handler mounted without express-session: refused before anything is redeemed, logged once with the fix. */
export function missingSession(handler: string): MagicLinkError {
  return noSession(
    `\`${handler}\` signs the user into a session, but the request has none: mount express-session and \`passport.session()\` before it. No link was spent.`,
  );
}

/** A link request without a session, in an app whose handlers sign into one: its link could never sign anyone in. */
export function missingSessionForLink(): MagicLinkError {
  return noSession(
    'A link request came without a session, and this MagicLink signs people in through the session (its verify, exchange or confirm handlers are mounted): mount express-session and `passport.session()` before `magicLink.requestLinkHandler()` too, or, if you mount sessions only on the routes that sign in, say so with `requestLinkHandler({ sessionRequired: false })`. Nothing was mailed.',
  );
}

function noSession(fix: string): MagicLinkError {
  warnOnce('EXPRESS_MAGIC_LINK_NO_SESSION', fix);
  return new MagicLinkError('internal_error', { cause: new Error(fix) });
}

/**
 * Outside production, says once when express-session will not send the cookie this sign-in writes:
 * a `Secure` cookie on a request that is not https (express-session drops it silently, so the
 * person is signed into a session their browser never hears of).
 */
export function warnIfCookieWillNotArrive(req: Request): void {
  if (process.env.NODE_ENV === 'production') return;
  const cookie = (sessionOf(req) as { cookie?: { secure?: unknown } } | undefined)?.cookie;
  if (cookie?.secure !== true || req.secure) return;
  warnOnce(
    'EXPRESS_MAGIC_LINK_SECURE_COOKIE_OVER_HTTP',
    `A sign-in over ${req.protocol}: express-session's cookie is \`secure: true\`, so it sends no session cookie over http and the person is not signed in (their link is spent). Set \`cookie: { secure: baseUrl.startsWith('https:') }\` (or \`'auto'\`), or, behind a proxy that terminates TLS, \`app.set('trust proxy', 1)\`.`,
  );
}

/** Logs the user into the session (regenerating it) and remembers whose link it was. */
export async function logIn(req: Request, user: Express.User, info: MagicLinkAuthInfo): Promise<void> {
  warnIfCookieWillNotArrive(req);
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
