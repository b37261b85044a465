// The example server's HTML: sign-in page, dashboard, dev inbox and error pages. Every page works
// without JavaScript (forms post, nothing secret in a URL); /static/enhance.js only improves it.
// No framework, no third-party assets.

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)} — express-magic-link demo</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main>${body}</main><script src="/static/enhance.js" defer></script></body></html>`;
}

/** A human sentence for each error code the pages can meet. */
const SENTENCES: Record<string, string> = {
  email_missing: 'Please enter your email address.',
  invalid_email: 'That does not look like an email address. Please check it.',
  validation_error: 'That does not look like an email address. Please check it.',
  invalid_request_body: 'Something went wrong with the form. Please reload the page and try again.',
  payload_too_large: 'That was too much text. Please enter just your email address.',
  magic_link_ip_limit_exceeded: 'Too many sign-in requests came from your network.',
  magic_link_email_limit_exceeded: 'Too many sign-in links were sent to this address.',
  resend_locked: 'We just sent a link to this address.',
  email_delivery_failed: 'We could not send the email just now. Please try again in a few minutes.',
  service_unavailable: 'Sign-in is temporarily unavailable. Please try again shortly.',
  cross_site_request: 'This request was blocked. Please open this page directly and try again.',
  internal_error: 'Something went wrong on our side. Please try again.',
  code_missing: 'Please enter the 6-digit code from the email.',
  code_malformed: 'The code is the 6 digits in the email, like 123456.',
  exchange_code_not_found: 'That code is not right, or it has expired. Check the email and try again.',
  code_locked: 'That was too many wrong codes: the code from this email no longer works. Send a new link to sign in.',
  exchange_code_already_used: 'That code has already been used. Send a new link to sign in again.',
  exchange_code_attempt_limit_exceeded: 'Too many wrong codes were tried.',
  magic_link_already_used: 'That code has already been used. Send a new link to sign in again.',
  account_not_found: 'No account was found for this email address.',
  attempt_pending: 'Not approved yet. On your other device, choose “Approve the other device” and type the number shown here.',
  attempt_magic_link_expired: 'That sign-in was cancelled or has expired. Send another link to try again.',
  attempt_magic_link_already_used: 'That sign-in has already been used. Send another link to sign in again.',
  attempt_magic_link_not_found: 'This browser has no sign-in waiting. Send another link to try again.',
  attempt_magic_link_ip_limit_exceeded: 'Too many checks came from your network.',
  attempt_service_unavailable: 'Sign-in is temporarily unavailable. Please try again shortly.',
};

export function sentenceFor(code: string): string {
  return SENTENCES[code] ?? SENTENCES.internal_error!;
}

/** "in 45 seconds", "in about 3 minutes", "in about 2 hours": never "in 0 minutes". */
export function waitWords(seconds: number): string {
  if (seconds < 90) return `in ${Math.max(1, Math.round(seconds))} second${Math.round(seconds) === 1 ? '' : 's'}`;
  if (seconds < 90 * 60) return `in about ${Math.round(seconds / 60)} minutes`;
  return `in about ${Math.round(seconds / 3600)} hour${Math.round(seconds / 3600) === 1 ? '' : 's'}`;
}

/** A link's lifetime in words: "30 seconds", "15 minutes", "1 hour". */
export function lifetimeWords(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} minute${Math.round(seconds / 60) === 1 ? '' : 's'}`;
  return `${Math.round(seconds / 3600)} hour${Math.round(seconds / 3600) === 1 ? '' : 's'}`;
}

export interface PageError {
  /** Which form the error belongs to. */
  form: 'email' | 'code' | 'attempt';
  code: string;
  retryAfter?: number | null;
}

export interface SignInState {
  devInbox: boolean;
  ttlSeconds: number;
  /** Set once a link was sent: the address and when (ms), and the match number with cross-device approval. */
  sent?: { to: string; at: number; match?: number | undefined } | undefined;
  /** Milliseconds until this address may get another link (0 = now). */
  resendInMs?: number;
  error?: PageError | undefined;
  /** What the person typed, to show it again after an error. */
  typedEmail?: string | undefined;
  /** Focus the email field (after "Change it"). */
  focusEmail?: boolean;
}

