// The handlers and the error handler under both Express majors.
import assert from 'node:assert/strict';
import express5 from 'express';
import express4 from 'express4';
import session from 'express-session';
import { Passport } from 'passport';
import request from 'supertest';
import { openConfirmPage, submitConfirm } from '../helpers/confirm.js';
import { errorHandler, MagicLink, MagicLinkStrategy, requestId } from '../../src/index.js';
import { expectError } from '../helpers/test-app.js';

type ExpressFactory = typeof express5;

const VERSIONS: Array<[string, ExpressFactory]> = [
  ['Express 5', express5],
  ['Express 4', express4 as unknown as ExpressFactory],
];

function buildApp(express: ExpressFactory) {
  const outbox: string[] = [];
  const passport = new Passport();
  const magicLink = new MagicLink({ baseUrl: 'http://app.test', mailer: { send: async (m) => void outbox.push(m.url) } });
  passport.use(new MagicLinkStrategy({ magicLink }, async (email) => ({ email })));
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Express.User, done) => done(null, user));
  const app = express();
  app.set('env', 'test');
  app.use(requestId());
  app.use(express.json({ limit: '64kb' }));
  app.use(session({ secret: 's', resave: false, saveUninitialized: false }));
  app.use(passport.session());
  app.post('/v1/auth/magic-link', magicLink.requestLinkHandler());
  app.post('/v1/auth/verify', magicLink.verifyHandler());
  app.get('/auth/magic-link/confirm', magicLink.confirmPageHandler());
  app.post('/auth/magic-link/confirm', magicLink.confirmFormHandler());
  const thrown: Record<string, () => unknown> = {
    string: () => 'a string',
    object: () => ({ no: 'status' }),
    abc: () => Object.assign(new Error('x'), { status: 'abc' }),
    big: () => Object.assign(new Error('x'), { status: 1000 }),
    negative: () => Object.assign(new Error('x'), { statusCode: -1 }),
  };
  app.get('/throw/:kind', (req) => {
    throw thrown[req.params.kind]!();
  });
  app.get('/async-throw', async () => {
    throw new Error('async');
  });
  app.get('/after-headers', (_req, res, next) => {
    res.status(200).write('partial');
    next(new Error('late'));
  });
  app.use((_req: unknown, _res: unknown, next: (error: unknown) => void) => next(Object.assign(new Error('Not Found'), { status: 404 })));
  app.use(errorHandler({ onError: () => undefined }));
  return { app, outbox };
}

for (const [name, express] of VERSIONS) {
  describe(`under ${name}`, () => {
    it('signs in through the confirm page', async () => {
      const { app, outbox } = buildApp(express);
      const browser = request.agent(app);
      assert.equal((await browser.post('/v1/auth/magic-link').send({ email: 'alice@example.com' })).status, 202);
      const link = new URL(outbox[0]!);
      assert.equal((await browser.get(link.pathname + link.search)).status, 200);
      const res = await submitConfirm(browser, await openConfirmPage(browser, link.searchParams.get('token')!));
      assert.equal(res.status, 303);
      expectError(await browser.post('/v1/auth/verify').send({ token: link.searchParams.get('token') }), 'magic_link_already_used');
    });

    for (const kind of ['string', 'object', 'abc', 'big', 'negative']) {
      it(`the error handler survives a thrown ${kind} → internal_error`, async () => {
        expectError(await request(buildApp(express).app).get(`/throw/${kind}`), 'internal_error');
      });
    }

    it('an app-wide JSON parser failure is rendered in the envelope', async () => {
      const { app } = buildApp(express);
      expectError(await request(app).post('/v1/auth/magic-link').set('Content-Type', 'application/json').send('{oops'), 'invalid_request_body');
      expectError(
        await request(app)
          .post('/v1/auth/magic-link')
          .send({ email: 'a@b.co', pad: 'x'.repeat(70_000) }),
        'payload_too_large',
      );
    });

    it('unknown routes → resource_not_found', async () => {
      expectError(await request(buildApp(express).app).get('/nope'), 'resource_not_found');
    });

    it('an error after headers were sent ends the response without a second answer', async () => {
      const res = await request(buildApp(express).app)
        .get('/after-headers')
        .catch((error: Error) => error);
      if (!(res instanceof Error)) assert.equal(res.status, 200);
    });

    if (name === 'Express 5') {
      it('a rejected async route → internal_error', async () => {
        expectError(await request(buildApp(express).app).get('/async-throw'), 'internal_error');
      });
    }
  });
}
