// POST {email, redirect?} → 202: validates, applies the limits and mails a link.
import type { Request, Response } from 'express';
import { invalidEmail, MAX_EMAIL_LENGTH, readJsonBody, readStringField, validationError } from './body.js';
import { assertSameSite } from './cross-site.js';
import { normalizeEmail } from './email.js';
import type { ValidationIssue } from './errors.js';
import { checkRedirect } from './redirect.js';
import { isoSeconds, sendSuccess } from './respond.js';
import type { SignInService } from './sign-in-service.js';
import { renderFailure } from './render-failure.js';

const MAX_REDIRECT_FIELD = 4096;

interface LinkRequest {
  readonly email: string;
  readonly redirect: string | null;
}

function parseLinkRequest(body: Record<string, unknown>, service: SignInService): LinkRequest {
  // A little slack over 254 so that surrounding spaces, which are trimmed, do not fail the length check.
  // An address is personal data: like tokens, it is never echoed back as `input`.
  const email = readStringField(body, 'email', { where: 'body', required: true, maxLength: MAX_EMAIL_LENGTH + 64, secret: true });
  const redirect = readStringField(body, 'redirect', { where: 'body', required: false, maxLength: MAX_REDIRECT_FIELD });
  const issues = [email.issue, redirect.issue].filter((issue): issue is ValidationIssue => issue !== undefined);
  if (issues.length > 0) throw validationError(issues);

  const checked = normalizeEmail(email.value!);
  if (!checked.ok) throw invalidEmail(checked.reason);
  if (redirect.value !== undefined) {
    const verdict = checkRedirect(redirect.value, service.config.baseUrl);
    if (!verdict.ok) throw validationError([{ loc: ['body', 'redirect'], msg: verdict.msg, type: verdict.type, input: redirect.value.slice(0, 100) }]);
  }
  return { email: checked.email, redirect: redirect.value ?? null };
}

export function createRequestLinkHandler(service: SignInService) {
  return async function requestLinkMiddleware(req: Request, res: Response): Promise<void> {
    try {
      assertSameSite(req, service.config.baseUrl.origin);
      const body = await readJsonBody(req, res);
      const { email, redirect } = parseLinkRequest(body, service);
      const issued = await service.requestLink(req, email, redirect);
      // The same answer whether or not an account exists: accounts are looked up only on redeem.
      sendSuccess(req, res, 202, {
        email: issued.email,
        expires_at: isoSeconds(issued.expiresAt),
        expires_in: service.config.ttlSeconds,
        sent_at: isoSeconds(issued.sentAt),
      });
    } catch (error) {
      renderFailure(service, req, res, error);
    }
  };
}
