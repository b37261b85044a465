// The example app: the library's handlers mounted as SPEC §2 says, plus the demo pages of SPEC §7.
// It imports only the package's public entry, like any user would.
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import passport from 'passport';
import { errorHandler, MagicLink, MagicLinkError, MagicLinkStrategy, migrate, requestId, type MagicLinkMessage } from 'express-magic-link';
import pg from 'pg';
import { dashboardPage, errorPage, inboxPage, signInPage, type InboxMessage, type PageError } from './pages.js';
import { PostgresSessionStore, SESSION_TABLE_SQL } from './postgres-session-store.js';
import { RedisSessionStore } from './redis-session-store.js';
import { memoryUsers, postgresUsers, redisUsers, USERS_TABLE_SQL, type DemoUser } from './users.js';
import { sessionSeal } from './session-seal.js';
import { isLoopbackHost, type Settings } from './settings.js';

export interface ExampleApp {
  app: express.Express;
  /** Every mail sent, oldest first (what the dev inbox shows). */
  outbox: InboxMessage[];
  /** The Redis client when REDIS_URL is set. */
  redis: Redis | undefined;
  /** The PostgreSQL pool when DATABASE_URL is set (and REDIS_URL is not). */
  postgres: pg.Pool | undefined;
  /** Resolves once the store is ready to serve (PostgreSQL: its tables made); serve after it. */
  ready: Promise<void>;
  close: () => Promise<void>;
}

type SessionDataFlash = PageError & { typedEmail?: string; focusEmail?: boolean };

declare module 'express-session' {
  interface SessionData {
    /** The address the last link went to (sealed), and when (ms): the "check your email" state. */
    sent: { to: string; at: number; match?: number };
    /** When each address (by keyed digest) last got a link from this browser: the resend lock is per address. */
    resend: Record<string, number>;
    /** Wrong codes typed in this browser, per address digest: after the store's 5 the code is dead. */
    wrongCodes: Record<string, number>;
    /** One error (and what was typed, sealed) for the next page view, after a form post. */
    flash: SessionDataFlash;
  }
}

/** The resend lock: one link per address per minute from this browser; another address at once. */
const RESEND_MS = 60_000;
/** The store kills a code after this many wrong tries (the library's default). */
const CODE_TRIES = 5;
/** Routes that answer with pages: their failures are pages too, never JSON. */
const PAGE_PATHS = new Set(['/', '/dashboard', '/code', '/change-address', '/sign-out']);

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface ExampleAppOptions {
  /** Where the demo's own notes go (the dev-inbox hint). Default `console.log`. */
  log?: (line: string) => void;
}

