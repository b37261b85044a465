// POST {token} → 200 {user}, and POST {email, code} → 200 {user}: one path, through the strategy by
// name (as an app's own route would), then into the session.
import type { Request, Response } from 'express';
import type { SignInService } from '../sign-in/service.js';
import { readJsonBody } from './body.js';
import { assertSameSite } from './cross-site.js';
import { authenticate, hasSession, logIn, missingSession } from './passport-sign-in.js';
import { reportFailure, sendError, sendSuccess } from './respond.js';

async function signInJson(service: SignInService, req: Request, res: Response, accepts: 'token' | 'code', name: string): Promise<void> {
  const { config } = service;
  try {
    assertSameSite(req, config.baseUrl.origin, config.trustedOrigins);
    // Before anything is redeemed: a link spent without a session to sign into is a link lost.
    if (!hasSession(req)) throw missingSession(`magicLink.${name}()`);
    await readJsonBody(req, res);
    const { user, info } = await authenticate(config.passport, req, res, { accepts });
    await logIn(req, user, info);
    sendSuccess(req, res, 200, { user: config.publicUser(user) });
  } catch (error) {
    sendError(req, res, reportFailure(config.onError, req, res, error), config.docsBaseUrl);
  }
}

export function createVerifyHandler(service: SignInService) {
  return async function verifyMiddleware(req: Request, res: Response): Promise<void> {
    await signInJson(service, req, res, 'token', 'verifyHandler');
  };
}

/** The mail's 6-digit code signs in where the link can't be opened. */
export function createExchangeHandler(service: SignInService) {
  return async function exchangeMiddleware(req: Request, res: Response): Promise<void> {
    await signInJson(service, req, res, 'code', 'exchangeHandler');
  };
}
