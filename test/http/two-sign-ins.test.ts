// Two sign-ins in one app (customers and staff), each with its own MagicLink and store, on one
// Passport: each MagicLink's handlers and named strategy answer for its own links only. Before the
// handlers called their own service, A's verify ran whichever strategy Passport had under
// 'magic-link' and answered 401 for A's own valid token.
import assert from 'node:assert/strict';
import express from 'express';
import session from 'express-session';
import { Passport } from 'passport';
import request from 'supertest';
import { errorHandler, MagicLink, MagicLinkStrategy, MemoryTokenStore, type MagicLinkMessage } from '../../src/index.js';
import { expectError, TEST_SECRET } from '../helpers/test-app.js';

interface Side {
  magicLink: MagicLink;
  outbox: MagicLinkMessage[];
  token: () => string;
  code: () => string;
}

function side(prefix: string, reported: unknown[] = []): Side {
  const outbox: MagicLinkMessage[] = [];
  const magicLink = new MagicLink({
    baseUrl: 'http://app.test',
    confirmPath: `${prefix}/confirm`,
    store: new MemoryTokenStore(),
    secret: TEST_SECRET,
    mailer: { send: async (message) => void outbox.push(message) },
    onError: (error) => void reported.push(error),
  });
  const last = () => outbox.at(-1)!;
  return { magicLink, outbox, token: () => new URL(last().url).searchParams.get('token')!, code: () => last().code };
}

function mount(app: express.Express, prefix: string, { magicLink }: Side): void {
  app.post(`${prefix}/link`, magicLink.requestLinkHandler());
  app.post(`${prefix}/verify`, magicLink.verifyHandler());
  app.post(`${prefix}/exchange`, magicLink.exchangeHandler());
  app.get(`${prefix}/confirm`, magicLink.confirmPageHandler());
  app.post(`${prefix}/confirm`, magicLink.confirmFormHandler());
}

function twoSignIns() {
  const customers = side('/customers');
  const staff = side('/staff');
  const passport = new Passport();
  passport.use(new MagicLinkStrategy({ magicLink: customers.magicLink, name: 'customer-link' }, async (email) => ({ id: `c:${email}`, kind: 'customer' })));
  passport.use(new MagicLinkStrategy({ magicLink: staff.magicLink, name: 'staff-link' }, async (email) => ({ id: `s:${email}`, kind: 'staff' })));
  passport.serializeUser<string>((user, done) => done(null, JSON.stringify(user)));
  passport.deserializeUser<string>((user, done) => done(null, JSON.parse(user) as Express.User));
  const app = express();
  app.use(session({ secret: 'test-secret', resave: false, saveUninitialized: false }));
  app.use(passport.session());
  mount(app, '/customers', customers);
  mount(app, '/staff', staff);
  app.post('/own/customers', passport.authenticate('customer-link', { session: false }), (req, res) => void res.json({ user: req.user }));
  app.post('/own/staff', passport.authenticate('staff-link', { session: false }), (req, res) => void res.json({ user: req.user }));
  app.use(errorHandler({ onError: () => undefined }));
  return { app, customers, staff };
}

/** Opens `prefix`'s confirm page in a fresh browser and presses Sign in. */
async function confirm(app: express.Express, prefix: string, token: string) {
  const agent = request.agent(app);
  const page = await agent.get(`${prefix}/confirm?token=${encodeURIComponent(token)}`);
  if (page.status !== 200) return page;
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page.text)![1]!;
  return agent
    .post(`${prefix}/confirm`)
    .type('form')
    .send({ token: field('token'), page: field('page'), nonce: field('nonce') });
}

