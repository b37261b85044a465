// Renders a handler's failure as the JSON envelope, logging the ones that are ours to fix.
import type { Request, Response } from 'express';
import { toMagicLinkError } from './error-handler.js';
import { MagicLinkError } from './errors.js';
import { requestIdOf } from './request-id.js';
import { sendError } from './respond.js';
import type { SignInService } from './sign-in-service.js';

/** Reports 5xx failures to `onError`; returns the catalogue error to render. */
export function reportFailure(service: SignInService, req: Request, res: Response, error: unknown): MagicLinkError {
  let rendered: MagicLinkError;
  try {
    rendered = toMagicLinkError(error);
  } catch {
    // A thrown value whose properties throw (a hostile Proxy) is still only an internal error.
    rendered = new MagicLinkError('internal_error');
  }
  if (rendered.status >= 500) {
    try {
      service.config.onError(rendered.cause ?? rendered, requestIdOf(req, res));
    } catch {
      // A failing logger must not change the answer.
    }
  }
  return rendered;
}

export function renderFailure(service: SignInService, req: Request, res: Response, error: unknown): void {
  sendError(req, res, reportFailure(service, req, res, error), service.config.docsBaseUrl);
}
