import assert from 'node:assert/strict';
import request from 'supertest';
import { RedisTokenStore } from '../../../src/index.js';
import { anyone, createTestApp, expectError, TEST_SECRET, type TestApp } from '../../helpers/test-app.js';
import { IOREDIS_FLAVOURS, whenReady } from '../../helpers/redis-clients.js';
import { RedisCluster, RedisServer } from '../../helpers/redis-server.js';
import { openConfirmPage } from '../../helpers/confirm.js';

const requestLink = (app: TestApp['app'], email = 'alice@example.com') => request(app).post('/v1/auth/magic-link').send({ email });

for (const flavour of IOREDIS_FLAVOURS) {
  describe(`MagicLink on Redis (${flavour.name})`, function () {
    this.timeout(60_000);
    let server: RedisServer;
    let client: ReturnType<typeof flavour.connect>;

    before(async () => {
      server = await RedisServer.start();
    });
    beforeEach(async () => {
      server.cli('flushall');
      client = flavour.connect(server.url);
      await whenReady(client);
    });
    afterEach(() => client.disconnect());
    after(async () => server?.destroy());

    it('signs in through Redis: request, verify, and a second use is refused', async () => {
      const { app, tokenOf } = createTestApp({ redis: client, now: Date.now });
      assert.equal((await requestLink(app)).status, 202);
      const agent = request.agent(app);
      assert.equal((await agent.post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
      assert.equal((await agent.get('/v1/me')).body.data.user.email, 'alice@example.com');
      expectError(await request(app).post('/v1/auth/verify').send({ token: tokenOf() }), 'magic_link_already_used');
    });

    it('expired and pruned links are told apart on Redis too (clock injected into MagicLink only)', async () => {
      // The store keeps its own clock (Date.now) to measure Redis's against; the times MagicLink hands
      // it come from the test's clock. (Through `redis:` the store would take MagicLink's clock, and
      // Redis's clock, which this test cannot move, would decide.)
      const { app, tokenOf, clock } = createTestApp({ store: new RedisTokenStore(client), secret: TEST_SECRET, ttlSeconds: 60, retentionSeconds: 600 });
      await requestLink(app);
      clock.advance(60_000);
      expectError(await request(app).post('/v1/auth/verify').send({ token: tokenOf() }), 'magic_link_expired');
      clock.advance(600_000);
      expectError(await request(app).post('/v1/auth/verify').send({ token: tokenOf() }), 'magic_link_not_found');
    });

    it('no key or value in Redis holds a raw token, a link or a plain email address after a sign-in', async () => {
      const { app, tokenOf, outbox } = createTestApp({ redis: client, now: Date.now, verify: async (email) => ({ id: 'x', email }) });
      await request(app).post('/v1/auth/magic-link').send({ email: 'Alice.Secret@Example.com', redirect: '/very-private-path' });
      const token = tokenOf();
      await request(app).get(`/auth/magic-link/confirm?token=${'A'.repeat(46)}`);
      assert.equal((await request(app).post('/v1/auth/verify').send({ token })).status, 200);

      const keys = server.cli('--scan').trim().split('\n').filter(Boolean);
      assert.ok(keys.length >= 3, `keys: ${keys.join(', ')}`);
      let everything = keys.join('\n');
      for (const key of keys) {
        const type = server.cli('type', key).trim();
        everything += '\n' + (type === 'hash' ? server.cli('hgetall', key) : server.cli('get', key));
      }
      for (const secret of [token, token.slice(3), outbox[0]!.url, 'alice', 'Alice', 'secret', 'example.com', 'very-private-path']) {
        assert.ok(!everything.toLowerCase().includes(secret.toLowerCase()), `Redis holds ${secret}`);
      }
    });

    it('keeps each email budget in Redis: a new MagicLink on the same Redis sees it', async () => {
      const first = createTestApp({ redis: client, limits: { linkRequestsPerEmail: 2 } });
      await requestLink(first.app);
      await requestLink(first.app);
      const second = createTestApp({ redis: client, limits: { linkRequestsPerEmail: 2 } });
      expectError(await requestLink(second.app), 'magic_link_email_limit_exceeded', 3600);
    });

    it('a blocked IP is refused on Redis even with a valid token or code, with the seconds left', async () => {
      const { app, tokenOf, codeOf } = createTestApp({
        redis: client,
        now: Date.now,
        trustProxy: true,
        limits: { failedVerifiesPerIp: 2, failedExchangesPerIp: 1 },
      });
      await requestLink(app);
      for (let i = 0; i < 2; i++)
        expectError(
          await request(app)
            .post('/v1/auth/verify')
            .send({ token: 'Q'.repeat(46) }),
          'magic_link_not_found',
        );
      expectError(
        await request(app)
          .post('/v1/auth/verify')
          .send({ token: 'Q'.repeat(46) }),
        'magic_link_ip_limit_exceeded',
        3600,
      );
      const refused = await request(app).post('/v1/auth/verify').send({ token: tokenOf() });
      expectError(refused, 'magic_link_ip_limit_exceeded', 'any');
      assert.ok(refused.body.retry_after > 3590 && refused.body.retry_after <= 3600);
      expectError(await request(app).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: 'abcdef' }), 'exchange_code_not_found');
      expectError(
        await request(app).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: 'abcdef' }),
        'exchange_code_attempt_limit_exceeded',
        3600,
      );
      expectError(
        await request(app).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: codeOf() }),
        'exchange_code_attempt_limit_exceeded',
        'any',
      );
      const elsewhere = await request(app).post('/v1/auth/verify').set('X-Forwarded-For', '203.0.113.9').send({ token: tokenOf() });
      assert.equal(elsewhere.status, 200, 'the link refused to the blocked IP was not spent');
    });

    it('link budgets taken inside the save: an IP refusal takes nothing of the address, and saves nothing', async () => {
      const { app, outbox } = createTestApp({
        redis: client,
        now: Date.now,
        trustProxy: 1,
        keyPrefix: 'budgets:',
        limits: { linkRequestsPerIp: 2, linkRequestsPerEmail: 3 },
      });
      const from = (ip: string, email: string) => request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email });
      assert.equal((await from('192.0.2.1', 'carol@example.com')).status, 202);
      assert.equal((await from('192.0.2.1', 'carol@example.com')).status, 202);
      expectError(await from('192.0.2.1', 'carol@example.com'), 'magic_link_ip_limit_exceeded', 'any');
      // The refused request took no point of carol's: one of her three is left.
      assert.equal((await from('192.0.2.2', 'carol@example.com')).status, 202);
      expectError(await from('192.0.2.3', 'carol@example.com'), 'magic_link_email_limit_exceeded', 'any');
      assert.equal(outbox.length, 3);
      assert.equal(server.cli('--scan', '--pattern', 'budgets:*:l:*').trim().split('\n').filter(Boolean).length, 3, 'refused requests saved nothing');
    });

    it("a store whose limiters are the app's own (no createLimiter) keeps the budgets in the process: Redis holds the links only", async () => {
      const keysBefore = Number(server.cli('dbsize').trim());
      const store = Object.assign(new RedisTokenStore(client, { keyPrefix: 'own-limits:' }), { createLimiter: undefined });
      const { app, tokenOf } = createTestApp({ store, secret: TEST_SECRET, now: Date.now, verify: anyone, limits: { linkRequestsPerEmail: 1 } });
      assert.equal((await requestLink(app, 'erin@example.com')).status, 202);
      expectError(await requestLink(app, 'erin@example.com'), 'magic_link_email_limit_exceeded', 'any');
      expectError(
        await request(app)
          .post('/v1/auth/verify')
          .send({ token: 'Q'.repeat(46) }),
        'magic_link_not_found',
      );
      assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
      const keys = server.cli('--scan', '--pattern', 'own-limits:*').trim().split('\n').filter(Boolean);
      assert.ok(keys.length > 0 && keys.every((key) => /^own-limits:\{[^}]+\}:[le]:/.test(key)), keys.join(' '));
      assert.equal(Number(server.cli('dbsize').trim()) - keysBefore, keys.length, "keys written outside the store's prefix");
    });

    it("a link whose mail failed gives the address its point back (rate-limiter-flexible's reward on the script's counter)", async () => {
      let failNext = true;
      const { app } = createTestApp({
        redis: client,
        now: Date.now,
        keyPrefix: 'reward:',
        limits: { linkRequestsPerEmail: 1 },
        mailer: {
          send: async () => {
            if (!failNext) return;
            failNext = false;
            throw new Error('smtp down');
          },
        },
      });
      expectError(await requestLink(app, 'dave@example.com'), 'email_delivery_failed');
      assert.equal((await requestLink(app, 'dave@example.com')).status, 202, 'the failed mail cost dave nothing');
      expectError(await requestLink(app, 'dave@example.com'), 'magic_link_email_limit_exceeded', 'any');
    });

    it('one round trip per link request and one per verify', async () => {
      const { app, tokenOf } = createTestApp({ redis: client, now: Date.now });
      await requestLink(app); // the first call loads the scripts
      await request(app).post('/v1/auth/verify').send({ token: tokenOf() });
      assert.equal(await server.roundTrips(() => requestLink(app, 'bob@example.com')), 1, 'request-link: the IP and email budgets taken in the save');
      const verify = await server.roundTrips(async () => assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200));
      assert.equal(verify, 1, 'verify: one script, with the failed-verify check inside the redeem');
    });
  });
}

