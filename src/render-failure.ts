// Renders a handler's failure as the JSON envelope, logging the ones that are ours to fix.
import type { Request, Response } from 'express';
import { toMagicLinkError } from './error-handler.js';
import type { MagicLinkError } from './errors.js';
import { requestIdOf } from './request-id.js';
import { sendError } from './respond.js';
import type { SignInService } from './sign-in-service.js';

/** Reports 5xx failures to `onError`; returns the catalogue error to render. */
export function reportFailure(service: SignInService, req: Request, res: Response, error: unknown): MagicLinkError {
  const rendered = toMagicLinkError(error);
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
  const rendered = reportFailure(service, req, res, error);
  if (res.headersSent) {
    res.end();
    return;
  }
  sendError(req, res, rendered, service.config.docsBaseUrl);
}
