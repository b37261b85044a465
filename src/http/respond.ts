// The error path, in one place: any thrown value becomes a catalogue error, 5xx are reported, and
// every JSON answer (success or failure) is written here, as SPEC §2–§3 describe.
import type { Request, Response } from 'express';
import { errorCatalogue, isoSeconds, MagicLinkError, type ErrorCode, type ValidationIssue } from '../errors.js';
import { UNAVAILABLE_RETRY_SECONDS } from '../sign-in/limits.js';
import type { ErrorEnvelope } from '../types.js';
import { requestIdOf } from './request-id.js';

/** Longest `input` echoed back in a validation issue; longer strings are cut. */
const MAX_ECHOED_INPUT = 100;
/** Most issues rendered, and most `loc` parts per issue: a body cannot make the envelope large. */
const MAX_ISSUES = 20;
const MAX_LOC_PARTS = 8;
const MAX_TEXT = 200;

const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value.slice(0, MAX_TEXT) : fallback);

/**
 * One issue reduced to flat, bounded values: `input` only when it is a string (cut short), never an
 * object or array, so no body however deep or wide reaches `JSON.stringify` (SPEC §3).
 */
function flatIssue(issue: ValidationIssue): Record<string, unknown> {
  const loc = Array.isArray(issue.loc)
    ? issue.loc.slice(0, MAX_LOC_PARTS).map((part) => (typeof part === 'number' && Number.isFinite(part) ? part : text(part, '?')))
    : [];
  const flat: Record<string, unknown> = { loc, msg: text(issue.msg, 'Invalid value'), type: text(issue.type, 'value_error') };
  if (typeof issue.input === 'string') flat.input = issue.input.slice(0, MAX_ECHOED_INPUT);
  return flat;
}

export function errorEnvelope(error: MagicLinkError, requestId: string, docsBaseUrl: string): ErrorEnvelope {
  const details = Array.isArray(error.details) ? error.details.slice(0, MAX_ISSUES) : [];
  return {
    success: false,
    error: error.code,
    message: error.message,
    details: details.map(flatIssue),
    retry_after: Number.isInteger(error.retryAfter) ? error.retryAfter : null,
    doc_url: `${docsBaseUrl}/${error.code}`,
    request_id: requestId,
    timestamp: isoSeconds(Date.now()),
  };
}

/** The last resort when even the envelope cannot be built: constant, so it cannot fail. */
function fallbackBody(requestId: string, docsBaseUrl: string): string {
  const { message } = errorCatalogue.internal_error;
  return JSON.stringify({
    success: false,
    error: 'internal_error',
    message,
    details: [],
    retry_after: null,
    doc_url: `${docsBaseUrl}/internal_error`,
    request_id: requestId,
    timestamp: isoSeconds(Date.now()),
  });
}

/**
 * Sends the error envelope; never throws. Anything that goes wrong while rendering becomes the
 * constant `internal_error` body, and a response already under way is ended.
 */
export function sendError(req: Request, res: Response, error: MagicLinkError, docsBaseUrl: string): void {
  try {
    if (res.writableEnded) return;
    // A body already under way cannot become an envelope; cut it off so it never looks complete.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const id = requestIdOf(req, res);
    let status = error.status;
    let retryAfter = error.retryAfter;
    let body: string;
    try {
      body = JSON.stringify(errorEnvelope(error, id, docsBaseUrl));
    } catch {
      status = 500;
      retryAfter = null;
      body = fallbackBody(id, docsBaseUrl);
    }
    // Plain statusCode: Express 5's res.status() throws on values outside 100–999.
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    if (retryAfter !== null) res.setHeader('Retry-After', String(retryAfter));
    else res.removeHeader('Retry-After');
    res.end(body);
  } catch {
    try {
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    } catch {
      // The socket is gone; there is nobody left to answer.
    }
  }
}

export function sendSuccess(req: Request, res: Response, status: number, data: unknown): void {
  requestIdOf(req, res);
  res.status(status);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify({ success: true, message: 'success', data }));
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

/** Maps anything thrown into a catalogue error; unknown shapes become `internal_error`. Never throws. */
export function toMagicLinkError(error: unknown): MagicLinkError {
  try {
    if (error instanceof MagicLinkError) return error;
    const type = propertyOf(error, 'type');
    if (typeof type === 'string' && Object.hasOwn(BODY_ERRORS, type)) return new MagicLinkError(BODY_ERRORS[type]!, { cause: error });
    const status = propertyOf(error, 'status') ?? propertyOf(error, 'statusCode');
    if (typeof status === 'number' && Object.hasOwn(STATUS_CODES, status)) {
      const code = STATUS_CODES[status]!;
      return new MagicLinkError(code, { cause: error, retryAfter: code === 'service_unavailable' ? UNAVAILABLE_RETRY_SECONDS : null });
    }
    return new MagicLinkError('internal_error', { cause: error });
  } catch {
    // A thrown value whose properties throw (a hostile Proxy) is still only an internal error.
    return new MagicLinkError('internal_error');
  }
}

/** The catalogue error to render for `error`; a 5xx is handed to `onError` (whose own failure changes nothing). */
export function reportFailure(onError: (error: unknown, requestId: string) => void, req: Request, res: Response, error: unknown): MagicLinkError {
  const rendered = toMagicLinkError(error);
  if (rendered.status >= 500) {
    try {
      onError(rendered.cause ?? rendered, requestIdOf(req, res));
    } catch {
      // A failing logger must not change the answer.
    }
  }
  return rendered;
}
