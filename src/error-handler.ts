// The last app.use(): renders any error, ours or another middleware's, as the SPEC §3 envelope.
import type { NextFunction, Request, Response } from 'express';
import { MagicLinkError, type ErrorCode } from './errors.js';
import { assertKnownKeys, assertOptionalFunction, assertOptionalUrl, dropUndefined } from './option-checks.js';
import { describeForLog } from './redact.js';
import { requestIdOf } from './request-id.js';
import { DEFAULT_DOCS_BASE_URL, sendError } from './respond.js';

export interface ErrorHandlerOptions {
  /** Base of `doc_url`; the code is appended. Default `https://docs.asterwise.com/reference/errors`. */
  docsBaseUrl?: string;
  /**
   * Called with every error rendered as `internal_error` or `service_unavailable`, with the request
   * id, so it can be logged; the response never shows it. Default: one `console.error` line.
   */
  onError?: (error: unknown, requestId: string) => void;
}

// body-parser (and raw-body) error types, the same in Express 4 and 5.
const BODY_ERRORS: Record<string, ErrorCode> = {
  'entity.too.large': 'payload_too_large',
  'entity.parse.failed': 'invalid_request_body',
  'entity.verify.failed': 'invalid_request_body',
  'encoding.unsupported': 'invalid_request_body',
  'charset.unsupported': 'invalid_request_body',
  'request.aborted': 'invalid_request_body',
  'request.size.invalid': 'invalid_request_body',
  'stream.encoding.set': 'invalid_request_body',
  'stream.not.readable': 'invalid_request_body',
  'parameters.too.many': 'invalid_request_body',
};

// Statuses other middleware commonly sets (http-errors), folded into the nearest catalogue code.
const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'invalid_request_body',
  401: 'session_not_found',
  403: 'cross_site_request',
  404: 'resource_not_found',
  405: 'resource_not_found',
  413: 'payload_too_large',
  415: 'invalid_request_body',
  503: 'service_unavailable',
};

function propertyOf(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** Maps anything thrown into a catalogue error; unknown shapes become `internal_error`. */
export function toMagicLinkError(error: unknown): MagicLinkError {
  if (error instanceof MagicLinkError) return error;
  const type = propertyOf(error, 'type');
  if (typeof type === 'string' && Object.hasOwn(BODY_ERRORS, type)) {
    return new MagicLinkError(BODY_ERRORS[type]!, { cause: error });
  }
  const status = propertyOf(error, 'status') ?? propertyOf(error, 'statusCode');
  if (typeof status === 'number' && Object.hasOwn(STATUS_CODES, status)) {
    const code = STATUS_CODES[status]!;
    return new MagicLinkError(code, { cause: error, retryAfter: code === 'service_unavailable' ? 5 : null });
  }
  return new MagicLinkError('internal_error', { cause: error });
}

/** The default `onError`: one redacted line (and stack) per 5xx, tagged with the request id. */
export function logToConsole(error: unknown, requestId: string): void {
  const cause = error instanceof MagicLinkError && error.cause !== undefined ? error.cause : error;
  console.error(`[express-magic-link] ${requestId} ${describeForLog(cause)}`);
}

export function errorHandler(options: ErrorHandlerOptions = {}) {
  if (isRequestLike(options)) {
    throw new TypeError('`errorHandler` is a factory: use `app.use(errorHandler())`, not `app.use(errorHandler)`.');
  }
  const given = dropUndefined(options, 'errorHandler');
  assertKnownKeys(given, ['docsBaseUrl', 'onError'], 'errorHandler');
  assertOptionalUrl(given.docsBaseUrl, 'errorHandler', 'docsBaseUrl');
  assertOptionalFunction(given.onError, 'errorHandler', 'onError');
  const docsBaseUrl = (given.docsBaseUrl ?? DEFAULT_DOCS_BASE_URL).replace(/\/+$/, '');
  const onError = given.onError ?? logToConsole;

  return function magicLinkErrorHandler(error: unknown, req: Request, res: Response, next: NextFunction): void {
    // Once headers are out the envelope cannot be sent; Express's own handler closes the socket.
    if (res.headersSent) {
      next(error);
      return;
    }
    let rendered: MagicLinkError;
    try {
      rendered = toMagicLinkError(error);
    } catch {
      // A thrown value whose properties throw (a hostile Proxy) is still only an internal error.
      rendered = new MagicLinkError('internal_error');
    }
    if (rendered.status >= 500) {
      try {
        onError(error, requestIdOf(req, res));
      } catch {
        // A failing logger must not turn a rendered error into a crash.
      }
    }
    sendError(req, res, rendered, docsBaseUrl);
  };
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
