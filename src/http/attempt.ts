// Cross-device approval, the asking browser's side (SPEC §8): the attempt cookie a link request
// sets, the status it polls (GET) and the collect that signs it in (POST), once.
import type { Request, Response } from 'express';
import { MagicLinkError } from '../errors.js';
import { COLLECT_WINDOW_MS, POLL_SECONDS } from '../sign-in/attempts.js';
import { UNAVAILABLE_RETRY_SECONDS } from '../sign-in/limits.js';
import type { Asker, SignInService, StartedAttempt } from '../sign-in/service.js';
import { browserFamily } from '../sign-in/user-agent.js';
import { clientOf } from './client.js';
import { assertSameSite } from './cross-site.js';
import { reportFailure, sendError, sendSuccess } from './respond.js';
import { hasSession, logIn, missingSession } from './session.js';

const COOKIE_NAME = 'ml_attempt';

/** `__Secure-` on https, so a sibling subdomain over http cannot plant one. */
function cookieName(service: SignInService): string {
  return service.config.baseUrl.protocol === 'https:' ? `__Secure-${COOKIE_NAME}` : COOKIE_NAME;
}

function cookiePath(service: SignInService): string {
  return service.config.baseUrl.pathname.replace(/\/+$/, '') || '/';
}

/** The attempt cookie's value from the Cookie header; undefined when there is none. */
export function attemptCookieOf(service: SignInService, req: Request): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  const name = cookieName(service);
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Who asks, for a link request that may start an attempt: with `crossDevice`, any request that can take a cookie. */
export function askerOf(service: SignInService, res: Response | undefined, req: Request): Asker | null {
  return service.config.crossDevice && res !== undefined ? { from: browserFamily(req.headers['user-agent']) } : null;
}

/** Binds the attempt to the asking browser: HttpOnly, SameSite=Lax (the mailed link opens in it), as long as its link lives. */
export function setAttemptCookie(service: SignInService, res: Response, attempt: StartedAttempt, ttlSeconds: number): void {
  const secure = service.config.baseUrl.protocol === 'https:' ? '; Secure' : '';
  const maxAge = ttlSeconds + COLLECT_WINDOW_MS / 1000;
  res.append('Set-Cookie', `${cookieName(service)}=${attempt.cookie}; Path=${cookiePath(service)}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`);
}

function clearAttemptCookie(service: SignInService, res: Response): void {
  const secure = service.config.baseUrl.protocol === 'https:' ? '; Secure' : '';
  res.append('Set-Cookie', `${cookieName(service)}=; Path=${cookiePath(service)}; Max-Age=0; HttpOnly; SameSite=Lax${secure}`);
}

/** A plain HTML form (`<form method="post">`) is answered with a page to go to, not JSON. */
function isHtmlForm(req: Request): boolean {
  return req.is('application/x-www-form-urlencoded') === 'application/x-www-form-urlencoded';
}

function signInPage(service: SignInService, outcome: Record<string, string>): string {
  return `${service.config.signInPath}?${new URLSearchParams(outcome).toString()}`;
}

/** `GET` → 200 `{status, match}`; `Retry-After` says when to ask again while it is pending. */
export function createAttemptStatusHandler(service: SignInService) {
  return async function attemptStatusMiddleware(req: Request, res: Response): Promise<void> {
    try {
      const { status, match } = await service.attemptStatus(clientOf(req), attemptCookieOf(service, req));
      if (status === 'pending' || status === 'approved') res.setHeader('Retry-After', String(status === 'pending' ? POLL_SECONDS : 0));
      sendSuccess(req, res, 200, { status, match });
    } catch (error) {
      sendError(req, res, reportFailure(service.config.onError, req, res, error), service.config.docsBaseUrl);
    }
  };
}

/**
 * `POST` → 200 `{user}`, signed in with the session regenerated, once the attempt is approved;
 * 202 `{status: "pending"}` before. An HTML form is sent on instead: to the link's redirect, or
 * back to the sign-in page with `?attempt=pending` or `?magic_link_error=<code>`.
 */
export function createAttemptCollectHandler(service: SignInService) {
  const { config } = service;
  return async function attemptCollectMiddleware(req: Request, res: Response): Promise<void> {
    const form = isHtmlForm(req);
    const cookie = attemptCookieOf(service, req);
    try {
      assertSameSite(req, config.baseUrl.origin, config.trustedOrigins);
      // Before anything is collected: an approval taken without a session to sign into is lost.
      if (!hasSession(req)) throw missingSession('magicLink.attemptCollectHandler()');
      const result = await service.collect(clientOf(req), cookie, req);
      if (result.kind === 'pending') {
        res.setHeader('Retry-After', String(POLL_SECONDS));
        if (form) {
          res.setHeader('Cache-Control', 'no-store');
          res.redirect(303, signInPage(service, { attempt: 'pending' }));
        } else sendSuccess(req, res, 202, { status: 'pending' });
        return;
      }
      if (result.kind !== 'success') throw result.error;
      try {
        await logIn(req, result.user, result.info);
      } catch (error) {
        // Collected, but the session store failed: collectable again, for this browser only.
        await service.release(cookie).catch(() => undefined);
        throw error instanceof MagicLinkError && error.code === 'internal_error'
          ? new MagicLinkError('service_unavailable', { retryAfter: UNAVAILABLE_RETRY_SECONDS, cause: error })
          : error;
      }
      clearAttemptCookie(service, res);
      if (form) {
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(303, result.info.redirect ?? config.successRedirect);
        return;
      }
      sendSuccess(req, res, 200, { user: config.publicUser(result.user) });
    } catch (error) {
      const failure = reportFailure(config.onError, req, res, error);
      if (form && !res.headersSent) {
        if (failure.retryAfter !== null) res.setHeader('Retry-After', String(failure.retryAfter));
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(303, signInPage(service, { magic_link_error: failure.code }));
        return;
      }
      sendError(req, res, failure, config.docsBaseUrl);
    }
  };
}
