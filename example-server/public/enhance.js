// Progressive enhancement for the demo's pages: each works without this file (forms post).
// Nothing here announces anything on a timer: screen readers hear a page once, when it loads.

// A form sends once: a second press while the first is on its way would send a second mail.
for (const form of document.querySelectorAll('form[data-once]')) {
  form.addEventListener('submit', (event) => {
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = '1';
    form.querySelector('button[type="submit"]')?.setAttribute('aria-disabled', 'true');
  });
}

// The resend lock belongs to the address: the button waits out this address's minute, quietly.
for (const form of document.querySelectorAll('form[data-resend-at]')) {
  const button = form.querySelector('button');
  const wait = Number(form.dataset.resendAt) - Date.now();
  if (button && wait > 0) {
    button.disabled = true;
    setTimeout(() => {
      button.disabled = false;
      const hint = document.getElementById('resend-hint');
      if (hint) hint.textContent = 'You can ask for another link now.';
    }, wait);
  }
}

// A code pasted as "123 456" or "123-456": keep the digits.
for (const input of document.querySelectorAll('input[data-code]')) {
  input.addEventListener('input', () => {
    const digits = input.value.replace(/\D/g, '').slice(0, 6);
    if (digits !== input.value) input.value = digits;
  });
}

// "Check your email": once this browser is signed in (the link opened in another tab), move on.
if (document.querySelector('[data-waiting]')) {
  const check = async () => {
    try {
      const response = await fetch('/v1/me', { credentials: 'same-origin', cache: 'no-store' });
      if (response.ok) window.location.assign('/dashboard');
    } catch {
      // Offline for a moment: the next check will tell.
    }
  };
  setInterval(check, 2000);
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && check());
}

// The dev inbox: reload only when a new mail has arrived (no meta refresh, no lost scroll position).
const inbox = document.querySelector('[data-inbox-count]');
if (inbox) {
  setInterval(async () => {
    try {
      const response = await fetch('/dev/outbox', { cache: 'no-store' });
      const body = await response.json();
      if (body.data.messages.length !== Number(inbox.dataset.inboxCount)) window.location.reload();
    } catch {
      // The dev server restarted: keep the page as it is.
    }
  }, 1000);
}

// Cross-device approval: once the other device approves, collect the sign-in and move on. The number
// is part of the page, read once; the status line speaks only when the wait ends.
const attempt = document.querySelector('[data-attempt]');
if (attempt) {
  const status = attempt.querySelector('[data-attempt-status]');
  let stopped = false;
  const say = (text) => {
    stopped = true;
    if (status) status.textContent = text;
  };
  const tick = async () => {
    if (stopped) return;
    let wait = 2000;
    try {
      const response = await fetch('/v1/auth/attempt', { credentials: 'same-origin', cache: 'no-store' });
      const retry = Number(response.headers.get('Retry-After'));
      if (retry > 0) wait = retry * 1000;
      const body = await response.json();
      const state = body.success ? body.data.status : 'gone';
      if (state === 'approved') {
        const collected = await fetch('/v1/auth/attempt', {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json' },
          body: '{}',
        });
        if (collected.ok) return window.location.assign('/dashboard');
      } else if (state === 'expired' || state === 'gone') {
        return say('This sign-in was cancelled or has expired. Send another link to try again.');
      } else if (state === 'collected') {
        return window.location.assign('/dashboard');
      }
    } catch {
      // Offline for a moment: the next check will tell.
    }
    setTimeout(tick, wait);
  };
  setTimeout(tick, 2000);
}
