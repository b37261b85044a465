import assert from 'node:assert/strict';
import { RedisTokenStore } from '../src/index.js';
import { IOREDIS_FLAVOURS, whenReady } from './helpers/redis-clients.js';
import { RedisCluster, RedisServer } from './helpers/redis-server.js';
import { describeTokenStore } from './helpers/token-store-conformance.js';

describe('Redis token store', function () {
  this.timeout(60_000);
  let server: RedisServer;
  let cluster: RedisCluster;

  before(async () => {
    server = await RedisServer.start();
    cluster = await RedisCluster.start();
  });
  after(async () => {
    await server?.destroy();
    await cluster?.destroy();
  });

  for (const flavour of IOREDIS_FLAVOURS) {
    describeTokenStore(`RedisTokenStore, single server, ${flavour.name}`, async () => {
      const client = flavour.connect(server.url);
      await whenReady(client);
      return { store: new RedisTokenStore(client, { keyPrefix: `t${Math.random().toString(36).slice(2)}:` }), cleanup: () => void client.disconnect() };
    });
    describeTokenStore(`RedisTokenStore, 3-master cluster, ${flavour.name}`, async () => {
      const client = flavour.cluster(cluster.startupNodes);
      await whenReady(client);
      return { store: new RedisTokenStore(client), cleanup: () => void client.disconnect() };
    });
  }

  it('keys carry the hash tag, so one email\'s records share a cluster slot', () => {
    const client = IOREDIS_FLAVOURS[0]!.connect(server.url);
    const store = new RedisTokenStore(client, { keyPrefix: 'app:' });
    assert.equal(store.keyOf({ tag: 'aB_', digest: 'xyz' }), 'app:{aB_}:l:xyz');
    client.disconnect();
  });

  it('keys expire in Redis at the end of retention, so the store never grows without bound', async () => {
    const client = IOREDIS_FLAVOURS[0]!.connect(server.url);
    await whenReady(client);
    const store = new RedisTokenStore(client, { keyPrefix: 'ttl:' });
    const now = Date.now();
    await store.save({ tag: 'abc', digest: 'd1' }, { sealed: 's', emailKey: 'e', expiresAt: now + 900_000, retainUntil: now + 900_000 + 86_400_000, usedAt: null }, { now, codeDigest: 'c', revokeOthers: false });
    const ttl = Number(server.cli('pttl', 'ttl:{abc}:l:d1').trim());
    assert.ok(ttl > 86_400_000 && ttl <= 900_000 + 86_400_000, `pttl ${ttl}`);
    await store.redeem({ tag: 'abc', digest: 'd1' }, { now: now + 1, burnOthers: false });
    const codesTtl = Number(server.cli('pttl', 'ttl:{abc}:e:e').trim());
    assert.ok(codesTtl > 86_400_000, `the email's code hash expires too: ${codesTtl}`);
    assert.equal(Number(server.cli('pttl', 'ttl:{abc}:l:d1').trim()) > 86_400_000, true, 'redeem keeps the TTL');
    client.disconnect();
  });

  it('rejects a non-client and bad options with TypeErrors', () => {
    assert.throws(() => new RedisTokenStore({} as never), { name: 'TypeError', message: /ioredis client/ });
    const client = IOREDIS_FLAVOURS[0]!.connect(server.url);
    assert.throws(() => new RedisTokenStore(client, { keyPrefix: '{x}' }), { name: 'TypeError', message: /`keyPrefix`/ });
    assert.throws(() => new RedisTokenStore(client, { prefix: 'x' } as never), { name: 'TypeError', message: /Did you mean `keyPrefix`/ });
    client.disconnect();
  });
});
