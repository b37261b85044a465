// The confirm page: GET shows whose sign-in this is and consumes nothing (mail scanners fetch links);
// only the form's POST redeems the token.
//
// Each GET gives the browser a secret in a cookie of its own name (HttpOnly, SameSite=Strict, short
// lived) and puts the cookie's name and a keyed digest of it (the nonce) in the form. The POST must
// carry a matching pair, whatever the browser sends as Origin: a cross-site form has no such
// cookie, so login CSRF fails. One name per page load means a second tab never overwrites the first.
// The redeem is bound to that secret, so the same browser may press again (a double press, a retry
// after a lost response, another tab) and ends signed in instead of on "already used".
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { errorCatalogue, MagicLinkError } from '../errors.js';
import { maskEmail } from '../sign-in/email.js';
import { REDEEM_CODES, type LinkContent } from '../sign-in/records.js';
import { UNAVAILABLE_RETRY_SECONDS } from '../sign-in/limits.js';
import { REPLAY_WINDOW_MS, type SignInService } from '../sign-in/service.js';
import { readFormBody } from './body.js';
import { clientOf } from './client.js';
import { readCredential } from './credentials.js';
import { attemptCookieOf } from './attempt.js';
import { parseMatch } from '../sign-in/attempts.js';
import { assertSameSite } from './cross-site.js';
import { escapeHtml, page, scriptHash, setPageHeaders } from './html.js';
import { reportFailure } from './respond.js';
import { requestIdOf } from './request-id.js';
import { hasSession, logIn, missingSession, signedInEmailDigest } from './session.js';

// Human sentences for the page; the JSON API keeps the catalogue's wording.
const PAGE_SENTENCES: Partial<Record<MagicLinkError['code'], string>> = {
  magic_link_not_found: 'This sign-in link is not valid. It may be incomplete, or it expired a while ago.',
  magic_link_expired: 'This sign-in link has expired. Request a new one and use it within its time limit.',
  magic_link_already_used: 'This sign-in link has already been used. Each link works only once.',
  magic_link_ip_limit_exceeded: 'Too many sign-in attempts from your network. Please wait and try again.',
  account_not_found: 'No account was found for this email address.',
  cross_site_request: 'This sign-in form has expired or came from another site. Open the link from your email again.',
  invalid_request_body: 'The sign-in form was incomplete. Open the link from your email again.',
  validation_error: 'The sign-in form was incomplete. Open the link from your email again.',
  service_unavailable: 'The sign-in service is temporarily unavailable. Your link has not been used: try again in a moment.',
  internal_error: 'Something went wrong on our side. Your link may still work: try again in a moment.',
};

const COOKIE_PREFIX = 'mlc_';
const NAME_SHAPE = /^[A-Za-z0-9_-]{8}$/;
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** Cookies looked at on a POST: a browser holds one per confirm page it loaded in the last minutes. */
const MAX_COOKIES = 20;

function queryToken(req: Request): string {
  const value: unknown = req.query.token;
  // Mail clients and people paste links with a trailing dot or bracket; a token has neither.
  return typeof value === 'string' ? value.trim().replace(/[.,;:!?)\]>'"]+$/, '') : '';
}

/** `__Secure-` on https, so a sibling subdomain over http cannot plant one. */
function cookiePrefix(service: SignInService): string {
  return service.config.baseUrl.protocol === 'https:' ? `__Secure-${COOKIE_PREFIX}` : COOKIE_PREFIX;
}

/** The browser's confirm secrets from the Cookie header, by cookie name suffix. */
function browserSecrets(service: SignInService, req: Request): Map<string, string> {
  const prefix = cookiePrefix(service);
  const found = new Map<string, string>();
  const header = req.headers.cookie;
  if (typeof header !== 'string') return found;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq > 0 && name.startsWith(prefix) && NAME_SHAPE.test(name.slice(prefix.length)) && SECRET_SHAPE.test(value)) {
      found.set(name.slice(prefix.length), value);
      if (found.size >= MAX_COOKIES) break;
    }
  }
  return found;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function safeTarget(service: SignInService, content: { redirect: string | null }): string {
  return content.redirect ?? service.config.successRedirect;
}

function signInHref(service: SignInService): string {
  return service.config.baseUrl.pathname.replace(/\/+$/, '') + service.config.signInPath;
}

