// The `redirect` field: same-origin paths, and beyond them only what the app allowed by name
// (`allowedRedirects`: other origins, app schemes), so a link can never send someone off-site.
import type { RedirectAllowList } from '../config/checks.js';

const MAX_REDIRECT_LENGTH = 2048;
const NOT_SAME_ORIGIN = 'Value error, redirect must be a same-origin path such as /dashboard';
const NOT_ALLOWED = 'Value error, redirect must be a same-origin path such as /dashboard, or a URL of an origin or scheme in allowedRedirects';

export type RedirectCheck = { readonly ok: true } | { readonly ok: false; readonly msg: string; readonly type: string };

export const NO_REDIRECTS: RedirectAllowList = { origins: new Set(), schemes: new Set() };

/** An absolute target the allow-list names: its origin (http, https) or its scheme (anything else). */
function allowedAbsolute(value: string, allowed: RedirectAllowList): boolean {
  if (/[\\\x00-\x20\x7f]/.test(value)) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  return url.protocol === 'http:' || url.protocol === 'https:' ? allowed.origins.has(url.origin) : allowed.schemes.has(url.protocol);
}

export function checkRedirect(value: string, baseUrl: URL, allowed: RedirectAllowList = NO_REDIRECTS): RedirectCheck {
  if (value.length > MAX_REDIRECT_LENGTH) {
    return { ok: false, msg: `String should have at most ${MAX_REDIRECT_LENGTH} characters`, type: 'string_too_long' };
  }
  if (!value.startsWith('/') && (allowed.origins.size > 0 || allowed.schemes.size > 0)) {
    return allowedAbsolute(value, allowed) ? { ok: true } : { ok: false, msg: NOT_ALLOWED, type: 'value_error' };
  }
  // `//x` and `/\x` are protocol-relative in browsers; controls and backslashes hide such tricks.
  if (!value.startsWith('/') || value.startsWith('//') || /[\\\x00-\x1f\x7f]/.test(value)) {
    return { ok: false, msg: NOT_SAME_ORIGIN, type: 'value_error' };
  }
  const resolved = new URL(value, baseUrl);
  // `/.//x` and `/..//x` normalise to `//x`: a later hop that redirects to the path goes off-site.
  if (resolved.origin !== baseUrl.origin || resolved.pathname.startsWith('//') || /\/\.\.?\/\//.test(value) || /%2e|%2f|%5c/i.test(value.split('?')[0]!)) {
    return { ok: false, msg: NOT_SAME_ORIGIN, type: 'value_error' };
  }
  return { ok: true };
}
