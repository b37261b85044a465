// Writes the success and error envelopes of SPEC §2–§3; every JSON answer goes through here.
import type { Request, Response } from 'express';
import { MagicLinkError } from './errors.js';
import { requestIdOf } from './request-id.js';

export const DEFAULT_DOCS_BASE_URL = 'https://docs.asterwise.com/reference/errors';

/** The exact body of every failure, keys in the documented order. */
export interface ErrorEnvelope {
  success: false;
  error: string;
  message: string;
  details: unknown[];
  retry_after: number | null;
  doc_url: string;
  request_id: string;
  timestamp: string;
}

/** UTC to the second with `Z`, no fraction: `2026-05-25T12:34:56Z`. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function errorEnvelope(error: MagicLinkError, requestId: string, docsBaseUrl: string): ErrorEnvelope {
  return {
    success: false,
    error: error.code,
    message: error.message,
    details: error.details.map((issue) => ({ ...issue })),
    retry_after: error.retryAfter,
    doc_url: `${docsBaseUrl}/${error.code}`,
    request_id: requestId,
    timestamp: isoSeconds(Date.now()),
  };
}

export function sendError(req: Request, res: Response, error: MagicLinkError, docsBaseUrl: string): void {
  const id = requestIdOf(req, res);
  res.status(error.status);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  if (error.retryAfter !== null) res.setHeader('Retry-After', String(error.retryAfter));
  else res.removeHeader('Retry-After');
  res.end(JSON.stringify(errorEnvelope(error, id, docsBaseUrl)));
}

export function sendSuccess(req: Request, res: Response, status: number, data: unknown): void {
  requestIdOf(req, res);
  res.status(status);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify({ success: true, message: 'success', data }));
}
