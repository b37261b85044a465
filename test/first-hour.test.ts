// Real topologies and sign-up flows through the public API: a single-page app on another origin,
// redirects to another origin or a mobile app, plain HTML forms, invites with their own lifetime and
// data that travels sealed with the link to the verify callback.
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { MagicLink, MemoryTokenStore, type SaveOptions, type SignInDetails, type TokenKey, type TokenRecord } from '../src/index.js';
import { confirmInBrowser } from './helpers/confirm.js';
import { BASE_URL, createTestApp, expectError, type TestUser } from './helpers/test-app.js';

const link = (app: express.Express, body: Record<string, string>, origin?: string) => {
  const req = request(app).post('/v1/auth/magic-link');
  if (origin) req.set('Origin', origin).set('Sec-Fetch-Site', 'cross-site');
  return req.send(body);
};

describe('trustedOrigins', () => {
  it('lets a single-page app on another origin request and verify links; other origins stay refused', async () => {
    const { app, tokenOf } = createTestApp({ trustedOrigins: ['http://localhost:5173', 'https://app.example.com'] });
    assert.equal((await link(app, { email: 'alice@example.com' }, 'http://localhost:5173')).status, 202);
    const verified = await request(app)
      .post('/v1/auth/verify')
      .set('Origin', 'https://app.example.com')
      .set('Sec-Fetch-Site', 'cross-site')
      .send({ token: tokenOf() });
    assert.equal(verified.status, 200);
    expectError(await link(app, { email: 'alice@example.com' }, 'https://evil.example'), 'cross_site_request');
    expectError(await link(app, { email: 'alice@example.com' }, 'http://localhost:5174'), 'cross_site_request');
  });

  it('is empty by default: the same SPA is refused', async () => {
    const { app } = createTestApp();
    expectError(await link(app, { email: 'alice@example.com' }, 'http://localhost:5173'), 'cross_site_request');
  });

  it('takes origins only', () => {
    for (const bad of ['https://app.example.com/path', 'app.example.com', 'ftp://x.example', '*']) {
      assert.throws(() => createTestApp({ trustedOrigins: [bad] }), { name: 'TypeError', message: /`trustedOrigins` takes origins only/ }, bad);
    }
    assert.throws(() => createTestApp({ trustedOrigins: 'https://app.example.com' as never }), /must be an array/);
  });
});

describe('allowedRedirects', () => {
  it('sends the browser on to an allowed origin or app scheme after the confirm form', async () => {
    const { app, tokenOf } = createTestApp({ allowedRedirects: ['https://www.example.com', 'myapp:'], verify: async (email) => ({ id: email, email }) });
    for (const target of ['https://www.example.com/welcome?from=mail', 'myapp://signed-in']) {
      assert.equal((await link(app, { email: 'alice@example.com', redirect: target })).status, 202, target);
      const res = await confirmInBrowser(request.agent(app), tokenOf());
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, target);
    }
  });

  it('refuses every other absolute target, and script schemes in the option itself', async () => {
    const { app } = createTestApp({ allowedRedirects: ['https://www.example.com', 'myapp:'] });
    for (const target of [
      'https://evil.example/',
      'https://www.example.com.evil.example/',
      'http://www.example.com/',
      'javascript:alert(1)',
      'otherapp://x',
      'https://user:pw@www.example.com/',
    ]) {
      const res = await link(app, { email: 'alice@example.com', redirect: target });
      expectError(res, 'validation_error');
      assert.equal(res.body.details[0].loc.join('.'), 'body.redirect', target);
    }
    assert.throws(() => createTestApp({ allowedRedirects: ['javascript:'] }), { name: 'TypeError', message: /run code/ });
    assert.throws(() => createTestApp({ allowedRedirects: ['https://www.example.com/path'] }), /origins only/);
  });

  it('is empty by default: only same-origin paths', async () => {
    const { app } = createTestApp();
    expectError(await link(app, { email: 'alice@example.com', redirect: 'https://www.example.com/' }), 'validation_error');
  });
});

describe('plain HTML forms', () => {
  it('an urlencoded link request is answered with a redirect to the sign-in page, never naming the address', async () => {
    const { app, outbox } = createTestApp({ signInPath: '/login', limits: { linkRequestsPerEmail: 1 } });
    const sent = await request(app).post('/v1/auth/magic-link').type('form').send({ email: 'alice@example.com' });
    assert.equal(sent.status, 303);
    assert.equal(sent.headers.location, '/login?magic_link=sent');
    assert.equal(outbox.length, 1);
    const bad = await request(app).post('/v1/auth/magic-link').type('form').send({ email: 'not an address' });
    assert.equal(bad.status, 303);
    assert.equal(bad.headers.location, '/login?magic_link_error=invalid_email');
    const limited = await request(app).post('/v1/auth/magic-link').type('form').send({ email: 'alice@example.com' });
    assert.equal(limited.status, 303);
    assert.match(limited.headers.location!, /^\/login\?magic_link_error=magic_link_email_limit_exceeded&retry_after=\d+$/);
    for (const res of [sent, bad, limited]) assert.doesNotMatch(res.headers.location!, /alice|example/);
  });

  it('a cross-site form is still refused (redirected with the code), nothing sent', async () => {
    const { app, outbox } = createTestApp();
    const res = await request(app).post('/v1/auth/magic-link').set('Origin', 'https://evil.example').type('form').send({ email: 'alice@example.com' });
    assert.equal(res.headers.location, '/?magic_link_error=cross_site_request');
    assert.equal(outbox.length, 0);
  });
});

