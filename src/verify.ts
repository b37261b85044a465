// POST {token} → 200 {user}: redeems through the strategy and signs the session in.
import type { Request, Response } from 'express';
import { signInWithToken } from './authenticate.js';
import { readJsonBody } from './body.js';
import { readTokenCredential } from './credentials.js';
import { MagicLinkError } from './errors.js';
import { assertSameSite } from './cross-site.js';
import { renderFailure } from './render-failure.js';
import { sendSuccess } from './respond.js';
import type { SignInService } from './sign-in-service.js';

export function createVerifyHandler(service: SignInService) {
  return async function verifyMiddleware(req: Request, res: Response): Promise<void> {
    try {
      assertSameSite(req, service.config.baseUrl.origin);
      const body = await readJsonBody(req, res);
      const credential = readTokenCredential(body);
      if (credential instanceof MagicLinkError) throw credential;
      const { user } = await signInWithToken(service, req, res);
      sendSuccess(req, res, 200, { user: service.config.publicUser(user) });
    } catch (error) {
      renderFailure(service, req, res, error);
    }
  };
}
