// The two credentials a sign-in body can carry: `{token}` from a link, `{email, code}` from the mail.
// Every failing field is reported, one `details` entry each.
import type { Request } from 'express';
import type { MagicLinkError, ValidationIssue } from '../errors.js';
import type { Credential } from '../sign-in/records.js';
import { invalidEmail, MAX_EMAIL_FIELD, readStringField, validationError } from './body.js';
import { normalizeEmail } from '../sign-in/email.js';

/** Which credentials a route takes: the package's handlers take one each; an app's own route either. */
export type Accepts = 'token' | 'code' | 'either';

const extra = (name: string, hint: string): ValidationIssue => ({
  loc: ['body', name],
  msg: `Extra inputs are not permitted; ${hint}`,
  type: 'extra_forbidden',
});

function readToken(body: Record<string, unknown>, issues: ValidationIssue[]): string | undefined {
  const token = readStringField(body, 'token', { where: 'body', required: true, maxLength: 512, secret: true });
  if (token.issue) issues.push(token.issue);
  return token.value;
}

function readCode(body: Record<string, unknown>, issues: ValidationIssue[]): { email?: string; code?: string } {
  // An address is personal data: like tokens and codes, it is never echoed back as `input`.
  const email = readStringField(body, 'email', { where: 'body', required: true, maxLength: MAX_EMAIL_FIELD, secret: true });
  const code = readStringField(body, 'code', { where: 'body', required: true, maxLength: 64, secret: true });
  if (email.issue) issues.push(email.issue);
  if (code.issue) issues.push(code.issue);
  return { ...(email.value === undefined ? {} : { email: email.value }), ...(code.value === undefined ? {} : { code: code.value }) };
}

/**
 * Reads the credential a route accepts. With `either`, a body with `token` is a link and one with
 * `email` or `code` an exchange; both at once is refused rather than guessed.
 */
export function readCredential(body: Record<string, unknown>, accepts: Accepts): Credential | MagicLinkError {
  const has = (name: string): boolean => Object.hasOwn(body, name);
  const issues: ValidationIssue[] = [];
  const byCode = accepts === 'code' || (accepts === 'either' && !has('token') && (has('email') || has('code')));
  if (!byCode) {
    const token = readToken(body, issues);
    for (const name of ['email', 'code']) if (has(name)) issues.push(extra(name, 'send {token} only'));
    if (issues.length > 0) return validationError(issues);
    return { token: token! };
  }
  if (has('token')) issues.push(extra('token', 'send {email, code}'));
  const { email, code } = readCode(body, issues);
  if (issues.length > 0) return validationError(issues);
  const checked = normalizeEmail(email!);
  return checked.ok ? { email: checked.email, code: code! } : invalidEmail(checked.reason);
}

/** A client's own name for one redeem: long and random (a UUID will do), visible ASCII. */
const RETRY_KEY = /^[\x21-\x7e]{16,255}$/;

/**
 * The `Idempotency-Key` header of a link redeem, as the secret its redeem is bound to: a retry with
 * the same key, after an answer that never arrived or a 503, finishes the sign-in within the replay
 * window, as the confirm form's browser can. Without the header, a redeem is bound to nothing.
 */
export function readRetryKey(req: Request): string[] | MagicLinkError {
  const key = req.headers?.['idempotency-key'];
  if (key === undefined) return [];
  if (typeof key === 'string' && RETRY_KEY.test(key)) return [`idempotency-key:${key}`];
  return validationError([
    {
      loc: ['header', 'idempotency-key'],
      msg: 'Idempotency-Key must be 16 to 255 visible ASCII characters, random for each sign-in (a UUID will do)',
      type: 'value_error',
    },
  ]);
}
