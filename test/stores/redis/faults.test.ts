// Redis you can lose: inject the fault, then count what was lost (double redeems, lost links,
// spent-but-refused links). Each case failed before: commands that sat in a frozen Redis's socket
// buffer ran when it woke and spent links whose owners had been told 503.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import request from 'supertest';
import { whenReady } from '../../helpers/redis-clients.js';
import { RedisServer } from '../../helpers/redis-server.js';
import { anyone, createTestApp, expectError, sleep } from '../../helpers/test-app.js';

describe('Redis faults', function () {
  this.timeout(60_000);
  let server: RedisServer;
  let client: Redis;
  before(async () => {
    server = await RedisServer.start();
  });
  beforeEach(async () => {
    server.cli('flushall');
    client = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
    await whenReady(client);
  });
  afterEach(() => client.disconnect());
  after(async () => server?.destroy());

  it('a Redis frozen longer than the deadline spends nothing: every 503 leaves its link valid, and no link appears unmailed', async () => {
    const { app, outbox, tokenOf } = createTestApp({
      redis: client,
      now: Date.now,
      storeTimeoutMs: 500,
      trustProxy: 1,
      verify: anyone,
    });
    const tokens: string[] = [];
    for (let i = 0; i < 10; i++) {
      assert.equal(
        (
          await request(app)
            .post('/v1/auth/magic-link')
            .set('X-Forwarded-For', `192.0.2.${i}`)
            .send({ email: `user${i}@example.com` })
        ).status,
        202,
      );
      tokens.push(tokenOf());
    }
    server.pause();
    let refused: request.Response[];
    try {
      // Sent while Redis is frozen: the commands sit in its socket buffer past their deadline.
      refused = await Promise.all([
        ...tokens.map((token, i) => request(app).post('/v1/auth/verify').set('X-Forwarded-For', `198.51.100.${i}`).send({ token })),
        ...Array.from({ length: 5 }, (_, i) =>
          request(app)
            .post('/v1/auth/magic-link')
            .set('X-Forwarded-For', `203.0.113.${i}`)
            .send({ email: `late${i}@example.com` }),
        ),
      ]);
      await sleep(1_200);
    } finally {
      server.resumeFromPause();
    }
    for (const res of refused) expectError(res, 'service_unavailable', 'any');
    await sleep(200); // the buffered commands run now, after their deadline
    // Spent-but-refused links: none. Every link signs in exactly once.
    let signedIn = 0;
    for (const [i, token] of tokens.entries()) {
      const res = await request(app).post('/v1/auth/verify').set('X-Forwarded-For', `198.51.100.${i}`).send({ token });
      if (res.status === 200) signedIn++;
    }
    assert.equal(signedIn, tokens.length, 'a link answered 503 was spent when Redis woke');
    // Lost or orphan links: the refused link requests stored nothing, and mailed nothing.
    assert.equal(outbox.length, 10);
    const links = server.cli('--scan', '--pattern', 'ml:*:l:*').trim().split('\n').filter(Boolean);
    assert.equal(links.length, 10, `links in Redis: ${links.length}`);
  });

  it('policy state that has gone missing (evicted) reads as burnt, never as fresh', async () => {
    const { app, outbox, tokenOf, codeOf } = createTestApp({ redis: client, now: Date.now });
    await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
    // Saved after the sign-in, so under the address's policy state (generation 1).
    await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    assert.equal(outbox.length, 3);
    const states = server.cli('--scan', '--pattern', 'ml:*:e:*').trim().split('\n').filter(Boolean);
    assert.equal(states.length, 1);
    server.cli('del', states[0]!); // what maxmemory eviction would do
    expectError(
      await request(app)
        .post('/v1/auth/verify')
        .send({ token: tokenOf(1) }),
      'magic_link_expired',
    );
    expectError(
      await request(app)
        .post('/v1/auth/exchange')
        .send({ email: 'alice@example.com', code: codeOf(2) }),
      'exchange_code_not_found',
    );
    // A wrong code recreates the state from zero: still burnt.
    await request(app).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: '000000' });
    expectError(
      await request(app)
        .post('/v1/auth/verify')
        .send({ token: tokenOf(2) }),
      'magic_link_expired',
    );
  });

  it('warns once, with stable codes, about RDB-only persistence and an evicting maxmemory-policy', async () => {
    server.cli('config', 'set', 'maxmemory', '100mb');
    server.cli('config', 'set', 'maxmemory-policy', 'allkeys-lru');
    const codes: string[] = [];
    const listener = (warning: Error & { code?: string }) => void codes.push(warning.code ?? '');
    process.on('warning', listener);
    // A client of its own: the check runs once per client, at its first ready connection.
    const fresh = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    try {
      createTestApp({ redis: fresh });
      await whenReady(fresh);
      await sleep(100);
    } finally {
      fresh.disconnect();
      process.off('warning', listener);
      server.cli('config', 'set', 'maxmemory', '0');
      server.cli('config', 'set', 'maxmemory-policy', 'noeviction');
    }
    // Once per process: an earlier test may have printed the persistence warning already.
    assert.ok(codes.includes('EXPRESS_MAGIC_LINK_REDIS_EVICTION'), codes.join(','));
  });
});
