// The sign-in's own vocabulary: who asks, with what credential, and what a link's stored record
// opens to once the token that sealed it is presented.
import type { TokenRecord } from '../stores/contract.js';
import type { MagicLinkError } from '../errors.js';
import type { LinkData, MagicLinkAuthInfo } from '../types.js';
import { unseal } from './tokens.js';

/** What a token opens to: the canonical email, its digest, the stored redirect and the app's data. */
export interface LinkContent {
  readonly email: string;
  readonly emailDigest: string;
  readonly redirect: string | null;
  /** The app's data sealed with the link (`magicLink.requestLink(req, { data })`); a code cannot open it. */
  readonly data?: LinkData | undefined;
  /** With a cross-device attempt: when the link was asked for, and from what kind of browser. */
  readonly asked?: { readonly at: number; readonly from: string } | undefined;
}

/** A link as the confirm page sees it, without consuming it. */
export type LinkState =
  | {
      readonly status: 'valid' | 'already_used' | 'expired';
      readonly content: LinkContent;
      readonly expiresAt: number;
      /** The digest that names the asking browser of the link's cross-device attempt; null without one. */
      readonly attemptCheck: string | null;
    }
  | { readonly status: 'not_found' };

/** The catalogue code of each way a redeem can fail. */
export const REDEEM_CODES = {
  not_found: 'magic_link_not_found',
  expired: 'magic_link_expired',
  already_used: 'magic_link_already_used',
} as const;

/** Opens a record with its token; null when the token did not seal it. */
export function openRecord(digestOf: (email: string) => string, token: string, record: TokenRecord): LinkContent | null {
  const content = unseal(token, record.sealed);
  return (
    content && {
      email: content.email,
      emailDigest: digestOf(content.email),
      redirect: content.redirect,
      data: parseData(content.data),
      asked: parseAsked(content.attempt),
    }
  );
}

/** What a cross-device attempt opens to with the asking browser's secret; null when it did not seal it. */
export function openAttempt(
  secret: string,
  sealed: string,
): { email: string; redirect: string | null; data: LinkData | undefined; match: number | null } | null {
  const content = unseal(secret, sealed);
  if (!content) return null;
  const match = Number(content.attempt);
  return { email: content.email, redirect: content.redirect, data: parseData(content.data), match: Number.isInteger(match) ? match : null };
}

/** `<ms>:<browser family>`, as the link request sealed it. */
function parseAsked(text: string | undefined): LinkContent['asked'] {
  const sep = text?.indexOf(':') ?? -1;
  if (text === undefined || sep <= 0) return undefined;
  const at = Number(text.slice(0, sep));
  return Number.isFinite(at) ? { at, from: text.slice(sep + 1) } : undefined;
}

/** Sealed data is ours (written by `requestLink`), so it parses; anything else reads as none. */
function parseData(json: string | undefined): LinkData | undefined {
  if (json === undefined) return undefined;
  try {
    const data: unknown = JSON.parse(json);
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as LinkData) : undefined;
  } catch {
    return undefined;
  }
}

/** Who is asking: a validated address (or null) and the request's id. Nothing else of the request. */
export interface Client {
  readonly ip: string | null;
  readonly requestId: string;
}

/** `{token}` from a link, or `{email, code}` from the mail (the email already canonical). */
export type Credential = { readonly token: string } | { readonly email: string; readonly code: string };

export type SignInResult =
  | { readonly kind: 'success'; readonly user: Express.User; readonly info: MagicLinkAuthInfo }
  | { readonly kind: 'fail'; readonly error: MagicLinkError }
  | { readonly kind: 'error'; readonly error: Error };

export interface IssuedLink {
  readonly email: string;
  readonly expiresAt: number;
  readonly sentAt: number;
  readonly ttlSeconds: number;
}

/** What one link request may carry beyond the address: its own lifetime, and app data. */
export interface LinkExtras {
  readonly ttlSeconds?: number | undefined;
  readonly data?: LinkData | undefined;
}
