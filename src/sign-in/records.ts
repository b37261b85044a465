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
}

/** A link as the confirm page sees it, without consuming it. */
export type LinkState =
  { readonly status: 'valid' | 'already_used' | 'expired'; readonly content: LinkContent; readonly expiresAt: number } | { readonly status: 'not_found' };

/** The catalogue code of each way a redeem can fail. */
export const REDEEM_CODES = {
  not_found: 'magic_link_not_found',
  expired: 'magic_link_expired',
  already_used: 'magic_link_already_used',
} as const;

/** Opens a record with its token; null when the token did not seal it. */
export function openRecord(digestOf: (email: string) => string, token: string, record: TokenRecord): LinkContent | null {
  const content = unseal(token, record.sealed);
  return content && { email: content.email, emailDigest: digestOf(content.email), redirect: content.redirect, data: parseData(content.data) };
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
