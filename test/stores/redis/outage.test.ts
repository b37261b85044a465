import assert from 'node:assert/strict';
import request from 'supertest';
import { browser, openConfirmPage, submitConfirm } from '../../helpers/confirm.js';
import { createExampleApp } from '../../../example-server/app.js';
import { readSettings } from '../../../example-server/settings.js';
import { createTestApp, expectError, TEST_SECRET } from '../../helpers/test-app.js';
import { IOREDIS_FLAVOURS, whenReady } from '../../helpers/redis-clients.js';
import { RedisServer } from '../../helpers/redis-server.js';

async function timed<T>(work: Promise<T>): Promise<[T, number]> {
  const started = Date.now();
  const result = await work;
  return [result, Date.now() - started];
}

for (const flavour of IOREDIS_FLAVOURS) {
  describe(`Redis outage (${flavour.name})`, function () {
    this.timeout(60_000);
    let server: RedisServer;

    beforeEach(async () => {
      server = await RedisServer.start();
    });
    afterEach(async () => server.destroy());

    it('answers service_unavailable within 2 s while Redis is down, issues and consumes nothing, and recovers by itself', async () => {
      const client = flavour.connect(server.url);
      await whenReady(client);
      const { app, outbox, tokenOf } = createTestApp({ redis: client, now: Date.now, verify: async (email) => ({ id: email, email }) });
      assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' })).status, 202);
      const token = tokenOf();
      // The person opened the confirm page before the outage and presses Sign in during it.
      const person = browser(app);
      const form = await openConfirmPage(person, token);
      server.cli('save'); // a snapshot, so the link outlives the restart below
      await server.stop();

      const [linkRes, linkMs] = await timed(request(app).post('/v1/auth/magic-link').send({ email: 'bob@example.com' }));
      expectError(linkRes, 'service_unavailable', 'any');
      assert.ok(linkMs < 2_000, `request-link took ${linkMs} ms`);
      assert.equal(outbox.length, 1, 'no mail sent during the outage');

      const [verifyRes, verifyMs] = await timed(request(app).post('/v1/auth/verify').send({ token }));
      expectError(verifyRes, 'service_unavailable', 'any');
      assert.ok(verifyMs < 2_000, `verify took ${verifyMs} ms`);

      const [pageRes, pageMs] = await timed(request(app).get(`/auth/magic-link/confirm?token=${token}`));
      assert.equal(pageRes.status, 503);
      assert.match(pageRes.text, /temporarily unavailable/);
      assert.ok(Number(pageRes.headers['retry-after']) > 0);
      assert.ok(pageMs < 2_000, `confirm page took ${pageMs} ms`);

      const [formRes, formMs] = await timed(submitConfirm(person, form));
      assert.equal(formRes.status, 503);
      assert.match(formRes.text, /has not been used/);
      assert.match(formRes.text, /Try again/);
      assert.ok(formMs < 2_000, `confirm form took ${formMs} ms`);

      await server.resume();
      await whenReady(client, 15_000);
      // Nothing was consumed during the outage: the link still signs in, once.
      assert.equal((await request(app).post('/v1/auth/verify').send({ token })).status, 200);
      expectError(await request(app).post('/v1/auth/verify').send({ token }), 'magic_link_already_used');
      assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'bob@example.com' })).status, 202);
      client.disconnect();
    });

    it('a frozen Redis (commands hang) is cut off by the store deadline: 503 within 2 s, no mail', async () => {
      const client = flavour.connect(server.url);
      await whenReady(client);
      const { app, outbox } = createTestApp({ redis: client, now: Date.now });
      server.pause();
      try {
        const [res, ms] = await timed(request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' }));
        expectError(res, 'service_unavailable', 'any');
        assert.ok(ms < 2_000, `took ${ms} ms`);
        assert.equal(outbox.length, 0);
      } finally {
        server.resumeFromPause();
      }
      assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'carol@example.com' })).status, 202);
      client.disconnect();
    });
  });
}

