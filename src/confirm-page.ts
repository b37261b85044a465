// The confirm page: GET shows whose sign-in this is and consumes nothing (mail scanners fetch links);
// only the form's POST redeems the token.
import type { Request, Response } from 'express';
import { signedInEmailDigest, signInWithToken } from './authenticate.js';
import { readFormBody } from './body.js';
import { assertSameSite } from './cross-site.js';
import { maskEmail } from './email.js';
import { errorCatalogue, MagicLinkError } from './errors.js';
import { escapeHtml, page, setPageHeaders } from './html.js';
import { reportFailure } from './render-failure.js';
import { requestIdOf } from './request-id.js';
import { REDEEM_CODES, type LinkContent, type SignInService } from './sign-in-service.js';

// Human sentences for the page; the JSON API keeps the catalogue's wording.
const PAGE_SENTENCES: Partial<Record<MagicLinkError['code'], string>> = {
  magic_link_not_found: 'This sign-in link is not valid. It may be incomplete, or it expired a while ago.',
  magic_link_expired: 'This sign-in link has expired. Request a new one and use it within its time limit.',
  magic_link_already_used: 'This sign-in link has already been used. Each link works only once.',
  magic_link_ip_limit_exceeded: 'Too many sign-in attempts from your network. Please wait and try again.',
  account_not_found: 'No account was found for this email address.',
  cross_site_request: 'This sign-in request came from another site, so it was refused.',
  invalid_request_body: 'The sign-in form was incomplete. Open the link from your email again.',
  service_unavailable: 'The sign-in service is temporarily unavailable. Please try again shortly.',
};

function queryToken(req: Request): string {
  const value: unknown = req.query.token;
  return typeof value === 'string' ? value : '';
}

function safeTarget(service: SignInService, content: { redirect: string | null }): string {
  return content.redirect ?? service.config.successRedirect;
}

function newLinkParagraph(service: SignInService): string {
  return `<p><a class="button" href="${escapeHtml(service.config.baseUrl.pathname.replace(/\/+$/, '') + service.config.signInPath)}">Request a new link</a></p>`;
}

function alreadySignedIn(service: SignInService, content: LinkContent): string {
  return `<h1>You're already signed in</h1>
<p>This browser is signed in as <strong>${escapeHtml(maskEmail(content.email))}</strong>.</p>
<p><a class="button" href="${escapeHtml(safeTarget(service, content))}">Continue</a></p>`;
}

function confirmForm(service: SignInService, req: Request, token: string, content: LinkContent, expiresAt: number): string {
  const action = req.baseUrl + req.path;
  const minutes = Math.max(1, Math.round((expiresAt - service.config.now()) / 60_000));
  return `<h1>Sign in to ${escapeHtml(service.config.appName)}</h1>
<p>You are signing in as <strong>${escapeHtml(maskEmail(content.email))}</strong>.</p>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<p><button type="submit">Sign in</button></p>
</form>
<p class="muted">This link works once and expires in about ${minutes} minute${minutes === 1 ? '' : 's'}. If you did not ask to sign in, close this page.</p>`;
}

function failurePage(service: SignInService, error: MagicLinkError, requestId: string): string {
  const sentence = PAGE_SENTENCES[error.code] ?? errorCatalogue[error.code].message;
  const wait = error.retryAfter !== null && error.status === 429 ? ` Try again in ${Math.ceil(error.retryAfter / 60)} minute(s).` : '';
  return `<h1>Can't sign you in</h1>
<p>${escapeHtml(sentence + wait)}</p>
${error.status === 429 || error.status >= 500 ? '' : newLinkParagraph(service)}
<p class="muted">Reference: ${escapeHtml(requestId)}</p>`;
}

function sendPage(res: Response, status: number, title: string, body: string): void {
  setPageHeaders(res);
  res.statusCode = status;
  res.end(page(title, body));
}

function sendFailurePage(service: SignInService, req: Request, res: Response, error: unknown): void {
  const rendered = reportFailure(service, req, res, error);
  try {
    if (res.writableEnded) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (rendered.retryAfter !== null) res.setHeader('Retry-After', String(rendered.retryAfter));
    sendPage(res, rendered.status, "Can't sign you in", failurePage(service, rendered, requestIdOf(req, res)));
  } catch {
    res.destroy();
  }
}

export function createConfirmPageHandler(service: SignInService) {
  return async function confirmPageMiddleware(req: Request, res: Response): Promise<void> {
    requestIdOf(req, res);
    try {
      const token = queryToken(req);
      const state = await service.inspect(token);
      if (state.status !== 'not_found' && signedInEmailDigest(req) === state.content.emailDigest) {
        sendPage(res, 200, "You're already signed in", alreadySignedIn(service, state.content));
        return;
      }
      if (state.status === 'valid') {
        sendPage(res, 200, `Sign in to ${service.config.appName}`, confirmForm(service, req, token, state.content, state.expiresAt));
        return;
      }
      throw new MagicLinkError(REDEEM_CODES[state.status]);
    } catch (error) {
      sendFailurePage(service, req, res, error);
    }
  };
}

export function createConfirmFormHandler(service: SignInService) {
  return async function confirmFormMiddleware(req: Request, res: Response): Promise<void> {
    requestIdOf(req, res);
    try {
      assertSameSite(req, service.config.baseUrl.origin);
      await readFormBody(req, res);
      const { info } = await signInWithToken(service, req, res);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Referrer-Policy', 'no-referrer');
      // The target was checked when the link was requested and stored sealed with it.
      res.redirect(303, safeTarget(service, info));
    } catch (error) {
      sendFailurePage(service, req, res, error);
    }
  };
}
