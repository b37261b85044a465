// Recipe: the sign-in mail over SMTP with nodemailer (any SMTP service: SES, Postmark, Mailgun, your own).
import type { Transporter } from 'nodemailer';
import { renderMagicLinkMail, type Mailer } from 'express-magic-link';

export function smtpMailer(transport: Transporter, from: string, appName: string): Mailer {
  return {
    async send(message) {
      const mail = renderMagicLinkMail(message, { appName });
      // A rejection tells the library the mail did not go: the person gets email_delivery_failed.
      await transport.sendMail({ from, to: message.to, subject: mail.subject, text: mail.text, html: mail.html });
    },
  };
}

// const mailer = smtpMailer(nodemailer.createTransport(process.env.SMTP_URL), 'Acme <sign-in@acme.example>', 'Acme');