describe('example server on Redis', function () {
  this.timeout(60_000);
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => server?.destroy());

  it('/healthz reports the store, answers 503 while Redis is down, and recovers', async () => {
    const demo = createExampleApp(readSettings({ REDIS_URL: server.url, MAGIC_LINK_SECRET: TEST_SECRET, SESSION_SECRET: 'test-session-secret' }), {
      log: () => undefined,
    });
    await whenReady(demo.redis!);
    let res = await request(demo.app).get('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok', store: 'redis' });

    await server.stop();
    const [down, ms] = await timed(request(demo.app).get('/healthz'));
    assert.equal(down.status, 503);
    assert.deepEqual(down.body, { status: 'unavailable', store: 'redis' });
    assert.ok(ms < 2_000);
    expectError(await request(demo.app).post('/v1/auth/magic-link').send({ email: 'me@example.com' }), 'service_unavailable', 'any');

    await server.resume();
    await whenReady(demo.redis!, 15_000);
    res = await request(demo.app).get('/healthz');
    assert.equal(res.status, 200);
    await demo.close();
  });

  /** The demo on this Redis, with a browser signed in through the confirm page. */
  async function signedInDemo() {
    const demo = createExampleApp(readSettings({ REDIS_URL: server.url, MAGIC_LINK_SECRET: TEST_SECRET, SESSION_SECRET: 'test-session-secret' }), {
      log: () => undefined,
    });
    await whenReady(demo.redis!);
    const browser = request.agent(demo.app);
    assert.equal((await browser.post('/v1/auth/magic-link').send({ email: 'me@example.com' })).status, 202);
    const link = new URL(demo.outbox[0]!.url);
    assert.equal((await submitConfirm(browser, await openConfirmPage(browser, link.searchParams.get('token')!))).status, 303);
    return { demo, browser };
  }

  // Regression: a signed-in person reloading the dashboard during an outage got raw JSON (500).
  it('during an outage a signed-in person gets a 503 page with "Try again", the API a 503 envelope; both recover', async () => {
    const { demo, browser } = await signedInDemo();
    await server.stop();
    try {
      const page = await browser.get('/dashboard').set('Host', 'localhost:3000').set('Accept', 'text/html');
      assert.equal(page.status, 503);
      assert.match(page.headers['content-type'] ?? '', /text\/html/);
      assert.match(page.text, /Temporarily unavailable/);
      assert.match(page.text, /if you were signed in, you still are/);
      assert.match(page.text, />Try again</);
      expectError(await browser.get('/v1/me'), 'service_unavailable', 'any');
    } finally {
      await server.resume();
    }
    await whenReady(demo.redis!, 15_000);
    // The data went with the restart (no persistence in the test): the page is the sign-in page again.
    const after = await browser.get('/dashboard').set('Host', 'localhost:3000').set('Accept', 'text/html');
    assert.ok(after.status === 200 || after.status === 303, String(after.status));
    await demo.close();
  });

  // The pre-sign-in state names the address on the page; in Redis it is sealed, and keys are digests.
  it('before sign-in, the sessions in Redis hold no address, though the page names it', async () => {
    const demo = createExampleApp(readSettings({ REDIS_URL: server.url, MAGIC_LINK_SECRET: TEST_SECRET, SESSION_SECRET: 'test-session-secret' }), {
      log: () => undefined,
    });
    await whenReady(demo.redis!);
    const browser = request.agent(demo.app);
    const form = (path: string, body: Record<string, string>) => browser.post(path).set('Origin', 'http://localhost:3000').type('form').send(body);
    assert.equal((await form('/', { email: 'Wait.Here@Example.com' })).status, 303);
    await form('/', { email: 'wait.here@example.com' }); // the resend lock, kept per address
    await form('/code', { email: 'wait.here@example.com', code: '000000' }); // a wrong code, counted per address
    const sessions = server.cli('--scan', '--pattern', 'demo:sess:*').trim().split('\n').filter(Boolean);
    assert.ok(sessions.length > 0);
    for (const key of sessions) assert.doesNotMatch(server.cli('get', key), /wait\.here/i);
    assert.match((await browser.get('/').set('Host', 'localhost:3000')).text, /sent a sign-in link to <strong>wait\.here@example\.com<\/strong>/);
    await demo.close();
  });

  it('runs the whole sign-in on Redis, sessions included', async () => {
    const { demo, browser } = await signedInDemo();
    assert.equal((await browser.get('/v1/me')).body.data.user.email, 'me@example.com');
    const sessions = server.cli('--scan', '--pattern', 'demo:sess:*').trim().split('\n').filter(Boolean);
    assert.ok(sessions.length > 0, 'the session lives in Redis');
    // The session holds the user id only, never the address.
    for (const key of sessions) assert.doesNotMatch(server.cli('get', key), /me@example|example\.com/);
    await demo.close();
  });
});
