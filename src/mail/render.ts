// The sign-in mail: subject, plain text and accessible HTML from the message the mailer receives.
// Words are replaceable (a locale hook: the mailer has the request, so it can pick them per person).
import { escapeHtml } from '../http/html.js';
import type { MagicLinkMessage } from '../types.js';

/** Every sentence of the mail, for one language. */
export interface MagicLinkMailWords {
  /** `Sign in to Acme` */
  subject(appName: string): string;
  /** The first line, in the text part and the HTML: `Sign in to Acme with the link below.` */
  intro(appName: string): string;
  /** The button's label. */
  button: string;
  /** Before the link spelled out, for mail clients that hide buttons. */
  linkFallback: string;
  /** Before the code: `Reading this on another device? Enter this code on the sign-in page:` */
  codeIntro: string;
  /** `The link and the code work once and expire in 15 minutes.` (`lifetime` comes from `duration`) */
  expiry(lifetime: string): string;
  /** `If you did not ask to sign in, you can ignore this email.` */
  ignore: string;
  /** A lifetime in words: `30 seconds`, `15 minutes`, `2 hours`, `7 days`. */
  duration(seconds: number): string;
}

export interface MagicLinkMailOptions {
  /** Your app's name, as the subject and the mail say it. */
  appName: string;
  /** The mail's language (`lang` of the HTML). Default `en`. */
  lang?: string;
  /** Words of another language, or your own wording; what is left out stays English. */
  words?: Partial<MagicLinkMailWords>;
  /** The clock for the lifetime in words. Default `Date.now`. */
  now?: () => number;
}

export interface MagicLinkMail {
  subject: string;
  text: string;
  html: string;
}

const plural = (count: number, unit: string): string => `${count} ${unit}${count === 1 ? '' : 's'}`;

export const ENGLISH: MagicLinkMailWords = {
  subject: (appName) => `Sign in to ${appName}`,
  intro: (appName) => `Sign in to ${appName} with the link below.`,
  button: 'Sign in',
  linkFallback: 'Or open this link:',
  codeIntro: 'Reading this on another device? Enter this code on the sign-in page instead:',
  expiry: (lifetime) => `The link and the code work once and expire in ${lifetime}.`,
  ignore: 'If you did not ask to sign in, you can ignore this email: nobody can sign in without it.',
  duration: (seconds) => {
    if (seconds < 90) return plural(Math.max(1, Math.round(seconds)), 'second');
    if (seconds < 3600) return plural(Math.round(seconds / 60), 'minute');
    if (seconds < 48 * 3600) return plural(Math.round(seconds / 3600), 'hour');
    return plural(Math.round(seconds / 86_400), 'day');
  },
};

/**
 * The mail for one link: `{ subject, text, html }`, ready for nodemailer's `sendMail` or a provider's
 * API. The HTML is one column, readable without images or styles, with the link also spelled out.
 */
export function renderMagicLinkMail(message: Pick<MagicLinkMessage, 'url' | 'code' | 'expiresAt'>, options: MagicLinkMailOptions): MagicLinkMail {
  if (typeof options !== 'object' || options === null || typeof options.appName !== 'string' || options.appName.trim() === '') {
    throw new TypeError('`renderMagicLinkMail(message, { appName })` needs your app\'s name, e.g. `{ appName: "Acme" }`.');
  }
  const words: MagicLinkMailWords = { ...ENGLISH, ...options.words };
  const appName = options.appName.trim();
  const now = (options.now ?? Date.now)();
  const lifetime = words.duration(Math.max(1, Math.round((message.expiresAt.getTime() - now) / 1000)));
  const subject = words.subject(appName);
  const text = [subject, '', words.intro(appName), '', message.url, '', words.codeIntro, message.code, '', words.expiry(lifetime), '', words.ignore, ''].join(
    '\n',
  );
  const e = escapeHtml;
  const html = `<!doctype html>
<html lang="${e(options.lang ?? 'en')}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark"><title>${e(subject)}</title></head>
<body style="margin:0;padding:24px 12px;background:#f6f7f9;color:#1d2330;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif">
<main style="max-width:480px;margin:0 auto;background:#ffffff;border:1px solid #dde1e7;border-radius:12px;padding:28px">
<h1 style="font-size:22px;margin:0 0 12px">${e(subject)}</h1>
<p style="margin:0 0 20px">${e(words.intro(appName))}</p>
<p style="margin:0 0 20px"><a href="${e(message.url)}" style="display:inline-block;background:#1f4fd6;color:#ffffff;text-decoration:none;font-weight:600;padding:12px 24px;border-radius:8px">${e(words.button)}</a></p>
<p style="margin:0 0 6px;font-size:14px;color:#535c6e">${e(words.linkFallback)}</p>
<p style="margin:0 0 20px;font-size:14px;word-break:break-all"><a href="${e(message.url)}" style="color:#1f4fd6">${e(message.url)}</a></p>
<p style="margin:0 0 6px">${e(words.codeIntro)}</p>
<p style="margin:0 0 20px;font:600 28px/1.2 ui-monospace,Menlo,Consolas,monospace;letter-spacing:6px">${e(message.code)}</p>
<p style="margin:0 0 12px">${e(words.expiry(lifetime))}</p>
<p style="margin:0;font-size:14px;color:#535c6e">${e(words.ignore)}</p>
</main></body></html>`;
  return { subject, text, html };
}
