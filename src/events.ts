// Sign-in events for observability: typed, free of addresses and tokens, and never able to change
// an HTTP answer (handlers run after the response path, and their failures are swallowed).
import type { ErrorCode } from './errors.js';

/** Every event carries these. */
export interface MagicLinkEventBase {
  /** The request's id (as in `X-Request-Id`). */
  readonly requestId: string;
  /** base64url SHA-256 of the canonical email; null when the request named no known email. */
  readonly emailDigest: string | null;
  /** The client's limiter key: its IP, IPv4-mapped folded, IPv6 as its subnet. */
  readonly ipKey: string;
  /** UTC to the second: `2026-05-25T12:34:56Z`. */
  readonly timestamp: string;
}

export type MagicLinkEvent = MagicLinkEventBase &
  (
    | { readonly type: 'link_requested' }
    | { readonly type: 'link_sent' }
    | { readonly type: 'mail_failed'; readonly code: 'email_delivery_failed' }
    | {
        readonly type: 'limit_exceeded';
        readonly code: 'magic_link_ip_limit_exceeded' | 'magic_link_email_limit_exceeded' | 'exchange_code_attempt_limit_exceeded';
      }
    | { readonly type: 'link_redeemed' }
    | { readonly type: 'redeem_rejected'; readonly code: ErrorCode }
    | { readonly type: 'code_redeemed' }
    | { readonly type: 'code_rejected'; readonly code: ErrorCode }
  );

export type MagicLinkEventType = MagicLinkEvent['type'];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event as the library builds it, before the common fields are filled in. */
export type EventDetails = DistributiveOmit<MagicLinkEvent, 'timestamp'>;

export type EventHandler = (event: MagicLinkEvent) => void | Promise<void>;

/** Calls the handler after the current work, so neither its time nor its errors reach the request. */
export function emitEvent(handler: EventHandler | undefined, details: EventDetails, now: number): void {
  if (!handler) return;
  const event = { ...details, timestamp: new Date(Math.floor(now / 1000) * 1000).toISOString().replace('.000Z', 'Z') } as MagicLinkEvent;
  setImmediate(() => {
    try {
      const result = handler(event);
      if (result && typeof (result as Promise<void>).catch === 'function') (result as Promise<void>).catch(() => undefined);
    } catch {
      // An observer's failure is its own business.
    }
  });
}