function errorText(error: PageError): string {
  const wait = error.retryAfter ? ` Please try again ${waitWords(error.retryAfter)}.` : '';
  return `${sentenceFor(error.code)}${wait}`;
}

/** An input with its label and, when it is wrong, the error tied to it (aria-invalid, aria-describedby, focus). */
function field(options: {
  id: string;
  name: string;
  label: string;
  type: string;
  value?: string | undefined;
  error?: string | undefined;
  hint?: string;
  focus?: boolean;
  attributes: string;
}): string {
  const describedBy = [options.hint ? `${options.id}-hint` : '', options.error ? `${options.id}-error` : ''].filter(Boolean).join(' ');
  return `<label for="${options.id}">${options.label}</label>
${options.hint ? `<p id="${options.id}-hint" class="muted hint">${options.hint}</p>` : ''}${options.error ? `<p id="${options.id}-error" class="error">${escapeHtml(options.error)}</p>` : ''}
<input id="${options.id}" name="${options.name}" type="${options.type}" ${options.attributes}${options.value ? ` value="${escapeHtml(options.value)}"` : ''}${describedBy ? ` aria-describedby="${describedBy}"` : ''}${options.error ? ' aria-invalid="true"' : ''}${options.error || options.focus ? ' autofocus' : ''}>`;
}

function codeForm(email: string | undefined, error: PageError | undefined, withEmailField: boolean): string {
  const message = error?.form === 'code' ? errorText(error) : undefined;
  const emailIsWrong = message !== undefined && (error?.code === 'email_missing' || error?.code === 'invalid_email');
  return `<form method="post" action="/code" class="stack" data-once>
${
  withEmailField
    ? field({
        id: 'code-email',
        name: 'email',
        label: 'Email address the code was sent to',
        type: 'email',
        value: email,
        error: emailIsWrong ? message : undefined,
        attributes: 'autocomplete="email" required',
      })
    : `<input type="hidden" name="email" value="${escapeHtml(email ?? '')}">`
}
${field({
  id: 'code',
  name: 'code',
  label: '6-digit code from the email',
  type: 'text',
  error: emailIsWrong ? undefined : message,
  attributes: 'inputmode="numeric" autocomplete="one-time-code" required maxlength="12" data-code',
})}
<button type="submit">Sign in with the code</button>
</form>`;
}

/**
 * Cross-device approval: the number to type on the other device, large, said once as part of the
 * page (a screen reader hears it with the heading, never again on a poll), and a button that
 * collects the sign-in without JavaScript.
 */
function approvalSection(match: number, error: PageError | undefined): string {
  const message = error?.form === 'attempt' ? `<p id="attempt-error" class="error" role="alert">${escapeHtml(errorText(error))}</p>\n` : '';
  return `<section aria-labelledby="match-heading" data-attempt>
<h2 id="match-heading">Opening the email on your phone?</h2>
<p>There, choose “Approve the other device” and type this number. This page then signs you in by itself.</p>
<p class="match-number"><span class="visually-hidden">Your number is </span><strong>${match}</strong></p>
${message}<form method="post" action="/v1/auth/attempt" data-once>
<button type="submit" class="secondary">I approved it on my phone</button>
</form>
<p class="muted" role="status" data-attempt-status></p>
</section>`;
}

