// Login-CSRF guard for the POST endpoints.
import type { Request } from 'express';
import { MagicLinkError } from '../errors.js';
import { warnOnce } from '../warnings.js';

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
    explainRefusal(origin, appOrigin);
    throw new MagicLinkError('cross_site_request');
  }
}

/**
 * Outside production, the first refusal says which origin arrived and which was expected: the
 * commonest cause is the app's own front end on another port or host, fixed by `trustedOrigins`.
 */
function explainRefusal(origin: string | undefined, appOrigin: string): void {
  if (process.env.NODE_ENV === 'production') return;
  // The header is the client's: shown short and printable only.
  const arrived = origin === undefined || origin === 'null' ? 'no Origin (Sec-Fetch-Site: cross-site)' : `Origin ${JSON.stringify(origin.slice(0, 200))}`;
  warnOnce(
    'EXPRESS_MAGIC_LINK_CROSS_SITE',
    `A POST with ${arrived} was refused as cross_site_request: this app's origin (baseUrl) is ${appOrigin}. If that origin is your own front end (a dev server, another subdomain), list it in \`trustedOrigins\`; if you opened the app under another address than baseUrl (127.0.0.1 for localhost), use ${appOrigin}.`,
  );
}

const NONE: ReadonlySet<string> = new Set();
