// One way in (SPEC §1): an app's own route with passport.authenticate('magic-link') and the package's
// handlers are the same sign-in, with the same budgets, refusals and events. Each case below failed
// before the redesign: the guards sat in a wrapper around the strategy, not in it.
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { errorHandler, MemoryTokenStore, type MagicLinkEvent, type MagicLinkOptions } from '../src/index.js';
import { confirmInBrowser } from './helpers/confirm.js';
import { wrongCodeBurst } from './helpers/scenarios.js';
import { createTestApp, expectError, type TestApp } from './helpers/test-app.js';

type OwnRouteOptions = Record<string, unknown>;

/** The test app plus routes of the app's own, mounted as Passport users do (no body parser in front). */
function appWithOwnRoutes(options: Partial<MagicLinkOptions> & { redis?: MagicLinkOptions['redis'] } = {}) {
  const events: MagicLinkEvent[] = [];
  const test = createTestApp({ ...options, onEvent: (event) => void events.push(event) });
  const { app, passport } = test;
  const own = (path: string, authenticateOptions: OwnRouteOptions) =>
    app.post(path, passport.authenticate('magic-link', authenticateOptions), (req, res) => void res.json({ signedIn: req.user }));
  own('/own/token', { session: false });
  own('/own/session', {});
  own('/own/with-error', { session: false, failWithError: true });
  app.post(
    '/own/redirect',
    passport.authenticate('magic-link', { session: false, failureRedirect: '/login', failureMessage: true }),
    (_req, res) => void res.end(),
  );
  app.get('/own/messages', (req, res) => void res.json((req.session as unknown as { messages?: string[] }).messages ?? []));
  app.use(errorHandler({ onError: () => undefined }));
  return { ...test, events };
}

const link = (app: TestApp['app'], email = 'alice@example.com') => request(app).post('/v1/auth/magic-link').send({ email });

