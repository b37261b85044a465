// The last app.use(): renders any error, ours or another middleware's, as the SPEC §3 envelope.
import type { NextFunction, Request, Response } from 'express';
import { assertKnownKeys, assertOptionalFunction, assertOptionalUrl, dropUndefined } from '../config/checks.js';
import { logToConsole } from '../config/log.js';
import { DEFAULTS, trimSlashes } from '../config/defaults.js';
import { refusalBehind } from './refusals.js';
import { reportFailure, sendError } from './respond.js';

export interface ErrorHandlerOptions {
  /** Base of `doc_url`; the code is appended. Default `https://docs.asterwise.com/reference/errors`. */
  docsBaseUrl?: string;
  /**
   * Called with every error rendered as `internal_error` or `service_unavailable`, with the request
   * id, so it can be logged; the response never shows it. Default: one `console.error` line.
   */
  onError?: (error: unknown, requestId: string) => void;
}

export function errorHandler(options: ErrorHandlerOptions = {}) {
  if (isRequestLike(options)) {
    throw new TypeError('`errorHandler` is a factory: use `app.use(errorHandler())`, not `app.use(errorHandler)`.');
  }
  const given = dropUndefined(options, 'errorHandler');
  assertKnownKeys(given, ['docsBaseUrl', 'onError'], 'errorHandler');
  assertOptionalUrl(given.docsBaseUrl, 'errorHandler', 'docsBaseUrl');
  assertOptionalFunction(given.onError, 'errorHandler', 'onError');
  const docsBaseUrl = trimSlashes(given.docsBaseUrl ?? DEFAULTS.docsBaseUrl);
  const onError = given.onError ?? logToConsole;

  return function magicLinkErrorHandler(error: unknown, req: Request, res: Response, next: NextFunction): void {
    // Once headers are out the envelope cannot be sent; Express's own handler cuts the response off.
    if (res.headersSent) {
      next(error);
      return;
    }
    // `failWithError` hands Passport's AuthenticationError on; the strategy's real refusal is behind it.
    sendError(req, res, reportFailure(onError, req, res, refusalBehind(req, error) ?? error), docsBaseUrl);
  };
}

function propertyOf(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** True for an Express request object: catches `app.use(factory)` without the call. */
export function isRequestLike(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof propertyOf(value, 'method') === 'string' &&
    typeof propertyOf(value, 'headers') === 'object' &&
    typeof propertyOf(value, 'url') === 'string'
  );
}
