// A small app wired the way the README tells users to, with a recording mailer and a settable clock.
import assert from 'node:assert/strict';
import express, { type Express } from 'express';
import session from 'express-session';
import { Passport } from 'passport';
import type { Response } from 'supertest';
import {
  errorCatalogue,
  errorHandler,
  MagicLink,
  MagicLinkStrategy,
  requestId,
  type ErrorCode,
  type MagicLinkMessage,
  type MagicLinkOptions,
  type VerifyCallback,
} from '../../src/index.js';

export interface TestUser {
  id: string;
  email: string;
}

export interface TestApp {
  app: Express;
  magicLink: MagicLink;
  outbox: MagicLinkMessage[];
  clock: { now: () => number; advance: (ms: number) => void };
  users: Map<string, TestUser>;
  /** The token of the n-th mail (default: the latest). */
  tokenOf: (index?: number) => string;
  /** The exchange code of the n-th mail (default: the latest). */
  codeOf: (index?: number) => string;
  /** Errors passed to onError. */
  reported: unknown[];
  /** The Passport instance the strategy is registered on. */
  passport: InstanceType<typeof Passport>;
}

export interface TestAppOptions extends Partial<MagicLinkOptions> {
  verify?: VerifyCallback;
  /** Express `trust proxy` setting. */
  trustProxy?: boolean | number;
  /** express-session's store (default its MemoryStore). */
  sessionStore?: session.Store;
  /** express-session's cookie options; `false`: no session middleware at all (a misconfigured app). */
  sessionCookie?: session.CookieOptions | false;
  /** Sessions only on the routes that sign in, and `requestLinkHandler({ sessionRequired: false })`. */
  sessionsOnSignInRoutesOnly?: boolean;
}

export const BASE_URL = 'http://app.test';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A verify callback that signs anyone in (the account is made on first use). */
export const anyone = async (email: string): Promise<TestUser> => ({ id: email, email });
/** A secret as `openssl rand -base64 32` makes one; shared stores (Redis, custom) require it. */
export const TEST_SECRET = 'k3Jz9QvH2mXw7RtB5nYc8LpD4sFa6GeU1oKiVbNq0Zw=';
export const START = Date.parse('2026-05-25T12:00:00Z');

export function createTestApp(options: TestAppOptions = {}): TestApp {
  const { verify, trustProxy, sessionStore, sessionCookie, sessionsOnSignInRoutesOnly, ...magicLinkOptions } = options;
  const outbox: MagicLinkMessage[] = [];
  const reported: unknown[] = [];
  let now = START;
  const clock = { now: () => now, advance: (ms: number) => void (now += ms) };
  const users = new Map<string, TestUser>([
    ['alice@example.com', { id: 'u1', email: 'alice@example.com' }],
    ['bob@example.com', { id: 'u2', email: 'bob@example.com' }],
  ]);
  const passport = new Passport();
  const magicLink = new MagicLink({
    baseUrl: BASE_URL,
    mailer: { send: async (message) => void outbox.push(message) },
    now: clock.now,
    secret: TEST_SECRET,
    onError: (error) => void reported.push(error),
    ...magicLinkOptions,
  });
  passport.use(new MagicLinkStrategy({ magicLink }, verify ?? (async (email) => users.get(email) ?? false)));
  passport.serializeUser<string>((user, done) => done(null, (user as TestUser).id));
  passport.deserializeUser<string>((id, done) => done(null, [...users.values()].find((u) => u.id === id) ?? false));

  const app = express();
  if (trustProxy !== undefined) app.set('trust proxy', trustProxy);
  app.use(requestId());
  const sessions =
    sessionCookie === false
      ? []
      : [
          session({
            secret: 'test-secret',
            resave: false,
            saveUninitialized: false,
            name: 'sid',
            ...(sessionStore ? { store: sessionStore } : {}),
            ...(sessionCookie ? { cookie: sessionCookie } : {}),
          }),
          passport.session(),
        ];
  if (!sessionsOnSignInRoutesOnly && sessions.length > 0) app.use(...sessions);
  const signIn = sessionsOnSignInRoutesOnly ? sessions : [];
  app.post('/v1/auth/magic-link', magicLink.requestLinkHandler(sessionsOnSignInRoutesOnly ? { sessionRequired: false } : {}));
  app.post('/v1/auth/verify', ...signIn, magicLink.verifyHandler());
  app.post('/v1/auth/exchange', ...signIn, magicLink.exchangeHandler());
  app.get('/auth/magic-link/confirm', ...signIn, magicLink.confirmPageHandler());
  app.post('/auth/magic-link/confirm', ...signIn, magicLink.confirmFormHandler());
  if (magicLinkOptions.crossDevice) {
    app.get('/v1/auth/attempt', magicLink.attemptStatusHandler());
    app.post('/v1/auth/attempt', ...signIn, magicLink.attemptCollectHandler());
  }
  // Creates an anonymous session, so fixation tests have a session id to plant.
  app.get('/test/visit', (req, res) => {
    (req.session as unknown as { visits?: number }).visits = 1;
    res.json({ ok: true });
  });
  app.get('/v1/me', ...signIn, (req, res) => {
    if (!req.user) throw Object.assign(new Error('no session'), { status: 401 });
    res.json({ success: true, message: 'success', data: { user: req.user } });
  });
  app.use(errorHandler());

  const tokenOf = (index = outbox.length - 1): string => {
    const message = outbox[index];
    assert.ok(message, `no mail at index ${index}`);
    return new URL(message.url).searchParams.get('token')!;
  };
  const codeOf = (index = outbox.length - 1): string => {
    const message = outbox[index];
    assert.ok(message, `no mail at index ${index}`);
    return message.code;
  };
  return { app, magicLink, outbox, clock, users, tokenOf, codeOf, reported, passport };
}

const ENVELOPE_KEYS = ['success', 'error', 'message', 'details', 'retry_after', 'doc_url', 'request_id', 'timestamp'];

/** Asserts the exact SPEC §3 envelope, status and headers for `code`. */
export function expectError(res: Response, code: ErrorCode, retryAfter: number | null | 'any' = null): void {
  const entry = errorCatalogue[code];
  assert.equal(res.status, entry.status, `status for ${code}; body: ${res.text}`);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = JSON.parse(res.text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ENVELOPE_KEYS);
  assert.equal(body.success, false);
  assert.equal(body.error, code);
  assert.equal(body.message, entry.message);
  assert.ok(Array.isArray(body.details));
  if (retryAfter === 'any') {
    assert.ok(Number.isInteger(body.retry_after) && (body.retry_after as number) > 0, `retry_after ${String(body.retry_after)}`);
  } else {
    assert.equal(body.retry_after, retryAfter);
  }
  if (body.retry_after === null) assert.equal(res.headers['retry-after'], undefined);
  else assert.equal(res.headers['retry-after'], String(body.retry_after as number));
  assert.equal(body.doc_url, `https://docs.asterwise.com/reference/errors/${code}`);
  assert.match(String(body.request_id), /^[A-Za-z0-9._-]{1,128}$/);
  assert.equal(res.headers['x-request-id'], body.request_id);
  assert.match(String(body.timestamp), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
}

export function detailsOf(res: Response): Array<Record<string, unknown>> {
  return (JSON.parse(res.text) as { details: Array<Record<string, unknown>> }).details;
}