describe('one way in: own routes and the handlers are the same sign-in', () => {
  it('an own route refuses with 429 after the failed-verify budget, exactly like verifyHandler()', async () => {
    const statuses = async (path: string): Promise<number[]> => {
      const { app } = appWithOwnRoutes({ limits: { failedVerifiesPerIp: 2 } });
      const out: number[] = [];
      for (let i = 0; i < 4; i++)
        out.push(
          (
            await request(app)
              .post(path)
              .send({ token: `${'B'.repeat(45)}${i}` })
          ).status,
        );
      return out;
    };
    assert.deepEqual(await statuses('/own/token'), [401, 401, 429, 429]);
    assert.deepEqual(await statuses('/v1/auth/verify'), [401, 401, 429, 429]);
  });

  it('an own route refuses with 429 after the wrong-code budgets, exactly like exchangeHandler()', async () => {
    for (const path of ['/own/token', '/v1/auth/exchange']) {
      const { app, codeOf } = appWithOwnRoutes({ limits: { failedExchangesPerIp: 2 } });
      await link(app);
      const out: number[] = [];
      for (let i = 0; i < 4; i++) out.push((await request(app).post(path).send({ email: 'alice@example.com', code: '000000' })).status);
      assert.deepEqual(out, [401, 401, 429, 429], path);
      // The block refuses even the right code.
      assert.equal((await request(app).post(path).send({ email: 'alice@example.com', code: codeOf() })).status, 429, path);
    }
  });

  it('wrong codes for one email from many IPs hit the per-email budget through an own route', async () => {
    const { app } = appWithOwnRoutes({ limits: { failedExchangesPerEmail: 3 } });
    app.set('trust proxy', 1);
    await link(app);
    const out: number[] = [];
    for (let i = 0; i < 5; i++)
      out.push((await request(app).post('/own/token').set('X-Forwarded-For', `198.51.100.${i}`).send({ email: 'alice@example.com', code: '000000' })).status);
    assert.deepEqual(out, [401, 401, 401, 429, 429]);
  });

  it('the same events, with the email digest, whichever way in', async () => {
    const types = async (path: string): Promise<string[]> => {
      const { app, events, codeOf } = appWithOwnRoutes();
      await link(app);
      await request(app).post(path).send({ email: 'alice@example.com', code: '000000' });
      await request(app).post(path).send({ email: 'alice@example.com', code: codeOf() });
      await new Promise((resolve) => setTimeout(resolve, 10));
      const signIns = events.filter((e) => e.type !== 'link_requested' && e.type !== 'link_sent');
      assert.ok(
        signIns.every((e) => typeof e.emailDigest === 'string'),
        'every code event names the email digest',
      );
      return signIns.map((e) => e.type);
    };
    assert.deepEqual(await types('/own/token'), ['code_rejected', 'code_redeemed']);
    assert.deepEqual(await types('/v1/auth/exchange'), ['code_rejected', 'code_redeemed']);
  });

  it('failWithError + errorHandler() renders the real code and Retry-After, never session_not_found', async () => {
    const { app, tokenOf } = appWithOwnRoutes({ limits: { failedExchangesPerIp: 1 } });
    await link(app);
    const token = tokenOf();
    assert.equal((await request(app).post('/own/with-error').send({ token })).status, 200);
    expectError(await request(app).post('/own/with-error').send({ token }), 'magic_link_already_used');
    expectError(await request(app).post('/own/with-error').send({ token: 'x' }), 'magic_link_not_found');
    expectError(await request(app).post('/own/with-error').send({}), 'validation_error');
    expectError(await request(app).post('/own/with-error').send({ email: 'alice@example.com', code: '123' }), 'exchange_code_not_found');
    expectError(await request(app).post('/own/with-error').send({ email: 'alice@example.com', code: '123' }), 'exchange_code_attempt_limit_exceeded', 3600);
  });

  it('a plain refusal carries its status and Retry-After; failureRedirect and failureMessage see the real reason', async () => {
    const { app } = appWithOwnRoutes({ limits: { failedVerifiesPerIp: 1 } });
    const person = request.agent(app);
    let res = await person.post('/own/redirect').send({ token: 'A'.repeat(46) });
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, '/login');
    assert.deepEqual((await person.get('/own/messages')).body, ['Magic link not found or already expired.']);
    res = await request(app)
      .post('/own/token')
      .send({ token: 'A'.repeat(46) });
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '3600');
  });

  it('an own route reads a JSON or a form body without an app-wide body parser', async () => {
    const { app, tokenOf } = appWithOwnRoutes();
    await link(app);
    assert.equal((await request(app).post('/own/token').type('form').send({ token: tokenOf() })).status, 200);
    await link(app);
    const res = await request(app)
      .post('/own/token')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ token: tokenOf() }));
    assert.equal(res.status, 200);
    assert.equal((res.body as { signedIn: { email: string } }).signedIn.email, 'alice@example.com');
  });

  it("crossSiteGuard() gives an own route the handlers' cross-site check, rendered by errorHandler()", async () => {
    const { app, magicLink, passport, tokenOf } = appWithOwnRoutes();
    app.post(
      '/own/guarded',
      magicLink.crossSiteGuard(),
      passport.authenticate('magic-link', { session: false }),
      (req, res) => void res.json({ user: req.user }),
    );
    app.use(errorHandler({ onError: () => undefined }));
    await link(app);
    expectError(await request(app).post('/own/guarded').set('Sec-Fetch-Site', 'cross-site').send({ token: tokenOf() }), 'cross_site_request');
    expectError(await request(app).post('/own/guarded').set('Origin', 'https://evil.example').send({ token: tokenOf() }), 'cross_site_request');
    // Refused before the strategy ran: the link still signs in from the app's own origin.
    assert.equal((await request(app).post('/own/guarded').set('Origin', 'http://app.test').send({ token: tokenOf() })).status, 200);
  });

  it('session sign-in on an own route: logged in, and the session carries the user', async () => {
    const { app, tokenOf } = appWithOwnRoutes();
    await link(app);
    const person = request.agent(app);
    assert.equal((await person.post('/own/session').send({ token: tokenOf() })).status, 200);
    assert.equal((await person.get('/v1/me')).status, 200);
  });

  it('the confirm form takes a token only: {email, code} there is a validation_error page', async () => {
    const { app, codeOf, tokenOf } = appWithOwnRoutes();
    await link(app);
    const person = request.agent(app);
    const page = await person.get(`/auth/magic-link/confirm?token=${tokenOf()}`);
    const hidden = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page.text)![1]!;
    const res = await person
      .post('/auth/magic-link/confirm')
      .type('form')
      .send({ email: 'alice@example.com', code: codeOf(), page: hidden('page'), nonce: hidden('nonce') });
    assert.equal(res.status, 422);
    assert.match(res.text, /form was incomplete/);
    // Nothing was redeemed: the code still signs in.
    assert.equal((await request(app).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: codeOf() })).status, 200);
  });

  describe('nothing spent for a misconfigured app', () => {
    function sessionless(shared: TestApp) {
      const app = express();
      app.post('/v1/auth/verify', shared.magicLink.verifyHandler());
      app.post('/v1/auth/exchange', shared.magicLink.exchangeHandler());
      app.post('/own/session', shared.passport.authenticate('magic-link'), (_req, res) => void res.end());
      app.use(errorHandler({ onError: () => undefined }));
      return app;
    }

    it('verifyHandler(), exchangeHandler() and a session route without express-session refuse before redeeming', async () => {
      const shared = createTestApp();
      await link(shared.app);
      const broken = sessionless(shared);
      const token = shared.tokenOf();
      expectError(await request(broken).post('/v1/auth/verify').send({ token }), 'internal_error');
      expectError(await request(broken).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: shared.codeOf() }), 'internal_error');
      expectError(await request(broken).post('/own/session').send({ token }), 'internal_error');
      // The link (and its code) were never spent: the configured app signs in with it.
      assert.equal((await request(shared.app).post('/v1/auth/verify').send({ token })).status, 200);
    });
  });

  it('a concurrent burst of wrong codes gets at most its budget evaluated (memory; Redis and PostgreSQL in test/stores/shared/)', async () => {
    let evaluated = 0;
    const inner = new MemoryTokenStore();
    const store = Object.assign(Object.create(inner) as typeof inner, {
      exchange: (...args: Parameters<typeof inner.exchange>) => (evaluated++, inner.exchange(...args)),
      save: inner.save.bind(inner),
      peek: inner.peek.bind(inner),
      redeem: inner.redeem.bind(inner),
      delete: inner.delete.bind(inner),
    });
    await wrongCodeBurst({ store });
    assert.ok(evaluated <= 10, `evaluated ${evaluated}`);
  });

  it('a confirm without a session middleware is refused before redeeming, and the link still works', async () => {
    const shared = createTestApp();
    await link(shared.app);
    const app = express();
    app.get('/auth/magic-link/confirm', shared.magicLink.confirmPageHandler());
    app.post('/auth/magic-link/confirm', shared.magicLink.confirmFormHandler());
    const res = await confirmInBrowser(app, shared.tokenOf());
    assert.equal(res.status, 500);
    assert.equal((await request(shared.app).post('/v1/auth/verify').send({ token: shared.tokenOf() })).status, 200);
  });
});