function alreadySignedIn(service: SignInService, content: LinkContent): string {
  return `<h1>You're already signed in</h1>
<p>This browser is signed in as <strong>${escapeHtml(maskEmail(content.email))}</strong>.</p>
<p><a class="button" href="${escapeHtml(safeTarget(service, content))}">Continue</a></p>`;
}

function minutesText(ms: number): string {
  if (ms < 90_000) return `${Math.max(1, Math.round(ms / 1000))} seconds`;
  const minutes = Math.round(ms / 60_000);
  return minutes >= 120 ? `${Math.round(minutes / 60)} hours` : `${minutes} minutes`;
}

// The button disables itself after the first press; the form works the same without script.
const PRESS_ONCE =
  "document.currentScript.previousElementSibling.addEventListener('submit',function(e){var b=e.target.querySelector('button');setTimeout(function(){b.disabled=true;b.textContent=b.dataset.busy||'Signing in…'},0)})";

/** The form's page binding: where it posts, the token, and this page load's cookie name and nonce. */
interface PageForm {
  readonly req: Request;
  readonly token: string;
  readonly cookieName: string;
  readonly nonce: string;
}

function hiddenForm(form: PageForm, label: string, options: { action?: string; inner?: string; secondary?: boolean; busy?: string } = {}): string {
  return `<form method="post" action="${escapeHtml(form.req.baseUrl + form.req.path)}">
<input type="hidden" name="token" value="${escapeHtml(form.token)}">
<input type="hidden" name="page" value="${escapeHtml(form.cookieName)}">
<input type="hidden" name="nonce" value="${escapeHtml(form.nonce)}">
${options.action ? `<input type="hidden" name="action" value="${options.action}">\n` : ''}${options.inner ?? ''}<p><button type="submit"${options.secondary ? ' class="secondary"' : ''}${options.busy ? ` data-busy="${options.busy}"` : ''}>${escapeHtml(label)}</button></p>
</form><script>${PRESS_ONCE}</script>`;
}

function confirmForm(service: SignInService, form: PageForm, content: LinkContent, expiresAt: number): string {
  return `<h1>Sign in to ${escapeHtml(service.config.appName)}</h1>
<p>You are signing in as <strong>${escapeHtml(maskEmail(content.email))}</strong>.</p>
${hiddenForm(form, 'Sign in')}
<p class="muted">This link works once and expires in about ${minutesText(expiresAt - service.config.now())}. If you did not ask to sign in, close this page.</p>`;
}

/**
 * In a browser other than the one that asked (SPEC §8): approve the asking device with the number
 * its screen shows, sign in here instead, or say it was not you. The number is never on this page.
 */
function crossDeviceForm(service: SignInService, form: PageForm, content: LinkContent, expiresAt: number, wrongShape = false): string {
  const asked = content.asked;
  const since = asked ? service.config.now() - asked.at : Infinity;
  const when = since < 60_000 ? 'just now' : Number.isFinite(since) ? `${minutesText(since)} ago` : 'recently';
  const error = wrongShape ? '<p id="match-error" class="error" role="alert">Type the 2-digit number that the other device shows.</p>\n' : '';
  const matchField = `<label for="match">Number shown on the other device</label>
${error}<input id="match" name="match" type="text" inputmode="numeric" pattern="[0-9]*" maxlength="2" autocomplete="off" required${wrongShape ? ' aria-invalid="true" aria-describedby="match-error" autofocus' : ''}>
`;
  return `<h1>Sign in to ${escapeHtml(service.config.appName)}</h1>
<p>A sign-in as <strong>${escapeHtml(maskEmail(content.email))}</strong> was asked for ${when} from <strong>${escapeHtml(asked?.from ?? 'another browser')}</strong>.</p>
<h2>Approve the other device</h2>
<p>Approving signs in the device that asked, not this one. Type the number it shows: a wrong number cancels this link.</p>
${hiddenForm(form, 'Approve the other device', { action: 'approve', inner: matchField, busy: 'Approving…' })}
<h2>Or sign in on this device</h2>
${hiddenForm(form, 'Sign in on this device', { action: 'sign_in' })}
<h2>Didn't ask to sign in?</h2>
${hiddenForm(form, 'Not me: cancel this sign-in', { action: 'deny', secondary: true, busy: 'Cancelling…' })}
<p class="muted">This link works once and expires in about ${minutesText(expiresAt - service.config.now())}.</p>`;
}

