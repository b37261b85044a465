// Sign-in events for observability: typed, free of addresses and tokens, and never able to change
// an HTTP answer (handlers run after the response path, and their failures are swallowed).
import { isoSeconds } from '../errors.js';
import type { MagicLinkEvent } from '../types.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event as the library builds it, before the common fields are filled in. */
export type EventDetails = DistributiveOmit<MagicLinkEvent, 'timestamp'>;

export type EventHandler = (event: MagicLinkEvent) => void | Promise<void>;

/** Calls the handler after the current work, so neither its time nor its errors reach the request. */
export function emitEvent(handler: EventHandler | undefined, details: EventDetails, now: number): void {
  if (!handler) return;
  const event = { ...details, timestamp: isoSeconds(now) } as MagicLinkEvent;
  setImmediate(() => {
    try {
      const result = handler(event);
      if (result && typeof result.catch === 'function') result.catch(() => undefined);
    } catch {
      // An observer's failure is its own business.
    }
  });
}