describe('two sign-ins in one app', () => {
  it('each verify handler signs in its own links and refuses the other’s', async () => {
    const { app, customers, staff } = twoSignIns();
    await request(app).post('/customers/link').send({ email: 'ada@example.com' });
    await request(app).post('/staff/link').send({ email: 'ada@example.com' });
    // Crossed: each refuses the other's token, and spends nothing.
    expectError(await request(app).post('/customers/verify').send({ token: staff.token() }), 'magic_link_not_found');
    expectError(await request(app).post('/staff/verify').send({ token: customers.token() }), 'magic_link_not_found');
    const asCustomer = await request(app).post('/customers/verify').send({ token: customers.token() });
    assert.equal(asCustomer.status, 200, asCustomer.text);
    assert.equal(asCustomer.body.data.user.kind, 'customer');
    const asStaff = await request(app).post('/staff/verify').send({ token: staff.token() });
    assert.equal(asStaff.status, 200, asStaff.text);
    assert.equal(asStaff.body.data.user.kind, 'staff');
  });

  it('each exchange handler takes its own codes only', async () => {
    const { app, customers, staff } = twoSignIns();
    await request(app).post('/customers/link').send({ email: 'ada@example.com' });
    await request(app).post('/staff/link').send({ email: 'ada@example.com' });
    expectError(await request(app).post('/staff/exchange').send({ email: 'ada@example.com', code: customers.code() }), 'exchange_code_not_found');
    assert.equal((await request(app).post('/customers/exchange').send({ email: 'ada@example.com', code: customers.code() })).body.data.user.kind, 'customer');
    assert.equal((await request(app).post('/staff/exchange').send({ email: 'ada@example.com', code: staff.code() })).body.data.user.kind, 'staff');
  });

  it('each confirm page shows its own links and refuses the other’s', async () => {
    const { app, customers, staff } = twoSignIns();
    await request(app).post('/customers/link').send({ email: 'ada@example.com' });
    await request(app).post('/staff/link').send({ email: 'ada@example.com' });
    assert.match(staff.outbox[0]!.url, /^http:\/\/app\.test\/staff\/confirm\?token=/);
    assert.equal((await request(app).get(`/staff/confirm?token=${customers.token()}`)).status, 401);
    const signedIn = await confirm(app, '/staff', staff.token());
    assert.equal(signedIn.status, 303, signedIn.text);
    assert.equal((await confirm(app, '/customers', customers.token())).status, 303);
  });

  it('each named strategy on an own route answers for its own MagicLink', async () => {
    const { app, customers, staff } = twoSignIns();
    await request(app).post('/customers/link').send({ email: 'ada@example.com' });
    await request(app).post('/staff/link').send({ email: 'ada@example.com' });
    assert.equal((await request(app).post('/own/staff').send({ token: customers.token() })).status, 401);
    assert.equal((await request(app).post('/own/staff').send({ token: staff.token() })).body.user.kind, 'staff');
    assert.equal((await request(app).post('/own/customers').send({ token: customers.token() })).body.user.kind, 'customer');
  });

  it('one MagicLink refuses a second verify callback, naming the fix', () => {
    const { magicLink } = side('/x');
    new MagicLinkStrategy({ magicLink }, async () => false);
    assert.throws(() => new MagicLinkStrategy({ magicLink, name: 'other' }, async () => false), /already has a verify callback.*Create a second MagicLink/);
  });

  it('handlers mounted with no strategy answer the documented 500, say what to add, and spend nothing', async () => {
    const reported: unknown[] = [];
    const lonely = side('/x', reported);
    // Passport and sessions are mounted, but no MagicLinkStrategy was ever made for this MagicLink.
    const passport = new Passport();
    passport.serializeUser<string>((user, done) => done(null, (user as { id: string }).id));
    const app = express();
    app.use(session({ secret: 'test-secret', resave: false, saveUninitialized: false }));
    app.use(passport.initialize());
    mount(app, '/x', lonely);
    app.use(errorHandler({ onError: () => undefined }));
    await request(app).post('/x/link').send({ email: 'ada@example.com' });
    const res = await request(app).post('/x/verify').send({ token: lonely.token() });
    expectError(res, 'internal_error');
    assert.doesNotMatch(res.text, /Unknown authentication strategy|at .*\.ts/);
    assert.match(
      String(reported.map((error) => (error as Error).message)),
      /no verify callback yet: create its strategy, `passport\.use\(new MagicLinkStrategy/,
    );
    // Nothing was spent: once the strategy exists, the same link signs in.
    passport.use(new MagicLinkStrategy({ magicLink: lonely.magicLink }, async (email) => ({ id: email })));
    const after = await request(app).post('/x/verify').send({ token: lonely.token() });
    assert.equal(after.status, 200, after.text);
  });
});