function approvalDone(outcome: 'approved' | 'wrong_number' | 'not_me'): { title: string; body: string } {
  if (outcome === 'approved') {
    return {
      title: 'Approved',
      body: `<h1>Approved</h1>
<p>The other device is signing in now. You are not signed in on this device; you can close this page.</p>`,
    };
  }
  const why = outcome === 'wrong_number' ? "That number didn't match the other device, so" : 'You said it was not you, so';
  return {
    title: 'Sign-in cancelled',
    body: `<h1>Sign-in cancelled</h1>
<p>${why} this link no longer works and nobody was signed in with it. If it was you, ask for a new link on the device you want to use.</p>`,
  };
}

/** The session could not be saved after the redeem: the same form again, which replays the redeem for this browser. */
function notFinished(form: PageForm): string {
  return `<h1>You're not signed in yet</h1>
<p>Your link worked, but we could not save your sign-in. It still works in this browser for the next ${minutesText(REPLAY_WINDOW_MS)}: try again in a moment.</p>
${hiddenForm(form, 'Try again')}`;
}

function failurePage(service: SignInService, error: MagicLinkError, requestId: string): string {
  const sentence = PAGE_SENTENCES[error.code] ?? errorCatalogue[error.code].message;
  const wait = error.retryAfter !== null && error.status === 429 ? ` Try again in ${minutesText(error.retryAfter * 1000)}.` : '';
  const action =
    error.status >= 500
      ? '<p><a class="button" href="">Try again</a></p>'
      : error.status === 429
        ? ''
        : `<p><a class="button" href="${escapeHtml(signInHref(service))}">Request a new link</a></p>`;
  return `<h1>Can't sign you in</h1>
<p>${escapeHtml(sentence + wait)}</p>
${action}
<p class="muted">Reference: ${escapeHtml(requestId)}</p>`;
}

const PRESS_ONCE_HASH = [scriptHash(PRESS_ONCE)];

function sendPage(res: Response, status: number, title: string, body: string): void {
  setPageHeaders(res, PRESS_ONCE_HASH);
  res.statusCode = status;
  res.end(page(title, body));
}

