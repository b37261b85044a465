// Login-CSRF guard for the POST endpoints.
import type { Request } from 'express';
import { MagicLinkError } from '../errors.js';

/**
 * Refuses `Sec-Fetch-Site: cross-site` and any `Origin` other than the app's, unless that `Origin` is
 * one the app trusts (`trustedOrigins`: a single-page app on another origin). `Origin: null` alone
 * is let through: browsers send it for same-origin forms on `Referrer-Policy: no-referrer` pages,
 * such as the confirm page; a cross-site sender still shows in `Sec-Fetch-Site`.
 */
export function assertSameSite(req: Request, appOrigin: string, trustedOrigins: ReadonlySet<string> = NONE): void {
  const site = req.headers['sec-fetch-site'];
  const origin = req.headers.origin;
  if (origin !== undefined && trustedOrigins.has(origin)) return;
  if (site === 'cross-site' || (origin !== undefined && origin !== 'null' && origin !== appOrigin)) {
    throw new MagicLinkError('cross_site_request');
  }
}

const NONE: ReadonlySet<string> = new Set();
