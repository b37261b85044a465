// Login-CSRF guard for the POST endpoints.
import type { Request } from 'express';
import { MagicLinkError } from '../errors.js';

/**
 * Refuses `Sec-Fetch-Site: cross-site` and any `Origin` other than the app's. `Origin: null` alone
 * is let through: browsers send it for same-origin forms on `Referrer-Policy: no-referrer` pages,
 * such as the confirm page; a cross-site sender still shows in `Sec-Fetch-Site`.
 */
export function assertSameSite(req: Request, appOrigin: string): void {
  const site = req.headers['sec-fetch-site'];
  const origin = req.headers.origin;
  if (site === 'cross-site' || (origin !== undefined && origin !== 'null' && origin !== appOrigin)) {
    throw new MagicLinkError('cross_site_request');
  }
}
