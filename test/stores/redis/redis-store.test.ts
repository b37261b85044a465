import assert from 'node:assert/strict';
import request from 'supertest';
import { RedisTokenStore } from '../../../src/index.js';
import { IOREDIS_FLAVOURS, whenReady } from '../../helpers/redis-clients.js';
import { RedisCluster, RedisServer, serverMatrix } from '../../helpers/redis-server.js';
import { anyone, createTestApp, expectError } from '../../helpers/test-app.js';
import { describeTokenStore } from '../../helpers/token-store-conformance.js';

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

  it("keys carry the hash tag, so one email's records share a cluster slot", () => {
    const client = IOREDIS_FLAVOURS[0]!.connect(server.url);
    const store = new RedisTokenStore(client, { keyPrefix: 'app:' });
    assert.equal(store.keyOf({ tag: 'aB_', id: 'xyz' }), 'app:{aB_}:l:xyz');
    client.disconnect();
  });

  it('keys expire in Redis at the end of retention, so the store never grows without bound', async () => {
    const client = IOREDIS_FLAVOURS[0]!.connect(server.url);
    await whenReady(client);
    const store = new RedisTokenStore(client, { keyPrefix: 'ttl:' });
    const now = Date.now();
    const key = { tag: 'abc', id: 'd1', check: 'k' };
    const record = { sealed: 's', emailKey: 'e', expiresAt: now + 900_000, retainUntil: now + 900_000 + 86_400_000, usedAt: null };
    assert.equal(await store.save(key, record, { now, revokeOthers: false }), true);
    const ttl = Number(server.cli('pttl', 'ttl:{abc}:l:d1').trim());
    assert.ok(ttl > 86_400_000 && ttl <= 900_000 + 86_400_000, `pttl ${ttl}`);
    assert.equal(server.cli('exists', 'ttl:{abc}:e:e').trim(), '0', 'an outstanding link is one key: no email state until it is needed');
    await store.redeem(key, { now: now + 1, burnOthers: true, linkTtlMs: 900_000 });
    const stateTtl = Number(server.cli('pttl', 'ttl:{abc}:e:e').trim());
    assert.ok(stateTtl > 890_000 && stateTtl <= 900_000, `the email's state outlives its links, then expires: ${stateTtl}`);
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

// Valkey is a drop-in for Redis: the same contract, scripts and sign-in, where the machine has it.
const matrix = serverMatrix();
for (const { name, binary } of matrix.available.filter((entry) => entry.binary !== 'redis-server')) {
  describe(`Token store and sign-in on ${name}`, function () {
    this.timeout(60_000);
    let server: RedisServer;
    before(async () => {
      server = await RedisServer.start([], binary);
    });
    after(async () => server?.destroy());
    describeTokenStore(`RedisTokenStore on ${name}`, async () => {
      const client = IOREDIS_FLAVOURS[0]!.connect(server.url);
      await whenReady(client);
      return { store: new RedisTokenStore(client, { keyPrefix: `v${Math.random().toString(36).slice(2)}:` }), cleanup: () => void client.disconnect() };
    });
    it('signs in once, refuses the second use', async () => {
      const client = IOREDIS_FLAVOURS[0]!.connect(server.url);
      await whenReady(client);
      try {
        const { app, tokenOf } = createTestApp({ redis: client, now: Date.now, verify: anyone });
        assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'ada@example.com' })).status, 202);
        assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
        expectError(await request(app).post('/v1/auth/verify').send({ token: tokenOf() }), 'magic_link_already_used');
      } finally {
        client.disconnect();
      }
    });
  });
}
for (const reason of matrix.skipped) {
  describe('Redis matrix', () => {
    it(`skipped: ${reason}`, function () {
      console.log(`      skipped: ${reason}`);
      this.skip();
    });
  });
}
