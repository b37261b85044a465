// POST {token} → 200 {user}, and POST {email, code} → 200 {user}: the handler's own service signs
// in, then the session is regenerated for the user. No strategy is looked up by name.
import type { Request, Response } from 'express';
import { MagicLinkError } from '../errors.js';
import type { SignInService } from '../sign-in/service.js';
import { readJsonBody } from './body.js';
import { clientOf } from './client.js';
import { readCredential, readRetryKey } from './credentials.js';
import { assertSameSite } from './cross-site.js';
import { reportFailure, sendError, sendSuccess } from './respond.js';
import { hasSession, logIn, missingSession } from './session.js';

async function signInJson(service: SignInService, req: Request, res: Response, accepts: 'token' | 'code', name: string): Promise<void> {
  const { config } = service;
  try {
    assertSameSite(req, config.baseUrl.origin, config.trustedOrigins);
    // Before anything is redeemed: a link spent without a session to sign into is a link lost.
    if (!hasSession(req)) throw missingSession(`magicLink.${name}()`);
    const credential = readCredential(await readJsonBody(req, res), accepts);
    if (credential instanceof MagicLinkError) throw credential;
    const retryKey = readRetryKey(req);
    if (retryKey instanceof MagicLinkError) throw retryKey;
    const result = await service.signIn(clientOf(req), credential, req, retryKey);
    if (result.kind !== 'success') throw result.error;
    await logIn(req, result.user, result.info);
    sendSuccess(req, res, 200, { user: config.publicUser(result.user) });
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