describe('invites and sign-up: magicLink.requestLink(req, { ttlSeconds, data })', () => {
  /** A memory store that also keeps what it was given to save, as a store dump would show it. */
  class RecordingStore extends MemoryTokenStore {
    readonly saved: TokenRecord[] = [];
    override save(key: TokenKey, record: TokenRecord, options: SaveOptions): Promise<boolean> {
      this.saved.push(record);
      return super.save(key, record, options);
    }
  }

  function inviteApp(maxTtlSeconds?: number) {
    const seen: Array<{ email: string; details: SignInDetails }> = [];
    const store = new RecordingStore();
    const test = createTestApp({
      store,
      ...(maxTtlSeconds ? { maxTtlSeconds } : {}),
      verify: async (email, _req, details) => {
        seen.push({ email, details });
        return { id: email, email } satisfies TestUser;
      },
    });
    const own = express();
    own.post('/invite', express.json(), async (req, res) => {
      try {
        const sent = await test.magicLink.requestLink(req, req.body as never);
        res.status(202).json({ expiresIn: sent.expiresIn, email: sent.email });
      } catch (error) {
        res.status(error instanceof TypeError ? 500 : 400).json({ error: (error as Error).message });
      }
    });
    return { ...test, own, seen, store };
  }

  it('an invite lasts its own lifetime, within maxTtlSeconds', async () => {
    const week = 7 * 86_400;
    const { own, app, outbox, tokenOf, clock } = inviteApp(week);
    const res = await request(own).post('/invite').send({ email: 'new@example.com', ttlSeconds: week });
    assert.equal(res.status, 202);
    assert.equal(res.body.expiresIn, week);
    assert.equal(outbox[0]!.expiresAt.getTime() - clock.now(), week * 1000);
    clock.advance(6 * 86_400 * 1000);
    assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200, 'still good after 6 days');
    // A normal link keeps the default 15 minutes.
    await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    assert.equal(outbox[1]!.expiresAt.getTime() - clock.now(), 900_000);
  });

  it('refuses a lifetime outside 60 s … maxTtlSeconds (default: ttlSeconds)', async () => {
    const { own } = inviteApp();
    for (const ttlSeconds of [3600, 59, 1.5, '600']) {
      const res = await request(own).post('/invite').send({ email: 'new@example.com', ttlSeconds });
      assert.equal(res.status, 500, String(ttlSeconds));
      assert.match(res.body.error, /`ttlSeconds` must be a whole number from 60 to 900/);
    }
    assert.throws(
      () => new MagicLink({ baseUrl: BASE_URL, mailer: { send: async () => undefined }, ttlSeconds: 900, maxTtlSeconds: 60 }),
      /must not be shorter/,
    );
  });

  it('data travels sealed with the link to the verify callback; a code sign-in gets none; the store never holds it readable', async () => {
    const { own, app, store, tokenOf, codeOf, seen } = inviteApp();
    await request(own)
      .post('/invite')
      .send({ email: 'ada@example.com', data: { name: 'Ada Lovelace', team: 'analytical-engines', admin: true } });
    assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
    assert.deepEqual(seen[0], { email: 'ada@example.com', details: { via: 'link', data: { name: 'Ada Lovelace', team: 'analytical-engines', admin: true } } });

    await request(own)
      .post('/invite')
      .send({ email: 'grace@example.com', data: { name: 'Grace Hopper' } });
    assert.equal(store.saved.length, 2);
    assert.doesNotMatch(JSON.stringify(store.saved), /Grace|Hopper|Ada|Lovelace|analytical/);
    assert.equal((await request(app).post('/v1/auth/exchange').send({ email: 'grace@example.com', code: codeOf() })).status, 200);
    assert.deepEqual(seen[1], { email: 'grace@example.com', details: { via: 'code', data: undefined } });
  });

  it('refuses data that is not a small flat object', async () => {
    const { own } = inviteApp();
    for (const data of [{ nested: { a: 1 } }, ['a'], 'text', { big: 'x'.repeat(1100) }, { n: null, list: [1] }]) {
      const res = await request(own).post('/invite').send({ email: 'new@example.com', data });
      assert.equal(res.status, 500, JSON.stringify(data).slice(0, 40));
      assert.match(res.body.error, /`data` must be a flat object/);
    }
  });

  it('a bad address from an own route is a MagicLinkError the app can render', async () => {
    const { own } = inviteApp();
    const res = await request(own).post('/invite').send({ email: 'nope' });
    assert.equal(res.status, 400);
  });
});
