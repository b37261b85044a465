// One benchmark server per process, on loopback: `bare` (the ceiling), `floor` (a session sign-in
// with no token at all), `memory`, `redis`, `postgres`, `peer` (passport-magic-login) or
// `better-auth` (its magic-link plugin, on PostgreSQL); `memory-app` and `redis-app` mount sessions
// app-wide. Prints `ready <port>` once listening. Mailers do no I/O; they keep the tokens so the
// verify cases can redeem fresh ones.
import express, { type Request, type Response } from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import passport from 'passport';
import magicLoginModule from 'passport-magic-login';
import pg from 'pg';
import type * as Library from 'express-magic-link';
import type { PostgresClient } from 'express-magic-link';

// BENCH_PACKAGE: another build of the library (an earlier commit's dist/esm/index.js), to compare
// builds in one interleaved run on the same server code.
const { MagicLink, MagicLinkStrategy, errorHandler, migrate } = (await import(process.env.BENCH_PACKAGE ?? 'express-magic-link')) as typeof Library;

const SECRET = 'bK3v9QzH2mXw7RtB5nYc8LpD4sFa6GeU1oKiVbNq0Zw';

/** A MagicLink with the bench's secret; builds from before keyed digests (4d9eaf5 and earlier) know no `secret`. */
function magicLinkOf(options: Omit<Library.MagicLinkOptions, 'secret'>): Library.MagicLink {
  try {
    return new MagicLink({ ...options, secret: SECRET });
  } catch (error) {
    if (!(error instanceof TypeError && error.message.includes('unknown option `secret`'))) throw error;
    return new MagicLink(options);
  }
}

const mode = process.argv[2] ?? 'bare';
const tokens: string[] = [];
const app = express();
app.set('trust proxy', true);
app.disable('x-powered-by');

function tokensRoute(): void {
  app.get('/bench/tokens', (_req, res) => void res.json({ count: tokens.length, tokens: tokens.splice(0) }));
}

const user = (email: string) => ({ id: email, email });

/** A Passport instance with sessions, and the middleware a sign-in route carries. */
function sessionSignIn() {
  // The process's one Passport (each case has a process of its own): builds before the handlers
  // called their own sign-in authenticate through it.
  const authenticator = passport;
  authenticator.serializeUser((u, done) => done(null, u));
  authenticator.deserializeUser((u: Express.User, done) => done(null, u));
  // Sessions only on the routes that sign in (verify), as a performance-minded app mounts them; the
  // `-app` modes mount them app-wide, as the README's quick start does.
  const sessions = [session({ secret: 'bench', resave: false, saveUninitialized: false }), authenticator.session()];
  return { authenticator, sessions };
}

