import { randomUUID } from 'node:crypto';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { MagicLink, MagicLinkStrategy, errorHandler, migrate, renderMagicLinkMail } from 'express-magic-link';
import connectPgSimple from 'connect-pg-simple';
import pg from 'pg';

declare global {
  namespace Express {
    interface User {
      id: string;
      email: string;
    } // what req.user is in your app
  }
}
const users = new Map<string, Express.User>(); // your database

const port = Number(process.env.PORT ?? 3000);
const baseUrl = process.env.BASE_URL ?? `http://localhost:${port}`;
// Links, limits and sessions in your PostgreSQL.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 2_000 }); // the default waits forever
pool.on('error', (error) => console.error('postgres:', error.message)); // an idle client died: logged, not a crash
await migrate(pool); // once per deploy, or apply the package's schema.sql; safe to run again
const sessionStore = new (connectPgSimple(session))({ pool, createTableIfMissing: true });
const magicLink = new MagicLink({
  postgres: pool,
  baseUrl, // links are built from this, never from the Host header
  secret: process.env.MAGIC_LINK_SECRET, // the same secret in every process: `openssl rand -base64 32`
  mailer: {
    async send(message) {
      const mail = renderMagicLinkMail(message, { appName: 'My app' }); // { subject, text, html }
      console.log(`To: ${message.to}\nSubject: ${mail.subject}\n\n${mail.text}`); // hand it to your mail provider
    },
  },
});

// Runs when a link or code is redeemed: find the account, or create it (sign-up), or return false.
passport.use(
  new MagicLinkStrategy({ magicLink }, async (email) => {
    const user = [...users.values()].find((u) => u.email === email) ?? { id: randomUUID(), email };
    users.set(user.id, user);
    return user;
  }),
);
// The whole (small) user in the shared session, so every process knows who is signed in.
passport.serializeUser((user, done) => done(null, { id: user.id, email: user.email }));
passport.deserializeUser((user: Express.User, done) => done(null, user));

const app = express();
const cookie = { httpOnly: true, sameSite: 'lax', secure: baseUrl.startsWith('https:') } as const; // Secure needs https
app.use(session({ store: sessionStore, secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false, cookie })); // one SESSION_SECRET everywhere
app.use(passport.session());

app.post('/v1/auth/magic-link', magicLink.requestLinkHandler()); // {email, redirect?} → 202, mails a link
app.post('/v1/auth/exchange', magicLink.exchangeHandler()); // {email, code} → 200 {user}, signed in
app.get('/auth/magic-link/confirm', magicLink.confirmPageHandler()); // the page the mail links to
app.post('/auth/magic-link/confirm', magicLink.confirmFormHandler()); // its Sign in button → 303, signed in
app.get('/me', (req, res) => void res.json({ user: req.user ?? null }));
// A page to land on: who is signed in, or the sign-in form (a plain form works without JavaScript).
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const form =
  '<form method="post" action="/v1/auth/magic-link"><label>Email <input type="email" name="email" required></label> <button>Email me a link</button></form>';
app.get('/', (req, res) => {
  if (req.user) return void res.send(`<title>My app</title><p>Signed in as ${escapeHtml(req.user.email)}.</p>`);
  res.send(`<title>Sign in</title>${form}${req.query.magic_link === 'sent' ? '<p role="status">Check your email.</p>' : ''}`);
});
app.use(errorHandler()); // last: every failure in the documented JSON envelope

app.listen(port, () => console.log(`Listening on ${baseUrl}`));
