// Which address domains may sign in (`allowedDomains`, `blockedDomains`): patterns checked once at
// construction, then compared with the canonical address's domain (lower case, ASCII/punycode, no
// trailing dot), so `Ex.COM.`, `ex.com` and an IDN's Unicode and punycode forms are one domain.
import { domainToASCII } from 'node:url';

/** A parsed pattern: an exact domain, or every subdomain of one (`*.example.com`, not the apex). */
interface DomainPattern {
  readonly domain: string;
  readonly subdomains: boolean;
}

export interface DomainPolicy {
  /** True when an address at `domain` (canonical form) may sign in. */
  allows(domain: string): boolean;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Parses one pattern, or says what is wrong with it and what was probably meant: an address, a
 * URL, a wildcard not followed by a dot, or a wildcard anywhere but in front.
 */
export function parseDomainPattern(raw: string): { ok: true; pattern: DomainPattern } | { ok: false; problem: string; suggestion?: string } {
  let text = raw.trim().toLowerCase();
  if (text.endsWith('.')) text = text.slice(0, -1);
  const url = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/.exec(text);
  if (url) return { ok: false, problem: 'is a URL', suggestion: url[1]!.replace(/^.*@/, '').replace(/:\d+$/, '') };
  if (text.includes('@')) return { ok: false, problem: 'is an address, not a domain', suggestion: text.slice(text.lastIndexOf('@') + 1) };
  const subdomains = text.startsWith('*.');
  if (!subdomains && text.startsWith('*'))
    return { ok: false, problem: 'has a wildcard without a dot after it', suggestion: `*.${text.slice(1).replace(/^\.+/, '')}` };
  const body = subdomains ? text.slice(2) : text;
  if (body.includes('*'))
    return { ok: false, problem: 'has a wildcard that is not the first label', suggestion: `*.${body.slice(body.lastIndexOf('*') + 1).replace(/^\.+/, '')}` };
  const ascii = /[\x00-\x20\x7f]/.test(body) ? '' : domainToASCII(body);
  const labels = ascii.split('.');
  if (ascii === '' || labels.length < 2 || !labels.every((label) => LABEL.test(label))) return { ok: false, problem: 'is not a domain such as "example.com"' };
  return { ok: true, pattern: { domain: ascii, subdomains } };
}

function matches(pattern: DomainPattern, domain: string): boolean {
  return pattern.subdomains ? domain.endsWith(`.${pattern.domain}`) : domain === pattern.domain;
}

/** The policy of the two lists; a domain on the blocked list is refused even when also allowed. */
export function domainPolicy(allowed: readonly DomainPattern[] | null, blocked: readonly DomainPattern[]): DomainPolicy | null {
  if (allowed === null && blocked.length === 0) return null;
  return {
    allows(domain) {
      if (blocked.some((pattern) => matches(pattern, domain))) return false;
      return allowed === null || allowed.some((pattern) => matches(pattern, domain));
    },
  };
}

export type { DomainPattern };
