// Policy an app sets on link requests (SPEC §9): which domains may sign in, and its own gate
// (`beforeSend`) whose silent "no" must look like a sent link.
import type { Request } from 'express';
import type { DomainPolicy } from '../config/domains.js';
import type { MagicLinkConfig } from '../config/options.js';
import { MagicLinkError } from '../errors.js';
import { withDeadline } from './deadline.js';
import { unavailable, type Counter, type Limits } from './limits.js';

/** `allowedDomains` / `blockedDomains`: public policy, so refusing leaks no account; checked before any budget. */
export function assertDomainAllowed(domains: DomainPolicy | null, email: string): void {
  if (domains && !domains.allows(email.slice(email.lastIndexOf('@') + 1))) {
    throw new MagicLinkError('invalid_email', {
      details: [{ loc: ['body', 'email'], msg: "this address's domain may not sign in here", type: 'domain_not_allowed' }],
    });
  }
}

/** The app's hook, bounded like the mailer: its MagicLinkError is the answer, anything else a 503. */
export async function askBeforeSend(config: MagicLinkConfig, request: Request, email: string): Promise<boolean> {
  const hook = config.beforeSend!;
  try {
    const verdict = await withDeadline(
      Promise.resolve().then(() => hook(request, { email })),
      config.mailTimeoutMs,
      'beforeSend',
    );
    return verdict !== false;
  } catch (error) {
    throw error instanceof MagicLinkError ? error : unavailable(error);
  }
}

/**
 * A link request with a `beforeSend` hook: the client's budget, then the hook, then the address's
 * budget and `save`. A hook that refuses keeps the client's point (a failed CAPTCHA is an attempt);
 * one that answers false gives null, with nothing taken from the address. `report` wraps each
 * budgeted step (it reports a spent budget as an event).
 */
export async function gated<T>(
  limits: Limits,
  counters: readonly Counter[],
  gate: () => Promise<boolean>,
  save: () => Promise<T>,
  report: <R>(step: () => Promise<R>) => Promise<R>,
): Promise<T | null> {
  const mailbox = counters.filter((counter) => counter.refusal === 'magic_link_email_limit_exceeded');
  const client = counters.filter((counter) => !mailbox.includes(counter));
  await report(() => limits.take(client));
  if (!(await gate())) return null;
  try {
    return await report(() => limits.spend(mailbox, save, () => false));
  } catch (error) {
    await limits.give(client);
    throw error;
  }
}

/** Weight of the newest sample in the moving average. */
const WEIGHT = 0.1;

/**
 * How long storing and mailing a link has taken lately (a moving average, in ms). A link request
 * the hook withheld waits out the same time, so a closed sign-up's silent "no" is not faster than
 * a sent link.
 */
export class SendTime {
  #averageMs = 0;

  record(startedAt: number): void {
    this.#averageMs += (performance.now() - startedAt - this.#averageMs) * WEIGHT;
  }

  waitOut(startedAt: number): Promise<void> {
    const rest = this.#averageMs - (performance.now() - startedAt);
    return rest <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, rest));
  }
}
