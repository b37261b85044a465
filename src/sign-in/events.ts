// Sign-in events for observability: typed, free of addresses and tokens, and never able to change
// an HTTP answer (handlers run after the response path, and their failures are swallowed).
import { isoSeconds } from '../errors.js';
import type { MagicLinkEvent, MagicLinkEventType } from '../types.js';

type EventOf<T extends MagicLinkEventType> = Extract<MagicLinkEvent, { readonly type: T }>;
/** What an event carries beyond its type and the fields every event has. */
export type EventFields<T extends MagicLinkEventType> = Omit<EventOf<T>, 'type' | 'requestId' | 'emailDigest' | 'ipKey' | 'timestamp'>;

export type EventHandler = (event: MagicLinkEvent) => void | Promise<void>;

/** The fields every event has, filled in by the service. */
export interface EventContext {
  readonly requestId: string;
  readonly emailDigest: string | null;
  readonly ipKey: string;
}

/** Calls the handler after the current work, so neither its time nor its errors reach the request. */
export function emitEvent<T extends MagicLinkEventType>(handler: EventHandler, type: T, fields: EventFields<T>, context: EventContext, now: number): void {
  // The one place an event is assembled: `type` and `fields` belong together by EventFields<T>.
  const event = { type, ...fields, ...context, timestamp: isoSeconds(now) } as unknown as MagicLinkEvent;
  setImmediate(() => {
    try {
      const result = handler(event);
      if (result && typeof result.catch === 'function') result.catch(() => undefined);
    } catch {
      // An observer's failure is its own business.
    }
  });
}