function sendFailurePage(service: SignInService, req: Request, res: Response, error: unknown): void {
  const rendered = reportFailure(service.config.onError, req, res, error);
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

function setConfirmCookie(service: SignInService, req: Request, res: Response, name: string, secret: string): void {
  const { config } = service;
  const secure = config.baseUrl.protocol === 'https:' ? '; Secure' : '';
  const path = req.baseUrl + req.path;
  const maxAge = config.maxTtlSeconds + 300;
  res.append('Set-Cookie', `${cookiePrefix(service)}${name}=${secret}; Path=${path}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`);
}

export function createConfirmPageHandler(service: SignInService) {
  return async function confirmPageMiddleware(req: Request, res: Response): Promise<void> {
    requestIdOf(req, res);
    try {
      const token = queryToken(req);
      const state = await service.inspect(clientOf(req), token);
      // The asking browser signs in as ever; another one may approve it instead, signed in or not.
      const otherDevice =
        state.status === 'valid' && state.attemptCheck !== null && !service.isAskingBrowser(token, state.attemptCheck, attemptCookieOf(service, req));
      if (!otherDevice && state.status !== 'not_found' && signedInEmailDigest(req) === state.content.emailDigest) {
        sendPage(res, 200, "You're already signed in", alreadySignedIn(service, state.content));
        return;
      }
      if (state.status !== 'valid') throw new MagicLinkError(REDEEM_CODES[state.status]);
      const name = randomBytes(6).toString('base64url');
      const secret = randomBytes(32).toString('base64url');
      setConfirmCookie(service, req, res, name, secret);
      const form = { req, token, cookieName: name, nonce: service.browserDigest('nonce', secret) };
      const body = otherDevice ? crossDeviceForm(service, form, state.content, state.expiresAt) : confirmForm(service, form, state.content, state.expiresAt);
      sendPage(res, 200, `Sign in to ${service.config.appName}`, body);
    } catch (error) {
      sendFailurePage(service, req, res, error);
    }
  };
}

/** The form's page cookie: present and matching its nonce, or the POST is refused as cross-site. */
function pressingSecret(service: SignInService, body: Record<string, unknown>, secrets: Map<string, string>): string {
  const name = body.page;
  const nonce = body.nonce;
  const secret = typeof name === 'string' ? secrets.get(name) : undefined;
  if (secret === undefined || typeof nonce !== 'string' || !sameText(nonce, service.browserDigest('nonce', secret))) {
    throw new MagicLinkError('cross_site_request');
  }
  return secret;
}

/** Fields of the confirm form besides the token. */
const FORM_FIELDS = new Set(['page', 'nonce', 'action', 'match']);

/** Approve (`typed`: the number field) or "Not me" (null), from a browser other than the asking one. */
async function answerOtherDevice(service: SignInService, res: Response, form: PageForm, typed: unknown): Promise<void> {
  const client = clientOf(form.req);
  const match = typed === null ? null : parseMatch(typed);
  if (typed !== null && match === null) {
    // Not two digits: nothing is spent; the same page again, saying what to type.
    const state = await service.inspect(client, form.token);
    if (state.status !== 'valid') throw new MagicLinkError(REDEEM_CODES[state.status]);
    sendPage(res, 422, `Sign in to ${service.config.appName}`, crossDeviceForm(service, form, state.content, state.expiresAt, true));
    return;
  }
  const outcome = await service.approve(client, form.token, match);
  const done = approvalDone(outcome === 'approved' ? 'approved' : match === null ? 'not_me' : 'wrong_number');
  sendPage(res, 200, done.title, done.body);
}

export function createConfirmFormHandler(service: SignInService) {
  const { config } = service;
  return async function confirmFormMiddleware(req: Request, res: Response): Promise<void> {
    requestIdOf(req, res);
    try {
      assertSameSite(req, config.baseUrl.origin);
      if (!hasSession(req)) throw missingSession('magicLink.confirmFormHandler()');
      const body = await readFormBody(req, res);
      const credential = readCredential(Object.fromEntries(Object.entries(body).filter(([key]) => !FORM_FIELDS.has(key))), 'token');
      if (credential instanceof MagicLinkError) throw credential;
      const secrets = browserSecrets(service, req);
      const pressing = pressingSecret(service, body, secrets);
      const form = { req, token: String(body.token), cookieName: String(body.page), nonce: String(body.nonce) };
      if ((body.action === 'approve' || body.action === 'deny') && 'token' in credential) {
        await answerOtherDevice(service, res, form, body.action === 'deny' ? null : body.match);
        return;
      }
      if (body.action !== undefined && body.action !== 'sign_in') throw new MagicLinkError('validation_error');
      // The pressing page's secret is kept with the redeem; any page of this browser may replay it.
      const others = [...secrets.values()].filter((secret) => secret !== pressing);
      const client = clientOf(req);
      const signedIn = await service.signIn(client, credential, req, [pressing, ...others]);
      if (signedIn.kind !== 'success') {
        // Spent, but this browser is already signed in as the link's owner: send it on, not to an error.
        if (signedIn.error instanceof MagicLinkError && signedIn.error.code === 'magic_link_already_used' && 'token' in credential) {
          const state = await service.inspect(client, credential.token).catch(() => null);
          if (state && state.status !== 'not_found' && signedInEmailDigest(req) === state.content.emailDigest) {
            res.setHeader('Cache-Control', 'no-store');
            res.redirect(303, safeTarget(service, state.content));
            return;
          }
        }
        throw signedIn.error;
      }
      try {
        await logIn(req, signedIn.user, signedIn.info);
      } catch (error) {
        // Redeemed, but the session store failed: say so, and let this browser replay its redeem.
        reportFailure(config.onError, req, res, error);
        res.setHeader('Retry-After', String(UNAVAILABLE_RETRY_SECONDS));
        sendPage(res, 503, 'Not signed in yet', notFinished(form));
        return;
      }
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Referrer-Policy', 'no-referrer');
      // The target was checked when the link was requested and stored sealed with it.
      res.redirect(303, safeTarget(service, signedIn.info));
    } catch (error) {
      sendFailurePage(service, req, res, error);
    }
  };
}