describe('MagicLink on a 3-master Redis Cluster', function () {
  this.timeout(60_000);
  let cluster: RedisCluster;
  before(async () => {
    cluster = await RedisCluster.start();
  });
  after(async () => cluster?.destroy());

  for (const flavour of IOREDIS_FLAVOURS) {
    it(`signs in, refuses a second use and enforces limits (${flavour.name})`, async () => {
      const client = flavour.cluster(cluster.startupNodes);
      await whenReady(client);
      try {
        const { app, outbox, tokenOf } = createTestApp({
          redis: client,
          keyPrefix: `c${flavour.name.slice(-1)}:`,
          now: Date.now,
          limits: { linkRequestsPerEmail: 2 },
        });
        // Different emails hash to different slots; every one of them works.
        for (const email of ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com']) {
          assert.equal((await requestLink(app, email)).status, 202);
        }
        const results = await Promise.all(
          outbox.map((m) =>
            request(app)
              .post('/v1/auth/verify')
              .send({ token: new URL(m.url).searchParams.get('token') }),
          ),
        );
        assert.deepEqual(
          results.map((r) => r.status),
          [404, 404, 404, 404],
          'accounts do not exist, but every token redeemed',
        );
        expectError(
          await request(app)
            .post('/v1/auth/verify')
            .send({ token: tokenOf(0) }),
          'magic_link_already_used',
        );
        await requestLink(app, 'a@example.com');
        expectError(await requestLink(app, 'a@example.com'), 'magic_link_email_limit_exceeded', 3600);
      } finally {
        client.disconnect();
      }
    });

    it(`cross-device: attempts for addresses in different slots are approved and collected (${flavour.name})`, async () => {
      const client = flavour.cluster(cluster.startupNodes);
      await whenReady(client);
      try {
        const t = createTestApp({ redis: client, keyPrefix: `x${flavour.name.slice(-1)}:`, now: Date.now, crossDevice: true, verify: anyone });
        for (const email of ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com']) {
          const laptop = request.agent(t.app);
          const phone = request.agent(t.app);
          const asked = await laptop.post('/v1/auth/magic-link').send({ email });
          const match = (asked.body as { data: { match: number } }).data.match;
          const form = await openConfirmPage(phone, t.tokenOf());
          const approved = await phone
            .post('/auth/magic-link/confirm')
            .type('form')
            .send({ ...form, action: 'approve', match: String(match) });
          assert.match(approved.text, /Approved/, `${email}: ${approved.status}`);
          const collected = await laptop.post('/v1/auth/attempt').send({});
          assert.equal(collected.status, 200, `${email}: ${collected.text}`);
        }
      } finally {
        client.disconnect();
      }
    });

    it(`refuses a blocked IP even with a valid token, and spends nothing of it (${flavour.name})`, async () => {
      const client = flavour.cluster(cluster.startupNodes);
      await whenReady(client);
      try {
        const { app, tokenOf } = createTestApp({
          redis: client,
          keyPrefix: `b${flavour.name.slice(-1)}:`,
          now: Date.now,
          trustProxy: true,
          limits: { failedVerifiesPerIp: 1 },
        });
        await requestLink(app);
        const verify = (token: string, ip: string) => request(app).post('/v1/auth/verify').set('X-Forwarded-For', ip).send({ token });
        expectError(await verify('Q'.repeat(46), '198.51.100.7'), 'magic_link_not_found');
        expectError(await verify('Q'.repeat(46), '198.51.100.7'), 'magic_link_ip_limit_exceeded', 3600);
        expectError(await verify(tokenOf(), '198.51.100.7'), 'magic_link_ip_limit_exceeded', 'any');
        assert.equal((await verify(tokenOf(), '203.0.113.9')).status, 200, 'the link refused to the blocked IP was not spent');
      } finally {
        client.disconnect();
      }
    });
  }
});
