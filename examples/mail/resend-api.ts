// Recipe: the sign-in mail through an HTTP API (Resend's; others differ only in the URL and fields).
import { renderMagicLinkMail, type Mailer } from 'express-magic-link';

export function resendMailer(apiKey: string, from: string, appName: string, endpoint = 'https://api.resend.com/emails'): Mailer {
  return {
    async send(message) {
      const mail = renderMagicLinkMail(message, { appName });
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ from, to: [message.to], subject: mail.subject, text: mail.text, html: mail.html }),
        // Below the library's mail timeout, so a hung provider fails here with a clear message.
        signal: AbortSignal.timeout(8_000),
      });
      // A rejection tells the library the mail did not go: the person gets email_delivery_failed.
      if (!response.ok) throw new Error(`the mail API answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
    },
  };
}

// const mailer = resendMailer(process.env.RESEND_API_KEY!, 'Acme <sign-in@acme.example>', 'Acme');
