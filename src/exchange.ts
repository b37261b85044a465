// POST {email, code} → 200 {user}: the mail's 6-digit code signs in where the link can't be opened.
import type { Request, Response } from 'express';
import { signInWithCode } from './authenticate.js';
import { readJsonBody } from './body.js';
import { assertSameSite } from './cross-site.js';
import { MagicLinkError } from './errors.js';
import { renderFailure } from './render-failure.js';
import { sendSuccess } from './respond.js';
import type { SignInService } from './sign-in-service.js';
import { readCodeCredential } from './credentials.js';
import { emailDigest } from './tokens.js';

export function createExchangeHandler(service: SignInService) {
  return async function exchangeMiddleware(req: Request, res: Response): Promise<void> {
    try {
      assertSameSite(req, service.config.baseUrl.origin);
      const body = await readJsonBody(req, res);
      // This endpoint takes codes only: a token here is a field that is not allowed.
      if (Object.hasOwn(body, 'token')) {
        throw new MagicLinkError('validation_error', {
          details: [{ loc: ['body', 'token'], msg: 'Extra inputs are not permitted; send {email, code}', type: 'extra_forbidden' }],
        });
      }
      const credential = readCodeCredential(body);
      if (credential instanceof MagicLinkError) throw credential;
      const { user } = await signInWithCode(service, req, res, emailDigest(credential.email));
      sendSuccess(req, res, 200, { user: service.config.publicUser(user) });
    } catch (error) {
      renderFailure(service, req, res, error);
    }
  };
}
