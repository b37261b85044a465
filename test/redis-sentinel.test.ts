// Sentinel (one master, one replica, three sentinels), on the README's recipe: ioredis with
// failoverDetector, waitForReplicas 1, and min-replicas-to-write 1 on the master. Inject the fault,
// then count double redeems and lost links.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { whenReady } from './helpers/redis-clients.js';
import { RedisSentinelGroup } from './helpers/redis-server.js';
import { countLosses, issueLinks, verifyLink, withRetries } from './helpers/failover.js';
import { anyone, createTestApp } from './helpers/test-app.js';

function sentinelClient(group: RedisSentinelGroup): Redis {
  const client = new Redis({
    sentinels: group.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    name: 'ml',
    failoverDetector: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
  });
  client.on('error', () => undefined); // a killed master is the point of the test
  return client;
}

describe('Redis Sentinel failover', function () {
  this.timeout(240_000);
  let group: RedisSentinelGroup;
  let client: Redis;
  beforeEach(async () => {
    group = await RedisSentinelGroup.start();
    client = sentinelClient(group);
    await whenReady(client);
  });
  afterEach(async () => {
    client.disconnect();
    await group.destroy();
  });

  for (const fault of ['kill -9', 'frozen'] as const) {
    it(`master ${fault === 'kill -9' ? 'killed (kill -9)' : 'frozen (SIGSTOP) until the sentinels fail over'}: no double redeem, no lost link`, async () => {
      // The recipe's deadline: long enough for a replica to acknowledge on a busy two-core host
      // (WAIT gets 40 % of it). At the 1 s default, a WAIT that timed out under CI load answered 503
      // for a redeem the master had made: the retry then found the link spent.
      const { app, tokenOf } = createTestApp({
        redis: client,
        now: Date.now,
        trustProxy: 1,
        waitForReplicas: 1,
        storeTimeoutMs: 3_000,
        verify: anyone,
        limits: { failedVerifiesPerIp: 1000 },
      });
      const before = await issueLinks(app, tokenOf, 12, 'before');
      for (const token of before.slice(0, 6)) assert.equal(await withRetries(verifyLink(app, token)), 200);

      const oldMaster = group.master.port;
      if (fault === 'kill -9') await group.master.stop();
      else group.master.pause();
      await group.waitForMaster(group.replica.port);
      // The old node comes back (an orchestrator restarts it, or the host wakes): the sentinels make
      // it a replica of the new master, so writes can be acknowledged again.
      if (fault === 'kill -9') await group.master.resume();
      else group.master.resumeFromPause();
      assert.notEqual(group.masterPort(), oldMaster);
      // Writes are refused (503, nothing spent) until the new master has a replica in sync again.
      await group.waitForGoodReplica();

      // Sign-ins after the failover, on the client that followed it (failoverDetector).
      const after = await issueLinks(app, tokenOf, 6, 'after');
      for (const token of after.slice(0, 3)) assert.equal(await withRetries(verifyLink(app, token)), 200);

      const { doubles, lost } = await countLosses(app, [...before.slice(0, 6), ...after.slice(0, 3)], [...before.slice(6), ...after.slice(3)]);
      assert.equal(doubles, 0, 'a used link signed in again');
      assert.equal(lost, 0, 'an issued link was lost');
    });
  }
});
