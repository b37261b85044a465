// The default `onError`: one redacted line per 5xx. A mailer's error can quote the address or the link.
import { inspect } from 'node:util';
import { MagicLinkError } from '../errors.js';

// Runs of 40–64 base64url characters (tokens, secrets); emails keep their first letter and domain.
const TOKEN = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,64}(?![A-Za-z0-9_-])/g;
const EMAIL = /([\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]*@([\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+)/gu;

export function redact(text: string): string {
  return text.replace(TOKEN, '[token]').replace(EMAIL, '$1•••@$2');
}

/** An error (or anything thrown) as one redacted string, stack included. */
export function describeForLog(value: unknown): string {
  return redact(value instanceof Error ? (value.stack ?? `${value.name}: ${value.message}`) : inspect(value, { depth: 2 }));
}

/** The default `onError`: one redacted line (and stack) per 5xx, tagged with the request id. */
export function logToConsole(error: unknown, requestId: string): void {
  const cause = error instanceof MagicLinkError && error.cause !== undefined ? error.cause : error;
  console.error(`[express-magic-link] ${requestId} ${describeForLog(cause)}`);
}
