// The example server's HTML: sign-in page, dashboard and dev inbox. No framework, no third-party assets.

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string, extraHead = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="stylesheet" href="/static/style.css">${extraHead}</head>
<body><main>${body}</main></body></html>`;
}

export function signInPage(options: { devInbox: boolean; ttlMinutes: number }): string {
  return layout(
    'Sign in — express-magic-link demo',
    `<h1>Sign in</h1>
<p class="muted">No password: we email you a link that signs you in.</p>
<form id="sign-in" novalidate>
  <label for="email">Email address</label>
  <input id="email" name="email" type="email" autocomplete="email" required placeholder="you@example.com">
  <button id="send" type="submit">Email me a sign-in link</button>
</form>
<p id="status" role="status" aria-live="polite"></p>
<p id="error" class="error" role="alert"></p>
<p class="muted">The link works once and expires in ${options.ttlMinutes} minutes.</p>
<details id="code-box">
  <summary>Reading the email on another device? Enter the code instead</summary>
  <form id="code-form" novalidate>
    <label for="code-email">Email address</label>
    <input id="code-email" name="email" type="email" autocomplete="email" required placeholder="you@example.com">
    <label for="code">6-digit code from the email</label>
    <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required placeholder="123456">
    <button id="code-send" type="submit">Sign in with the code</button>
  </form>
  <p id="code-error" class="error" role="alert"></p>
</details>
${options.devInbox ? '<p class="muted">Running locally? Mails land in the <a href="/dev/inbox" target="_blank" rel="noopener">dev inbox</a>.</p>' : ''}
<script src="/static/sign-in.js" defer></script>`,
  );
}

export function dashboardPage(email: string): string {
  return layout(
    'Dashboard — express-magic-link demo',
    `<h1>You're signed in</h1>
<p>Signed in as <strong>${escapeHtml(email)}</strong>.</p>
<p><button id="sign-out" type="button">Sign out</button></p>
<script src="/static/dashboard.js" defer></script>`,
  );
}

export interface InboxMessage {
  to: string;
  url: string;
  code: string;
  sent_at: string;
}

export function inboxPage(messages: readonly InboxMessage[]): string {
  const rows = [...messages]
    .reverse()
    .map(
      (m) => `<li><div><strong>To:</strong> ${escapeHtml(m.to)} <span class="muted">· ${escapeHtml(m.sent_at)}</span></div>
<div>Your sign-in link: <a href="${escapeHtml(m.url)}">Sign in</a></div>
<div>Or enter this code: <strong class="code">${escapeHtml(m.code)}</strong></div></li>`,
    )
    .join('\n');
  return layout(
    'Dev inbox — express-magic-link demo',
    `<h1>Dev inbox</h1>
<p class="muted">Every mail the demo sent, newest first. Off when NODE_ENV=production. This page refreshes every 5 seconds.</p>
${messages.length === 0 ? '<p>No mail yet. Request a link on the <a href="/">sign-in page</a>.</p>' : `<ul class="inbox">${rows}</ul>`}`,
    '<meta http-equiv="refresh" content="5">',
  );
}
