// The `redirect` field: only same-origin paths, so a link can never send someone off-site.

const MAX_REDIRECT_LENGTH = 2048;
const NOT_SAME_ORIGIN = 'Value error, redirect must be a same-origin path such as /dashboard';

export type RedirectCheck = { readonly ok: true } | { readonly ok: false; readonly msg: string; readonly type: string };

export function checkRedirect(value: string, baseUrl: URL): RedirectCheck {
  if (value.length > MAX_REDIRECT_LENGTH) {
    return { ok: false, msg: `String should have at most ${MAX_REDIRECT_LENGTH} characters`, type: 'string_too_long' };
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
