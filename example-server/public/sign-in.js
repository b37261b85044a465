// Sign-in page: sends the link request, shows a human sentence per error code, and debounces for 60 s.
const DEBOUNCE_SECONDS = 60;
const SENTENCES = {
  invalid_email: 'That does not look like an email address. Please check it.',
  validation_error: 'Please enter your email address.',
  invalid_request_body: 'Something went wrong with the form. Please reload the page and try again.',
  payload_too_large: 'That was too much text. Please enter just your email address.',
  magic_link_ip_limit_exceeded: 'Too many sign-in requests from your network.',
  magic_link_email_limit_exceeded: 'Too many sign-in links were sent to this address.',
  email_delivery_failed: 'We could not send the email just now. Please try again in a few minutes.',
  service_unavailable: 'Sign-in is temporarily unavailable. Please try again shortly.',
  cross_site_request: 'This request was blocked. Please open this page directly and try again.',
  internal_error: 'Something went wrong on our side. Please try again.',
  exchange_code_not_found: 'That code is not right, or it has expired. Check the email, or request a new link.',
  exchange_code_already_used: 'That code has already been used. Request a new link to sign in again.',
  exchange_code_attempt_limit_exceeded: 'Too many wrong codes.',
  account_not_found: 'No account was found for this email address.',
};

const form = document.getElementById('sign-in');
const input = document.getElementById('email');
const button = document.getElementById('send');
const status = document.getElementById('status');
const error = document.getElementById('error');
let timer;

function waitText(seconds) {
  if (seconds >= 120) return `Please try again in about ${Math.ceil(seconds / 60)} minutes.`;
  return `Please try again in ${seconds} seconds.`;
}

function showSent(sentAt) {
  clearInterval(timer);
  const tick = () => {
    const ago = Math.max(0, Math.floor((Date.now() - sentAt) / 1000));
    if (ago >= DEBOUNCE_SECONDS) {
      button.disabled = false;
      button.textContent = 'Send another link';
    } else {
      button.disabled = true;
      button.textContent = `You can resend in ${DEBOUNCE_SECONDS - ago} s`;
    }
    status.textContent = `Magic link sent ${ago} second${ago === 1 ? '' : 's'} ago. Check your inbox.`;
  };
  tick();
  timer = setInterval(tick, 1000);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  if (button.disabled) return;
  button.disabled = true;
  try {
    const response = await fetch('/v1/auth/magic-link', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: input.value, redirect: '/dashboard' }),
    });
    const body = await response.json().catch(() => null);
    if (response.status === 202) {
      const sentAt = Date.parse(body.data.sent_at) || Date.now();
      sessionStorage.setItem('magicLinkSentAt', String(Date.now()));
      showSent(Math.min(sentAt, Date.now()));
      return;
    }
    const code = body && body.error;
    const sentence = SENTENCES[code] || SENTENCES.internal_error;
    error.textContent = body && body.retry_after ? `${sentence} ${waitText(body.retry_after)}` : sentence;
    button.disabled = false;
  } catch {
    error.textContent = 'Could not reach the server. Check your connection and try again.';
    button.disabled = false;
  }
});

// A reload within the debounce window keeps the button disabled.
const previous = Number(sessionStorage.getItem('magicLinkSentAt'));
if (previous && Date.now() - previous < DEBOUNCE_SECONDS * 1000) showSent(previous);

// The code form: for a mail read on another device than this browser.
const codeForm = document.getElementById('code-form');
const codeEmail = document.getElementById('code-email');
const codeInput = document.getElementById('code');
const codeButton = document.getElementById('code-send');
const codeError = document.getElementById('code-error');

input.addEventListener('input', () => {
  if (!codeEmail.dataset.touched) codeEmail.value = input.value;
});
codeEmail.addEventListener('input', () => {
  codeEmail.dataset.touched = '1';
});

codeForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  codeError.textContent = '';
  codeButton.disabled = true;
  try {
    const response = await fetch('/v1/auth/exchange', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: codeEmail.value, code: codeInput.value.trim() }),
    });
    if (response.status === 200) {
      window.location.assign('/dashboard');
      return;
    }
    const body = await response.json().catch(() => null);
    const sentence = SENTENCES[body && body.error] || SENTENCES.internal_error;
    codeError.textContent = body && body.retry_after ? `${sentence} ${waitText(body.retry_after)}` : sentence;
  } catch {
    codeError.textContent = 'Could not reach the server. Check your connection and try again.';
  }
  codeButton.disabled = false;
});
