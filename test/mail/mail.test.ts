// The sign-in mail and the README's two delivery recipes (examples/mail), exercised for real:
// nodemailer's stream transport builds the MIME message; a local server stands in for the HTTP API.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import request from 'supertest';
import { renderMagicLinkMail } from '../../src/index.js';
import { resendMailer } from '../../examples/mail/resend-api.js';
import { smtpMailer } from '../../examples/mail/nodemailer-smtp.js';
import { createTestApp, expectError } from '../helpers/test-app.js';

const message = { url: 'https://app.example.com/auth/magic-link/confirm?token=abc&x=1', code: '123456', expiresAt: new Date(1_000_000 + 15 * 60_000) };
const now = () => 1_000_000;

/** The body of one MIME part, quoted-printable decoded. */
function part(raw: string, type: string): string {
  const match = new RegExp(`Content-Type: ${type}[^\\n]*\\n(?:[^\\n]+\\n)*\\n([\\s\\S]*?)\\n--`, 'i').exec(raw);
  assert.ok(match, `no ${type} part in\n${raw.slice(0, 500)}`);
  return match[1]!.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

describe('renderMagicLinkMail', () => {
  it('subject, plain text and HTML carry the link, the code, the lifetime in words and the app name', () => {
    const mail = renderMagicLinkMail(message, { appName: 'Acme', now });
    assert.equal(mail.subject, 'Sign in to Acme');
    for (const text of ['Sign in to Acme', message.url, '123456', 'expire in 15 minutes', 'ignore this email']) assert.ok(mail.text.includes(text), text);
    assert.match(mail.html, /^<!doctype html>\n<html lang="en">/);
    assert.ok(
      mail.html.includes('href="https://app.example.com/auth/magic-link/confirm?token=abc&#38;x=1"'),
      'the link, escaped, in the button and spelled out',
    );
    assert.match(mail.html, /<title>Sign in to Acme<\/title>/);
    assert.match(mail.html, />123456</);
    assert.doesNotMatch(mail.html, /<img|<script/i, 'readable without images, no script');
    // A text part has no button to point at.
    assert.doesNotMatch(mail.text, /button/i);
    assert.ok(mail.text.includes('Sign in to Acme with the link below.'));
  });

  it('says short and long lifetimes in words, never "0 minutes"', () => {
    const at = (seconds: number) => renderMagicLinkMail({ ...message, expiresAt: new Date(1_000_000 + seconds * 1000) }, { appName: 'Acme', now }).text;
    assert.match(at(30), /expire in 30 seconds/);
    assert.match(at(60 * 60), /expire in 1 hour\./);
    assert.match(at(7 * 86_400), /expire in 7 days/);
  });

  it('takes the words of another language (the locale hook) and escapes everything it is given', () => {
    const mail = renderMagicLinkMail(message, {
      appName: '<b>Acme</b>',
      lang: 'de',
      now,
      words: { subject: (app) => `Anmelden bei ${app}`, button: 'Anmelden', duration: (s) => `${Math.round(s / 60)} Minuten` },
    });
    assert.equal(mail.subject, 'Anmelden bei <b>Acme</b>');
    assert.match(mail.html, /<html lang="de">/);
    assert.match(mail.html, /Anmelden bei &#60;b&#62;Acme&#60;\/b&#62;/);
    assert.match(mail.html, />Anmelden<\/a>/);
    assert.match(mail.text, /expire in 15 Minuten/, 'what is not given stays English');
  });

  it('names the missing app name in a TypeError', () => {
    assert.throws(() => renderMagicLinkMail(message, {} as never), { name: 'TypeError', message: /appName/ });
  });
});

describe('mail recipes', () => {
  it('nodemailer (SMTP recipe): a multipart/alternative mail with a text and an HTML part, sent through a real sign-in', async () => {
    const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    const sent: string[] = [];
    const sendMail = transport.sendMail.bind(transport);
    transport.sendMail = async (mail: SendMailOptions) => {
      const info = await sendMail(mail);
      sent.push(Buffer.from(info.message as Buffer).toString('utf8'));
      return info;
    };
    const { app } = createTestApp({ now: Date.now, mailer: smtpMailer(transport, 'Acme <sign-in@acme.example>', 'Acme') });
    assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'ada@example.com' })).status, 202);
    assert.equal(sent.length, 1);
    const raw = sent[0]!;
    assert.match(raw, /^From: Acme <sign-in@acme\.example>$/m);
    assert.match(raw, /^To: ada@example\.com$/m);
    assert.match(raw, /^Subject: Sign in to Acme$/m);
    assert.match(raw, /^Content-Type: multipart\/alternative;/m);
    const text = part(raw, 'text/plain');
    const html = part(raw, 'text/html');
    const url = /https?:\/\/\S+token=[A-Za-z0-9_-]+/.exec(text)?.[0];
    assert.ok(url, text);
    assert.ok(html.includes(url.replace(/&/g, '&#38;')), 'the HTML part links the same URL');
    assert.match(text, /\n\d{6}\n/, 'the code');
    // The mailed link signs in.
    const token = new URL(url).searchParams.get('token');
    const verified = await request(app).post('/v1/auth/verify').send({ token });
    expectError(verified, 'account_not_found'); // a live link; the test app's verify knows no account
  });

  it('HTTP API (Resend recipe): posts JSON with the key; a refusal is email_delivery_failed and voids the link', async () => {
    const seen: Array<{ request: IncomingMessage; body: Record<string, unknown> }> = [];
    let answer = 200;
    const api = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ request: req, body: JSON.parse(body) as Record<string, unknown> });
        res.writeHead(answer, { 'content-type': 'application/json' }).end(answer === 200 ? '{"id":"m_1"}' : '{"message":"domain not verified"}');
      });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(api.address() as AddressInfo).port}/emails`;
    try {
      const { app, outbox } = createTestApp({ now: Date.now, mailer: resendMailer('re_test_key', 'Acme <sign-in@acme.example>', 'Acme', endpoint) });
      assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'ada@example.com' })).status, 202);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.request.method, 'POST');
      assert.equal(seen[0]!.request.headers.authorization, 'Bearer re_test_key');
      assert.deepEqual(Object.keys(seen[0]!.body), ['from', 'to', 'subject', 'text', 'html']);
      assert.deepEqual(seen[0]!.body.to, ['ada@example.com']);
      assert.equal(seen[0]!.body.subject, 'Sign in to Acme');
      assert.equal(outbox.length, 0, 'the test mailer was replaced');

      answer = 422;
      const refused = await request(app).post('/v1/auth/magic-link').send({ email: 'bob@example.com' });
      expectError(refused, 'email_delivery_failed');
      const token = /token=([A-Za-z0-9_-]+)/.exec(String(seen[1]!.body.text))![1];
      expectError(await request(app).post('/v1/auth/verify').send({ token }), 'magic_link_not_found');
    } finally {
      api.close();
    }
  });
});
