// Durability: what a sign-in answered 200 still says after Redis restarts or fails over.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import request from 'supertest';
import { whenReady } from '../../helpers/redis-clients.js';
import { RedisServer } from '../../helpers/redis-server.js';
import { anyone, createTestApp, expectError, sleep } from '../../helpers/test-app.js';

const connect = (url: string) => new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, autoResendUnfulfilledCommands: false });

describe('Redis durability', function () {
  this.timeout(60_000);

  it('AOF everysec: after a crash (kill -9) and restart, used links stay used and unused ones still sign in', async () => {
    const server = await RedisServer.start(['--appendonly', 'yes', '--appendfsync', 'everysec']);
    const client = connect(server.url);
    try {
      await whenReady(client);
      const { app, tokenOf } = createTestApp({ redis: client, now: Date.now, trustProxy: 1, verify: anyone });
      const tokens: string[] = [];
      for (let i = 0; i < 20; i++) {
        await request(app)
          .post('/v1/auth/magic-link')
          .set('X-Forwarded-For', `192.0.2.${i}`)
          .send({ email: `user${i}@example.com` });
        tokens.push(tokenOf());
      }
      for (const token of tokens.slice(0, 10)) assert.equal((await request(app).post('/v1/auth/verify').send({ token })).status, 200);
      await sleep(1_500); // everysec: the last second may be lost in a crash; the recipe says so
      await server.stop(); // SIGKILL
      await server.resume();
      await whenReady(client, 15_000);
      let doubles = 0;
      for (const token of tokens.slice(0, 10)) if ((await request(app).post('/v1/auth/verify').send({ token })).status === 200) doubles++;
      assert.equal(doubles, 0, 'a used link signed in again after the restart');
      let lost = 0;
      for (const token of tokens.slice(10)) if ((await request(app).post('/v1/auth/verify').send({ token })).status !== 200) lost++;
      assert.equal(lost, 0, 'an issued link was lost in the restart');
    } finally {
      client.disconnect();
      await server.destroy();
    }
  });

  describe('waitForReplicas', () => {
    it('with no replica to acknowledge, a link request and a redeem answer 503 after the wait, and nothing is mailed', async () => {
      const server = await RedisServer.start();
      const client = connect(server.url);
      try {
        await whenReady(client);
        const waiting = createTestApp({ redis: client, now: Date.now, waitForReplicas: 1, verify: anyone });
        // A save waits for a replica too: a link mailed and then lost in a failover is a link lost.
        expectError(await request(waiting.app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' }), 'service_unavailable', 'any');
        assert.equal(waiting.outbox.length, 0);
        const plain = createTestApp({ redis: client, now: Date.now, verify: anyone });
        assert.equal((await request(plain.app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' })).status, 202);
        expectError(await request(waiting.app).post('/v1/auth/verify').send({ token: plain.tokenOf() }), 'service_unavailable', 'any');
      } finally {
        client.disconnect();
        await server.destroy();
      }
    });

    it('a frozen replica holds up only the writes that wait for it: the confirm page, plain reads and other requests answer at once, and writes after the first are refused without waiting', async () => {
      const primary = await RedisServer.start();
      const replica = await RedisServer.start(['--replicaof', '127.0.0.1', String(primary.port)]);
      const client = connect(primary.url);
      try {
        await whenReady(client);
        for (let i = 0; i < 100 && !/master_link_status:up/.test(replica.cli('info', 'replication')); i++) await sleep(100);
        // storeTimeoutMs 2000: each WAIT may take up to 800 ms.
        const { app, tokenOf, outbox } = createTestApp({
          redis: client,
          now: Date.now,
          trustProxy: 1,
          verify: anyone,
          waitForReplicas: 1,
          storeTimeoutMs: 2_000,
        });
        assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'before@example.com' })).status, 202);
        const token = tokenOf();
        const mailed = outbox.length;
        replica.pause();
        const started = Date.now();
        const timed = async <T>(work: Promise<T>): Promise<[T, number]> => [await work, Date.now() - started];
        const links = Array.from({ length: 6 }, (_, i) =>
          timed(
            request(app)
              .post('/v1/auth/magic-link')
              .set('X-Forwarded-For', `198.51.100.${i + 1}`)
              .send({ email: `frozen${i}@example.com` })
              .then((res) => res),
          ),
        );
        await sleep(50); // the first save is waiting for the frozen replica now
        const [page, pageMs] = await timed(
          request(app)
            .get('/auth/magic-link/confirm')
            .query({ token })
            .then((res) => res),
        );
        const [, readMs] = await timed(client.get('anything'));
        const answered = await Promise.all(links);
        assert.equal(page.status, 200);
        assert.ok(pageMs < 50 + 250, `the confirm page waited ${pageMs - 50} ms behind the replica wait`);
        assert.ok(readMs < 50 + 250, `a plain GET on the app's connection waited ${readMs - 50} ms`);
        for (const [res] of answered) expectError(res, 'service_unavailable', 'any');
        const slowest = Math.max(...answered.map(([, ms]) => ms));
        // One save waits out its WAIT (800 ms); the rest are refused at once instead of queueing 6 × 800 ms.
        assert.ok(slowest < 1_600, `the six link requests took ${slowest} ms`);
        assert.equal(outbox.length, mailed, 'a link answered 503 was mailed');
        replica.resumeFromPause();
        for (let i = 0; i < 100 && !/master_link_status:up/.test(replica.cli('info', 'replication')); i++) await sleep(100);
        // Back: the next write tries, is acknowledged, and writes flow again.
        let status = 0;
        for (let i = 0; i < 20 && status !== 202; i++) {
          status = (await request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', '203.0.113.9').send({ email: 'after@example.com' })).status;
          if (status !== 202) await sleep(200);
        }
        assert.equal(status, 202);
      } finally {
        replica.resumeFromPause();
        client.disconnect();
        await primary.destroy();
        await replica.destroy();
      }
    });

    for (const waitForReplicas of [0, 1]) {
      it(`a replica cut off from its primary, then a failover: ${waitForReplicas ? 'no answered redeem is lost (it answered 503)' : 'without the option an answered redeem is lost (measured)'}`, async () => {
        const primary = await RedisServer.start();
        const replica = await RedisServer.start(['--replicaof', '127.0.0.1', String(primary.port)]);
        const client = connect(primary.url);
        try {
          await whenReady(client);
          for (let i = 0; i < 100 && !/master_link_status:up/.test(replica.cli('info', 'replication')); i++) await sleep(100);
          const { app, tokenOf } = createTestApp({ redis: client, now: Date.now, verify: anyone, ...(waitForReplicas ? { waitForReplicas } : {}) });
          assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' })).status, 202);
          const token = tokenOf();
          await sleep(200); // the link itself reached the replica
          // A partition: the replica stops receiving; the primary still answers, then dies.
          replica.cli('replicaof', 'no', 'one');
          const first = await request(app).post('/v1/auth/verify').send({ token });
          await primary.stop();
          const promoted = connect(replica.url);
          try {
            await whenReady(promoted);
            const after = createTestApp({ redis: promoted, now: Date.now, verify: anyone });
            const second = await request(after.app).post('/v1/auth/verify').send({ token });
            const answered200 = [first.status, second.status].filter((status) => status === 200).length;
            if (waitForReplicas) {
              expectError(first, 'service_unavailable', 'any');
              assert.equal(answered200, 1, 'the link still signs in once');
            } else {
              // Asynchronous replication: the acknowledged redeem died with the primary.
              assert.equal(first.status, 200);
              assert.equal(answered200, 2, 'without waitForReplicas the same link signed in twice');
            }
          } finally {
            promoted.disconnect();
          }
        } finally {
          client.disconnect();
          await primary.destroy();
          await replica.destroy();
        }
      });
    }
  });
});
