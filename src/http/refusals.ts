// The strategy's refusal of a request, for the error handler: Passport's `failWithError` passes on
// only an AuthenticationError with a status, so the real code and wait would otherwise be lost.
import type { Request } from 'express';
import type { MagicLinkError } from '../errors.js';

const refusals = new WeakMap<Request, MagicLinkError>();

export function rememberRefusal(req: Request, error: MagicLinkError): void {
  refusals.set(req, error);
}

/** The refusal an AuthenticationError from Passport stands for, if the strategy made one. */
export function refusalBehind(req: Request, error: unknown): MagicLinkError | undefined {
  const isPassportFailure = typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AuthenticationError';
  return isPassportFailure ? refusals.get(req) : undefined;
}
