// Sentinel (one master, one replica, three sentinels), on the README's recipe: ioredis with
// failoverDetector, waitForReplicas 1, and min-replicas-to-write 1 on the master. Inject the fault,
// then count double redeems and lost links.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { whenReady } from '../../helpers/redis-clients.js';
import { RedisSentinelGroup } from '../../helpers/redis-server.js';
import { exactlyOnceThrough } from '../../helpers/failover.js';

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

  const cases = {
    'kill -9': 'killed (kill -9)',
    frozen: 'frozen (SIGSTOP) until the sentinels fail over',
    planned: 'handed over by a planned SENTINEL FAILOVER',
  } as const;
  for (const [fault, title] of Object.entries(cases) as Array<[keyof typeof cases, string]>) {
    it(`master ${title}: no double redeem, no lost link, and the 503 window as the README states it`, async () => {
      const { failedForMs } = await exactlyOnceThrough(client, 12, async () => {
        const oldMaster = group.master.port;
        if (fault === 'kill -9') await group.master.stop();
        else if (fault === 'frozen') group.master.pause();
        else group.sentinel('sentinel', 'failover', 'ml');
        await group.waitForMaster(group.replica.port);
        // The old node comes back (an orchestrator restarts it, or the host wakes): the sentinels make
        // it a replica of the new master, so writes can be acknowledged again.
        if (fault === 'kill -9') await group.master.resume();
        else if (fault === 'frozen') group.master.resumeFromPause();
        assert.notEqual(group.masterPort(), oldMaster);
        // Writes are refused (503, nothing spent) until the new master has a replica in sync again.
        await group.waitForGoodReplica();
      });
      // Measured on this 2-core host (README, "When Redis fails"): kill -9 and frozen about 19 s, planned
      // about 16 s: with one replica, the new master refuses writes until the old node has rejoined it.
      process.stdout.write(`      503s for ${(failedForMs / 1000).toFixed(1)} s after the fault\n`);
      assert.ok(failedForMs < 45_000, `503s for ${failedForMs} ms`);
    });
  }
});
