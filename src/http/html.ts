// The small, self-contained HTML shell of the confirm pages: no third-party resource, and script
// only where a page names its hash (it works the same without).
import { createHash } from 'node:crypto';
import type { Response } from 'express';

/** The CSP source that allows exactly this inline script. */
export function scriptHash(script: string): string {
  return `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `*{box-sizing:border-box}body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f6f7f9;color:#1d2330;margin:0;padding:16px;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border:1px solid #dde1e7;border-radius:12px;padding:clamp(20px,5vw,32px);max-width:420px;width:100%;box-shadow:0 1px 3px rgba(0,0,0,.06)}
h1{font-size:1.35rem;margin:0 0 12px}p{margin:0 0 16px}.muted{color:#5b6475;font-size:.9rem}
button,.button{display:inline-block;min-height:48px;min-width:48px;background:#2456e8;color:#fff;border:0;border-radius:8px;padding:12px 20px;font-size:1rem;cursor:pointer;text-decoration:none}
button:hover,.button:hover{background:#1c45bf}button:disabled{opacity:.7;cursor:wait}a{color:#2456e8}
:focus-visible{outline:3px solid #1c45bf;outline-offset:2px}
h2{font-size:1.05rem;margin:20px 0 6px}label{display:block;font-weight:600;margin-bottom:6px}
input[type=text]{width:8rem;min-height:48px;font-size:1.5rem;letter-spacing:.1em;padding:8px 12px;border:1px solid #8a93a3;border-radius:8px;margin-bottom:12px;background:inherit;color:inherit}
button.secondary{background:transparent;color:#2456e8;border:1px solid #2456e8}.error{color:#b42318;font-weight:600}
@media (prefers-color-scheme:dark){body{background:#12151b;color:#e6e9ef}main{background:#1b1f27;border-color:#2c323d}.muted{color:#a9b1c0}a,button.secondary{color:#8fb0ff;border-color:#8fb0ff}.error{color:#ff9c8f}}`;

/** Security headers for every confirm response: the URL carries a live token. */
export function setPageHeaders(res: Response, scriptSources: readonly string[] = []): void {
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Robots-Tag', 'noindex, nofollow');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'unsafe-inline'; script-src ${scriptSources.length > 0 ? scriptSources.join(' ') : "'none'"}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
}

/** `body` is trusted markup: callers escape every value they put in it. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}