if (mode === 'bare') {
  // The ceiling: the same two endpoints as JSON routes that do nothing.
  app.post('/v1/auth/magic-link', express.json(), (req: Request, res: Response) => {
    res.status(202).json({ success: true, message: 'success', data: { email: (req.body as { email?: string }).email } });
  });
  app.post('/v1/auth/verify', express.json(), (_req: Request, res: Response) => {
    res.status(200).json({ success: true, message: 'success', data: { user: { id: 'x' } } });
  });
} else if (mode === 'floor') {
  // What a session sign-in costs before any token is checked: express-session, Passport's login
  // (a regenerated session, saved) and the JSON answer. Every verify case stands on this.
  const { sessions } = sessionSignIn();
  app.post('/v1/auth/verify', ...sessions, express.json(), (req: Request, res: Response, next: (error: unknown) => void) => {
    req.logIn(user('floor@bench.example'), (error) =>
      error ? next(error) : res.status(200).json({ success: true, message: 'success', data: { user: req.user } }),
    );
  });
} else if (mode === 'postgres') {
  // A pool as the README sets one up; the queries it is sent are counted (its round trips).
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL!, max: 10, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => undefined);
  await migrate(pool);
  let queries = 0;
  const counted: PostgresClient = { query: (text, values) => (queries++, pool.query(text, values) as never) };
  const { authenticator, sessions } = sessionSignIn();
  const magicLink = magicLinkOf({
    baseUrl: 'http://127.0.0.1',
    mailer: { send: async ({ url }) => void tokens.push(url.slice(url.indexOf('token=') + 6)) },
    postgres: counted,
  });
  authenticator.use(new MagicLinkStrategy({ magicLink }, async (email) => user(email)));
  app.post('/v1/auth/magic-link', magicLink.requestLinkHandler({ sessionRequired: false }));
  app.post('/v1/auth/verify', ...sessions, magicLink.verifyHandler());
  app.get('/bench/queries', (_req, res) => void res.json({ queries: queries.valueOf(), reset: (queries = 0) }));
  tokensRoute();
  app.use(errorHandler());
} else if (['memory', 'redis', 'redis-wait', 'memory-app', 'redis-app'].includes(mode)) {
  // The client options the README recommends.
  const redis = !mode.startsWith('memory')
    ? new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1, enableOfflineQueue: false, autoResendUnfulfilledCommands: false })
    : undefined;
  if (redis) await new Promise((resolve) => redis.once('ready', resolve));
  const { authenticator, sessions } = sessionSignIn();
  const magicLink = magicLinkOf({
    baseUrl: 'http://127.0.0.1',
    mailer: { send: async ({ url }) => void tokens.push(url.slice(url.indexOf('token=') + 6)) },
    redis,
    // redis-wait: every redeem waits for a replica's acknowledgement (the durability option).
    ...(mode === 'redis-wait' ? { waitForReplicas: 1 } : {}),
  });
  authenticator.use(new MagicLinkStrategy({ magicLink }, async (email) => user(email)));
  // The README layout: sessions for every route. Otherwise only on the two sign-in routes.
  const appWide = mode.endsWith('-app');
  if (appWide) app.use(...sessions);
  app.post('/v1/auth/magic-link', magicLink.requestLinkHandler(appWide ? {} : { sessionRequired: false }));
  app.post('/v1/auth/verify', ...(appWide ? [] : sessions), magicLink.verifyHandler());
  tokensRoute();
  app.use(errorHandler());
} else if (mode === 'better-auth') {
  // better-auth's magic-link plugin on PostgreSQL, a pg.Pool as its docs pass one, mounted as they
  // say for Express 5. Its rate limits stay on (they are in production) with budgets no run can
  // spend: every verify comes from one address, which its default (5 a minute) would refuse.
  const [{ betterAuth }, { magicLink }, { toNodeHandler }, { getMigrations }] = await Promise.all([
    import('better-auth'),
    import('better-auth/plugins'),
    import('better-auth/node'),
    import('better-auth/db/migration'),
  ]);
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL!, max: 10, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => undefined);
  const unspendable = { window: 60, max: 1_000_000_000 };
  const auth = betterAuth({
    baseURL: 'http://127.0.0.1',
    secret: SECRET,
    database: pool,
    rateLimit: { enabled: true, ...unspendable },
    advanced: { ipAddress: { ipAddressHeaders: ['x-forwarded-for'] } },
    plugins: [magicLink({ rateLimit: unspendable, sendMagicLink: async ({ token }) => void tokens.push(token) })],
  });
  await (await getMigrations(auth.options)).runMigrations();
  app.all('/api/auth/{*any}', toNodeHandler(auth));
  tokensRoute();
} else if (mode === 'peer') {
  // A CommonJS module with `exports.default`: from ESM the class is on `.default`.
  const magicLogin = new magicLoginModule.default({
    secret: 'bench-secret-bench-secret-bench-secret',
    callbackUrl: '/auth/magiclogin/callback',
    sendMagicLink: async (_destination: string, href: string) => void tokens.push(href.slice(href.indexOf('token=') + 6)),
    verify: (payload: { destination: string }, callback: (error?: Error | null, u?: object) => void) => callback(null, user(payload.destination)),
    jwtOptions: { expiresIn: '15m' },
  });
  const { authenticator, sessions } = sessionSignIn();
  authenticator.use(magicLogin as unknown as passport.Strategy);
  app.post('/auth/magiclogin', express.json(), magicLogin.send);
  app.get('/auth/magiclogin/callback', ...sessions, authenticator.authenticate('magiclogin'), (req: Request, res: Response) => {
    res.json({ success: true, data: { user: req.user } });
  });
  tokensRoute();
} else {
  throw new Error(`unknown mode ${mode}`);
}

const server = app.listen(0, '127.0.0.1', () => {
  console.log(`ready ${(server.address() as { port: number }).port}`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
