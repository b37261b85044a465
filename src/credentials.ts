// The two credentials a sign-in body can carry: `{token}` from a link, `{email, code}` from the mail.
import { invalidEmail, readStringField, validationError } from './body.js';
import { normalizeEmail } from './email.js';
import type { MagicLinkError } from './errors.js';

export type TokenCredential = { readonly token: string };
export type CodeCredential = { readonly email: string; readonly code: string };
export type Credential = TokenCredential | CodeCredential;

export function readTokenCredential(body: Record<string, unknown>): TokenCredential | MagicLinkError {
  const token = readStringField(body, 'token', { where: 'body', required: true, maxLength: 512, secret: true });
  return token.issue ? validationError([token.issue]) : { token: token.value! };
}

export function readCodeCredential(body: Record<string, unknown>): CodeCredential | MagicLinkError {
  const email = readStringField(body, 'email', { where: 'body', required: true, maxLength: 318, secret: true });
  const code = readStringField(body, 'code', { where: 'body', required: true, maxLength: 64, secret: true });
  const issues = [email.issue, code.issue].filter((issue) => issue !== undefined);
  if (issues.length > 0) return validationError(issues);
  const checked = normalizeEmail(email.value!);
  return checked.ok ? { email: checked.email, code: code.value! } : invalidEmail(checked.reason);
}

/** A body with `code` or `email` and no `token` is an exchange; anything else is read as a link. */
export function readCredential(body: Record<string, unknown>): Credential | MagicLinkError {
  const isExchange = !Object.hasOwn(body, 'token') && (Object.hasOwn(body, 'code') || Object.hasOwn(body, 'email'));
  return isExchange ? readCodeCredential(body) : readTokenCredential(body);
}
