// POST {email, redirect?} → 202: validates, applies the limits and mails a link.
import type { Request, Response } from 'express';
import { isoSeconds, type ValidationIssue } from '../errors.js';
import { normalizeEmail } from '../sign-in/email.js';
import { checkRedirect } from '../sign-in/redirect.js';
import type { LinkExtras } from '../sign-in/records.js';
import type { SignInService } from '../sign-in/service.js';
import type { LinkSent } from '../types.js';
import { invalidEmail, MAX_EMAIL_FIELD, readFormBody, readJsonBody, readStringField, validationError } from './body.js';
import { clientOf } from './client.js';
import { askerOf, setAttemptCookie } from './attempt.js';
import { assertSameSite } from './cross-site.js';
import { reportFailure, sendError, sendSuccess } from './respond.js';
import { hasSession, missingSessionForLink } from './session.js';

const MAX_REDIRECT_FIELD = 4096;

interface LinkRequest {
  readonly email: string;
  readonly redirect: string | null;
}

/** The `{email, redirect?}` of a link request, validated; throws `validation_error` or `invalid_email`. */
export function parseLinkRequest(body: Record<string, unknown>, service: SignInService): LinkRequest {
  // An address is personal data: like tokens, it is never echoed back as `input`.
  const email = readStringField(body, 'email', { where: 'body', required: true, maxLength: MAX_EMAIL_FIELD, secret: true });
  const redirect = readStringField(body, 'redirect', { where: 'body', required: false, maxLength: MAX_REDIRECT_FIELD });
  const issues = [email.issue, redirect.issue].filter((issue): issue is ValidationIssue => issue !== undefined);
  // One entry per failing field: a bad email and a bad redirect are both reported.
  const checked = email.value === undefined ? undefined : normalizeEmail(email.value);
  if (redirect.value !== undefined) {
    const verdict = checkRedirect(redirect.value, service.config.baseUrl, service.config.allowedRedirects);
    if (!verdict.ok) issues.push({ loc: ['body', 'redirect'], msg: verdict.msg, type: verdict.type, input: redirect.value });
  }
  if (checked && !checked.ok && (issues.length > 0 || checked.reason === 'too_long')) issues.unshift(...invalidEmail(checked.reason).details);
  if (issues.length > 0) throw validationError(issues);
  if (checked && !checked.ok) throw invalidEmail(checked.reason);
  return { email: (checked as { email: string }).email, redirect: redirect.value ?? null };
}

/**
 * One link request from an app's own route: the same validation, budgets, store and mailer as the
 * handler. Throws `MagicLinkError` (`validation_error`, `invalid_email`, a limit, …).
 */
export async function requestLinkFor(service: SignInService, req: Request, fields: Record<string, unknown>, extras?: LinkExtras): Promise<LinkSent> {
  const { email, redirect } = parseLinkRequest(fields, service);
  // Express hands every request its response: a cross-device attempt's cookie goes on it.
  const res = (req as { res?: Response }).res;
  const issued = await service.requestLink(clientOf(req), email, redirect, req, extras, askerOf(service, res, req));
  if (issued.attempt && res) setAttemptCookie(service, res, issued.attempt, issued.ttlSeconds);
  return {
    email: issued.email,
    expiresAt: new Date(issued.expiresAt),
    sentAt: new Date(issued.sentAt),
    expiresIn: issued.ttlSeconds,
    ...(issued.attempt ? { match: issued.attempt.match } : {}),
  };
}

/** A plain HTML form (`<form method="post">`, urlencoded) is answered with a page to go to, not JSON. */
function isHtmlForm(req: Request): boolean {
  return req.is('application/x-www-form-urlencoded') === 'application/x-www-form-urlencoded';
}

/** Back to the app's sign-in page with the outcome in the query: never the address, which is personal. */
function formOutcome(service: SignInService, outcome: Record<string, string>): string {
  return `${service.config.signInPath}?${new URLSearchParams(outcome).toString()}`;
}

export function createRequestLinkHandler(service: SignInService, options: { sessionRequired: boolean }) {
  return async function requestLinkMiddleware(req: Request, res: Response): Promise<void> {
    const form = isHtmlForm(req);
    try {
      assertSameSite(req, service.config.baseUrl.origin, service.config.trustedOrigins);
      if (options.sessionRequired && service.signsIntoSessions && !hasSession(req)) throw missingSessionForLink();
      const sent = await requestLinkFor(service, req, form ? await readFormBody(req, res) : await readJsonBody(req, res));
      if (form) {
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(303, formOutcome(service, { magic_link: 'sent' }));
        return;
      }
      // The same answer whether or not an account exists: accounts are looked up only on redeem.
      sendSuccess(req, res, 202, {
        email: sent.email,
        expires_at: isoSeconds(sent.expiresAt.getTime()),
        expires_in: sent.expiresIn,
        sent_at: isoSeconds(sent.sentAt.getTime()),
        ...(sent.match === undefined ? {} : { match: sent.match }),
      });
    } catch (error) {
      const failure = reportFailure(service.config.onError, req, res, error);
      if (form && !res.headersSent) {
        if (failure.retryAfter !== null) res.setHeader('Retry-After', String(failure.retryAfter));
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(
          303,
          formOutcome(service, { magic_link_error: failure.code, ...(failure.retryAfter !== null ? { retry_after: String(failure.retryAfter) } : {}) }),
        );
        return;
      }
      sendError(req, res, failure, service.config.docsBaseUrl);
    }
  };
}
