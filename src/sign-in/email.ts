// Email addresses: one canonical form for keys, mail and the verify callback, and a masked form for pages.
import { domainToASCII, domainToUnicode } from 'node:url';

/** An address is at most 254 octets (RFC 5321). */
export const MAX_ADDRESS_OCTETS = 254;
const MAX_LOCAL_OCTETS = 64;
// RFC 5322 dot-atom, widened to Unicode letters and marks (RFC 6531); no quoted local parts.
const LOCAL_PART = /^[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type EmailCheck = { readonly ok: true; readonly email: string } | { readonly ok: false; readonly reason: 'too_long' | 'invalid' };

// Most sign-ins come from a few domains: remember recent verdicts (bounded, so a spray cannot grow it).
const DOMAIN_CACHE = 1_000;
const asciiDomains = new Map<string, string | null>();

/** A domain (lower-cased, NFC, no trailing dot) in its ASCII form, or null when it is no mail domain. */
function asciiDomainOf(domain: string): string | null {
  let ascii = asciiDomains.get(domain);
  if (ascii === undefined) {
    // domainToASCII answers '' for whatever IDNA rejects; ASCII controls and spaces are ruled out first.
    const converted = /[\x00-\x20\x7f]/.test(domain) ? '' : domainToASCII(domain);
    const labels = converted.split('.');
    const valid = converted !== '' && labels.length >= 2 && labels.every((label) => DOMAIN_LABEL.test(label)) && !/^[0-9]+$/.test(labels[labels.length - 1]!);
    ascii = valid ? converted : null;
    if (asciiDomains.size >= DOMAIN_CACHE) asciiDomains.clear();
    asciiDomains.set(domain, ascii);
  }
  return ascii;
}

/**
 * Trimmed, Unicode NFC, lower-cased, domain in its ASCII (punycode) form without a trailing dot.
 * Sub-addresses stay distinct: `a+x@d.com` and `a+y@d.com` are two addresses.
 */
export function normalizeEmail(input: string): EmailCheck {
  const trimmed = input.trim().normalize('NFC').toLowerCase();
  if (Buffer.byteLength(trimmed, 'utf8') > MAX_ADDRESS_OCTETS + 1) return { ok: false, reason: 'too_long' };
  const at = trimmed.indexOf('@');
  if (at <= 0 || at !== trimmed.lastIndexOf('@')) return { ok: false, reason: 'invalid' };
  const local = trimmed.slice(0, at);
  let domain = trimmed.slice(at + 1);
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  if (Buffer.byteLength(local, 'utf8') > MAX_LOCAL_OCTETS || !LOCAL_PART.test(local)) {
    return { ok: false, reason: 'invalid' };
  }
  const asciiDomain = asciiDomainOf(domain);
  if (asciiDomain === null) return { ok: false, reason: 'invalid' };
  const email = `${local}@${asciiDomain}`;
  if (Buffer.byteLength(email, 'utf8') > MAX_ADDRESS_OCTETS) return { ok: false, reason: 'too_long' };
  return { ok: true, email };
}

/** `alice@example.com` → `a•••@example.com`: enough to recognise the account, not to harvest it. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const first = Array.from(email.slice(0, at))[0] ?? '';
  return `${first}•••@${domainToUnicode(email.slice(at + 1)) || email.slice(at + 1)}`;
}

const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * The mailbox an address delivers to, for limiting only (never identity or delivery): `+tag`
 * stripped, and for Gmail dots dropped and `googlemail.com` folded. So `a.b+x@googlemail.com` and
 * `ab@gmail.com` share one per-email link budget.
 */
export function mailboxOf(normalizedEmail: string): string {
  const at = normalizedEmail.lastIndexOf('@');
  let local = normalizedEmail.slice(0, at);
  let domain = normalizedEmail.slice(at + 1);
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  if (GMAIL_DOMAINS.has(domain)) {
    local = local.replaceAll('.', '');
    domain = 'gmail.com';
  }
  return `${local}@${domain}`;
}
