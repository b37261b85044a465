// Scrubs what the default logger prints: a mailer's error can quote the address or the link.
import { inspect } from 'node:util';
import { TOKEN_LENGTH } from './tokens.js';

// Tokens are runs of exactly TOKEN_LENGTH base64url characters; longer runs are left alone.
const TOKEN = new RegExp(`(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{${TOKEN_LENGTH}}(?![A-Za-z0-9_-])`, 'g');
const EMAIL = /([\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]*@([\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+)/gu;

export function redact(text: string): string {
  return text.replace(TOKEN, '[token]').replace(EMAIL, '$1•••@$2');
}

/** An error (or anything thrown) as one redacted string, stack included. */
export function describeForLog(value: unknown): string {
  return redact(value instanceof Error ? (value.stack ?? `${value.name}: ${value.message}`) : inspect(value, { depth: 2 }));
}
