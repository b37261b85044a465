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