export function signInPage(state: SignInState): string {
  const lifetime = lifetimeWords(state.ttlSeconds);
  const inbox = state.devInbox
    ? '<p class="muted">Running locally? Mails land in the <a href="/dev/inbox" target="_blank">dev inbox (opens in a new tab)</a>.</p>'
    : '';
  if (state.sent) {
    const to = escapeHtml(state.sent.to);
    const resendIn = state.resendInMs ?? 0;
    const resendError = state.error?.form === 'email' ? `<p id="resend-error" class="error" role="alert">${escapeHtml(errorText(state.error))}</p>` : '';
    return layout(
      'Check your email',
      `<h1 tabindex="-1"${state.error ? '' : ' autofocus'}>Check your email</h1>
<p>We sent a sign-in link to <strong>${to}</strong>. It works once and expires in ${lifetime}.</p>
<div class="row">
<form method="post" action="/change-address"><button type="submit" class="secondary">Wrong address? Change it</button></form>
<form method="post" action="/" data-once data-resend-at="${state.sent.at + resendIn}">
<input type="hidden" name="email" value="${to}">
<button type="submit" class="secondary"${resendIn > 0 ? ' aria-describedby="resend-hint"' : ''}>Send another link</button>
</form>
</div>
${resendIn > 0 ? `<p id="resend-hint" class="muted">You can ask for another link to this address ${waitWords(resendIn / 1000)}.</p>` : ''}${resendError}
${state.sent.match === undefined ? '' : approvalSection(state.sent.match, state.error)}
<section aria-labelledby="code-heading">
<h2 id="code-heading">${state.sent.match === undefined ? 'Reading the email on another device?' : 'Or type the code from the email'}</h2>
<p class="muted">Enter the 6-digit code from the email here instead of opening the link.</p>
${codeForm(state.sent.to, state.error, false)}
</section>
<p class="muted" data-waiting>This page moves on by itself once you have signed in from the link in this browser.</p>
${inbox}`,
    );
  }
  const emailError = state.error?.form === 'email' ? errorText(state.error) : undefined;
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
<p class="muted">No password: we email you a link that signs you in. It works once and expires in ${lifetime}.</p>
<form method="post" action="/" class="stack" novalidate data-once>
${field({ id: 'email', name: 'email', label: 'Email address', type: 'email', value: state.typedEmail, error: emailError, focus: state.focusEmail === true, attributes: 'autocomplete="email" required' })}
<button type="submit">Email me a sign-in link</button>
</form>
<details${state.error?.form === 'code' ? ' open' : ''}>
<summary>Have a code from the email? Enter it instead</summary>
${codeForm(state.typedEmail, state.error, true)}
</details>
${inbox}`,
  );
}

export function dashboardPage(email: string): string {
  return layout(
    'Dashboard',
    `<h1>You're signed in</h1>
<p>Signed in as <strong>${escapeHtml(email)}</strong>.</p>
<form method="post" action="/sign-out"><button type="submit">Sign out</button></form>`,
  );
}

/** A page for a failure on a page route (never JSON): what happened, and what to do. */
export function errorPage(status: number, code: string): string {
  const title = status === 503 ? 'Temporarily unavailable' : status === 404 ? 'Page not found' : 'Something went wrong';
  const text =
    status === 503
      ? 'We can’t reach our sign-in service just now. Nothing was lost: if you were signed in, you still are, and any link you have still works. Please try again in a moment.'
      : status === 404
        ? 'There is no page at this address.'
        : sentenceFor(code);
  return layout(
    title,
    `<h1>${title}</h1>
<p>${escapeHtml(text)}</p>
<p><a class="button" href="">Try again</a> <a href="/">Go to the sign-in page</a></p>`,
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
      (m) => `<li><p><strong>To:</strong> ${escapeHtml(m.to)} <span class="muted">· ${escapeHtml(m.sent_at)}</span></p>
<p>Your sign-in link: <a href="${escapeHtml(m.url)}">Sign in as ${escapeHtml(m.to)}</a></p>
<p>Or enter this code: <strong class="code">${escapeHtml(m.code)}</strong></p></li>`,
    )
    .join('\n');
  return layout(
    'Dev inbox',
    `<h1>Dev inbox</h1>
<p class="muted">Every mail the demo sent, newest first. Off when NODE_ENV=production.</p>
<p><a href="/dev/inbox" data-inbox-count="${messages.length}">Check for new mail</a></p>
${messages.length === 0 ? '<p>No mail yet. Request a link on the <a href="/">sign-in page</a>.</p>' : `<ul class="inbox">${rows}</ul>`}`,
  );
}
