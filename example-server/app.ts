// The example app: the library's handlers mounted as SPEC §2 says, plus the demo pages of SPEC §7.
// It imports only the package's public entry, like any user would.
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import passport from 'passport';
import { errorHandler, MagicLink, MagicLinkError, MagicLinkStrategy, requestId, type MagicLinkMessage } from 'express-magic-link';
import { dashboardPage, inboxPage, signInPage, type InboxMessage } from './pages.js';
import { RedisSessionStore } from './redis-session-store.js';
import { memoryUsers, redisUsers, type DemoUser } from './users.js';
import { isLoopbackHost, type Settings } from './settings.js';

export interface ExampleApp {
  app: express.Express;
  /** Every mail sent, oldest first (what the dev inbox shows). */
  outbox: InboxMessage[];
  /** The Redis client when REDIS_URL is set. */
  redis: Redis | undefined;
  close: () => Promise<void>;
}

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
  const users = redis ? redisUsers(redis) : memoryUsers();

  const authenticator = new passport.Passport();
  const magicLink = new MagicLink({
    baseUrl: settings.baseUrl,
    secret: settings.magicLinkSecrets,
    mailer,
    redis,
    ttlSeconds: settings.ttlSeconds,
    retentionSeconds: settings.retentionSeconds,
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
    passport: authenticator,
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
      ...(redis ? { store: new RedisSessionStore(redis) } : {}),
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

  app.get('/', pageHeaders, (req, res) => {
    if (req.user) return res.redirect(303, '/dashboard');
    res.type('html').send(signInPage({ devInbox, ttlMinutes: Math.round(settings.ttlSeconds / 60) }));
  });
  app.get('/dashboard', pageHeaders, (req, res) => {
    if (!req.user) return res.redirect(303, '/');
    res.type('html').send(dashboardPage((req.user as DemoUser).email));
  });

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
  app.use(errorHandler({ docsBaseUrl: settings.docsBaseUrl }));

  return {
    app,
    outbox,
    redis,
    close: async () => {
      const store = magicLink.store as { close?: () => void };
      store.close?.();
      redis?.disconnect();
    },
  };
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