export function createExampleApp(settings: Settings, { log = console.log }: ExampleAppOptions = {}): ExampleApp {
  const outbox: InboxMessage[] = [];
  // Every link is readable in the dev inbox: never in production, and only on a loopback host.
  const devInbox = !settings.production && isLoopbackHost(settings.host);
  const baseUrl = new URL(settings.baseUrl);

  const mailer = {
    async send(message: MagicLinkMessage): Promise<void> {
      // A real app hands this to its mail provider; the demo keeps it for the dev inbox.
      outbox.push({ to: message.to, url: message.url, code: message.code, sent_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });
      if (devInbox) log(`[demo] mail for ${message.to.replace(/^(.).*@/, '$1•••@')} is in the dev inbox: ${settings.baseUrl}/dev/inbox`);
    },
  };

  // Fail fast rather than queue while Redis is away: the library answers service_unavailable.
  const redis = settings.redisUrl
    ? new Redis(settings.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, autoResendUnfulfilledCommands: false })
    : undefined;
  redis?.on('error', (error: Error) => log(`[demo] redis: ${error.message}`));
  // A bounded wait for a connection: node-postgres waits forever by default.
  const postgres =
    !redis && settings.databaseUrl ? new pg.Pool({ connectionString: settings.databaseUrl, max: 10, connectionTimeoutMillis: 2_000 }) : undefined;
  postgres?.on('error', (error: Error) => log(`[demo] postgres: ${error.message}`));
  const users = redis ? redisUsers(redis) : postgres ? postgresUsers(postgres) : memoryUsers();
  // The library's tables, then the demo's own; safe on every start, and (under a lock, in one implicit
  // transaction) by processes starting together.
  const ready = postgres
    ? migrate(postgres)
        .then(() => postgres.query(`SELECT pg_advisory_xact_lock(hashtext('demo-tables'));\n${USERS_TABLE_SQL}\n${SESSION_TABLE_SQL}`))
        .then(() => undefined)
    : Promise.resolve();

  const authenticator = new passport.Passport();
  const magicLink = new MagicLink({
    baseUrl: settings.baseUrl,
    secret: settings.magicLinkSecrets,
    mailer,
    ...(redis ? { redis } : postgres ? { postgres } : {}),
    ttlSeconds: settings.ttlSeconds,
    retentionSeconds: settings.retentionSeconds,
    crossDevice: settings.crossDevice,
    limits: {
      windowSeconds: settings.limitWindowSeconds,
      // A spent budget blocks until the window would have ended (the library caps a block at an hour).
      blockSeconds: Math.min(settings.limitWindowSeconds, 3_600),
      linkRequestsPerEmail: settings.emailLimit,
      linkRequestsPerIp: settings.ipLimit,
      failedVerifiesPerIp: settings.verifyIpLimit,
      failedExchangesPerIp: settings.exchangeIpLimit,
    },
    docsBaseUrl: settings.docsBaseUrl,
    successRedirect: '/dashboard',
    appName: 'the express-magic-link demo',
    publicUser: (user) => user,
    // One JSON line per sign-in event: digests and ids only, never an address or a token.
    onEvent: (event) => log(JSON.stringify(event)),
    onError: (error, id) => log(`[demo] ${id}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`),
  });
  // The demo signs anyone in, creating the account on first use; a real app looks the email up.
  authenticator.use(new MagicLinkStrategy({ magicLink }, (email) => users.findOrCreate(email)));
  // The session holds the user's id only, never the address.
  authenticator.serializeUser<string>((user, done) => done(null, (user as DemoUser).id));
  authenticator.deserializeUser<string>((id, done) => {
    users.byId(id).then((user) => done(null, user ?? false), done);
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', settings.trustProxy);
  app.use(requestId());
  app.use(
    session({
      name: 'sid',
      secret: settings.sessionSecret,
      ...(redis ? { store: new RedisSessionStore(redis) } : postgres ? { store: new PostgresSessionStore(postgres) } : {}),
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: baseUrl.protocol === 'https:', maxAge: 7 * 24 * 3600 * 1000 },
    }),
  );
  app.use(authenticator.session());

  // Pages are served on the configured origin only, so the browser's Origin matches BASE_URL.
  const pageHeaders = (req: Request, res: Response, next: NextFunction): void => {
    if (req.method === 'GET' && req.headers.host !== baseUrl.host && !settings.trustProxy) {
      res.redirect(302, new URL(req.originalUrl, baseUrl).href);
      return;
    }
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    next();
  };

  app.use('/static', express.static(PUBLIC_DIR, { index: false, fallthrough: true }));
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());

  const forms = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 });
  // Addresses in the session are sealed, and digests when they are keys: see session-seal.ts.
  const sealer = sessionSeal(settings.sessionSecret);
  const field = (req: Request, name: string): string => {
    const value: unknown = (req.body as Record<string, unknown> | undefined)?.[name];
    return typeof value === 'string' ? value.trim().slice(0, 320) : '';
  };
  /** After a form post: back to the page with one error to show (post/redirect/get). */
  const back = (req: Request, res: Response, flash?: SessionDataFlash): void => {
    if (flash) req.session.flash = { ...flash, ...(flash.typedEmail ? { typedEmail: sealer.seal(flash.typedEmail) } : {}) };
    res.redirect(303, '/');
  };

  app.get('/', pageHeaders, (req, res) => {
    if (req.user) return res.redirect(303, '/dashboard');
    const flash = req.session.flash ?? attemptOutcome(req);
    delete req.session.flash;
    const to = sealer.open(req.session.sent?.to);
    const sent = to === undefined ? undefined : { to, at: req.session.sent!.at, match: req.session.sent!.match };
    const lastSent = sent ? (req.session.resend?.[sealer.key(sent.to)] ?? sent.at) : 0;
    res.type('html').send(
      signInPage({
        devInbox,
        ttlSeconds: settings.ttlSeconds,
        sent,
        resendInMs: Math.max(0, lastSent + RESEND_MS - Date.now()),
        error: flash?.code ? flash : undefined,
        typedEmail: sealer.open(flash?.typedEmail),
        focusEmail: flash?.focusEmail === true,
      }),
    );
  });

  // The sign-in form, with or without JavaScript: a plain form post, answered with a redirect.
  app.post('/', magicLink.crossSiteGuard(), forms, async (req, res, next) => {
    const email = field(req, 'email');
    if (email === '') return back(req, res, { form: 'email', code: 'email_missing' });
    const lockKey = sealer.key(email);
    const lockedUntil = (req.session.resend?.[lockKey] ?? 0) + RESEND_MS;
    if (Date.now() < lockedUntil) {
      return back(req, res, { form: 'email', code: 'resend_locked', retryAfter: Math.ceil((lockedUntil - Date.now()) / 1000), typedEmail: email });
    }
    try {
      const sent = await magicLink.requestLink(req, { email, redirect: '/dashboard' });
      const now = Date.now();
      req.session.sent = { to: sealer.seal(sent.email), at: now, ...(sent.match === undefined ? {} : { match: sent.match }) };
      // The last few addresses only: the session stays small.
      const recent = Object.entries(req.session.resend ?? {}).slice(-4);
      req.session.resend = Object.fromEntries([...recent, [lockKey, now], [sealer.key(sent.email), now]]);
      back(req, res);
    } catch (error) {
      if (!(error instanceof MagicLinkError) || error.code === 'internal_error') return next(error);
      back(req, res, { form: 'email', code: error.code, retryAfter: error.retryAfter, typedEmail: email });
    }
  });

  app.post('/change-address', magicLink.crossSiteGuard(), (req, res) => {
    const previous = sealer.open(req.session.sent?.to);
    delete req.session.sent;
    back(req, res, { form: 'email', code: '', ...(previous ? { typedEmail: previous } : {}), focusEmail: true });
  });

  // The code form: the same Passport strategy as the handlers, on a route of the demo's own.
  app.post('/code', magicLink.crossSiteGuard(), forms, (req, res, next) => {
    const email = field(req, 'email');
    // A pasted "123 456" or "123-456" is the same code.
    const code = field(req, 'code').replace(/[\s-]/g, '');
    const typed = { form: 'code' as const, typedEmail: email };
    if (email === '') return back(req, res, { ...typed, code: 'email_missing' });
    if (code === '') return back(req, res, { ...typed, code: 'code_missing' });
    if (!/^\d{6}$/.test(code)) return back(req, res, { ...typed, code: 'code_malformed' });
    const wrongKey = sealer.key(email);
    const wrong = req.session.wrongCodes?.[wrongKey] ?? 0;
    if (wrong >= CODE_TRIES) return back(req, res, { ...typed, code: 'code_locked' });
    req.body = { email, code };
    authenticator.authenticate('magic-link', (error: unknown, user: DemoUser | false, info: unknown) => {
      if (error) {
        if (error instanceof MagicLinkError && error.code === 'service_unavailable') return back(req, res, { ...typed, code: error.code });
        return next(error);
      }
      if (!user) {
        const failure = info instanceof MagicLinkError ? info : new MagicLinkError('internal_error');
        if (failure.code === 'exchange_code_not_found') {
          req.session.wrongCodes = { ...req.session.wrongCodes, [wrongKey]: wrong + 1 };
          if (wrong + 1 >= CODE_TRIES) return back(req, res, { ...typed, code: 'code_locked' });
        }
        return back(req, res, { ...typed, code: failure.code, retryAfter: failure.retryAfter });
      }
      req.logIn(user, (loginError) => (loginError ? next(loginError) : res.redirect(303, '/dashboard')));
    })(req, res, next);
  });

  app.get('/dashboard', pageHeaders, (req, res) => {
    if (!req.user) return res.redirect(303, '/');
    res.type('html').send(dashboardPage((req.user as DemoUser).email));
  });

  app.post('/sign-out', magicLink.crossSiteGuard(), (req, res, next) => {
    req.logout((error) => {
      if (error) return next(error);
      req.session.destroy((destroyError) => {
        if (destroyError) return next(destroyError);
        res.clearCookie('sid', { httpOnly: true, sameSite: 'lax', secure: baseUrl.protocol === 'https:' });
        res.redirect(303, '/');
      });
    });
  });

  if (settings.crossDevice) {
    app.get('/v1/auth/attempt', magicLink.attemptStatusHandler());
    // Without JavaScript, "I approved it on my phone" posts here and is sent on (or back to `/`).
    app.post('/v1/auth/attempt', magicLink.attemptCollectHandler());
  }
  app.post('/v1/auth/magic-link', magicLink.requestLinkHandler());
  app.post('/v1/auth/verify', magicLink.verifyHandler());
  app.post('/v1/auth/exchange', magicLink.exchangeHandler());
  app.get('/auth/magic-link/confirm', magicLink.confirmPageHandler());
  app.post('/auth/magic-link/confirm', magicLink.confirmFormHandler());

  app.post('/v1/auth/logout', (req, res, next) => {
    req.logout((error) => {
      if (error) return next(error);
      req.session.destroy((destroyError) => {
        if (destroyError) return next(destroyError);
        res.clearCookie('sid', { httpOnly: true, sameSite: 'lax', secure: baseUrl.protocol === 'https:' });
        res.json({ success: true, message: 'success', data: {} });
      });
    });
  });
  app.get('/v1/me', (req, res) => {
    if (!req.user) throw new MagicLinkError('session_not_found');
    res.setHeader('Cache-Control', 'no-store');
    res.json({ success: true, message: 'success', data: { user: req.user } });
  });

  app.get('/healthz', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    if (postgres) {
      const healthy = await Promise.race([
        postgres.query('SELECT 1').then(
          () => true,
          () => false,
        ),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000).unref()),
      ]);
      return void res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'unavailable', store: 'postgres' });
    }
    if (!redis) return void res.json({ status: 'ok', store: 'memory' });
    const healthy = redis.status === 'ready' && (await pingWithin(redis, 1_000));
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'unavailable', store: 'redis' });
  });

  if (devInbox) {
    app.get('/dev/outbox', (_req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json({ success: true, message: 'success', data: { messages: outbox } });
    });
    app.get('/dev/inbox', pageHeaders, (_req, res) => {
      res.type('html').send(inboxPage(outbox));
    });
  }

  app.use((_req, _res, next) => next(new MagicLinkError('resource_not_found')));
  // Page routes (and a browser asking for a page) get a page for every failure, 503 included.
  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    // The JSON API answers JSON whatever Accept says (SPEC §7); elsewhere a browser asking for a page gets one.
    const api = req.path === '/v1' || req.path.startsWith('/v1/');
    const wantsPage = !api && (PAGE_PATHS.has(req.path) || (req.method === 'GET' && req.accepts(['json', 'html']) === 'html'));
    if (!wantsPage || res.headersSent) return next(error);
    const outage = (error instanceof MagicLinkError && error.code === 'service_unavailable') || (redis !== undefined && redis.status !== 'ready');
    const failure = error instanceof MagicLinkError ? error : undefined;
    const status = outage ? 503 : (failure?.status ?? 500);
    if (status >= 500) log(`[demo] ${req.method} ${req.path}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    if (status === 503) res.setHeader('Retry-After', '5');
    res
      .status(status)
      .type('html')
      .send(errorPage(status, failure?.code ?? 'internal_error'));
  });
  app.use(errorHandler({ docsBaseUrl: settings.docsBaseUrl }));

  return {
    app,
    outbox,
    redis,
    postgres,
    ready,
    close: async () => {
      const store = magicLink.store as { close?: () => void };
      store.close?.();
      redis?.disconnect();
      await postgres?.end();
    },
  };
}

/** The collect form's outcome, when it sent the person back here: `?attempt=pending` or `?magic_link_error=`. */
function attemptOutcome(req: Request): SessionDataFlash | undefined {
  if (req.query.attempt === 'pending') return { form: 'attempt', code: 'attempt_pending' };
  const code = req.query.magic_link_error;
  return typeof code === 'string' && /^[a-z_]{1,64}$/.test(code) ? { form: 'attempt', code: `attempt_${code}` } : undefined;
}

function pingWithin(redis: Redis, ms: number): Promise<boolean> {
  return Promise.race([
    redis.ping().then(
      (reply) => reply === 'PONG',
      () => false,
    ),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref()),
  ]);
}

/** Well below Node's 300 s: a client that trickles its request in cannot hold a socket for minutes. */
export function limitSlowClients(server: Server): void {
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
}
