// The server-side secret: required where the store is shared, refused when weak, and rotated without
// breaking links in flight (a list: the first makes new records, the others still open theirs).
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import request from 'supertest';
import { MagicLink, MemoryTokenStore, type MagicLinkOptions } from '../src/index.js';
import { whenReady } from './helpers/redis-clients.js';
import { RedisServer } from './helpers/redis-server.js';
import { createTestApp, TEST_SECRET } from './helpers/test-app.js';

const OLD = TEST_SECRET;
const NEW = 'Zq7mP2vL9xR4tN8wB3kD6hF1jS5gC0yUeA2oIrTbVnQ=';
const base: MagicLinkOptions = { baseUrl: 'http://app.test', mailer: { send: async () => undefined } };

describe('keyed secrets', () => {
  describe('where the secret comes from', () => {
    for (const [name, options, message] of [
      [
        'none with redis',
        { redis: { status: 'ready', defineCommand() {}, once() {}, removeListener() {} } },
        /`secret` is required when the store is shared.*openssl rand -base64 32/,
      ],
      ['none with a custom store', { store: { save() {}, peek() {}, redeem() {}, exchange() {}, delete() {} } }, /`secret` is required/],
      ['too short', { secret: 'abc123' }, /`secret` is too short \(6 characters, at least 32\)/],
      ['repeated', { secret: 'passwordpasswordpasswordpassword' }, /`secret` looks guessable/],
      ['low variety', { secret: 'a'.repeat(64) }, /`secret` looks guessable/],
      ['not a string', { secret: 42 }, /`secret` must be a string; got 42/],
      ['an empty list', { secret: [] }, /`secret` must be a string or a non-empty list/],
      ['a weak one in a list', { secret: [NEW, 'short'] }, /`secret\[1\]` is too short/],
      ['the same twice', { secret: [NEW, NEW] }, /lists the same secret twice/],
    ] as const) {
      it(`${name} → TypeError that names the fix`, () => {
        assert.throws(() => new MagicLink({ ...base, ...(options as object) }), { name: 'TypeError', message });
      });
    }

    it('the memory store works without one (a random secret per process) and accepts real ones', () => {
      assert.ok(new MagicLink(base));
      assert.ok(new MagicLink({ ...base, secret: NEW }));
      assert.ok(new MagicLink({ ...base, secret: 'c1e5f0a9b3d84e7f9a2b6c0d1e4f7a8b' })); // openssl rand -hex 16
      assert.ok(new MagicLink({ ...base, store: new MemoryTokenStore(), secret: [NEW, OLD] }));
    });
  });

  for (const backend of ['memory', 'Redis'] as const) {
    describe(`rotation (${backend})`, function () {
      this.timeout(30_000);
      let server: RedisServer | undefined;
      let client: Redis | undefined;
      before(async () => {
        if (backend !== 'Redis') return;
        server = await RedisServer.start();
        client = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
        await whenReady(client);
      });
      after(async () => {
        client?.disconnect();
        await server?.destroy();
      });

      it('links and codes issued under the old secret still sign in after rotation; new ones use the new secret', async () => {
        const shared = backend === 'Redis' ? { redis: client!, now: Date.now } : { store: new MemoryTokenStore() };
        const before = createTestApp({ ...shared, secret: OLD });
        const rotated = createTestApp({ ...shared, secret: [NEW, OLD] });
        const after = createTestApp({ ...shared, secret: NEW });
        // Two links under the old secret, in flight when the rotation is deployed.
        await request(before.app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
        await request(before.app).post('/v1/auth/magic-link').send({ email: 'bob@example.com' });
        const oldToken = before.tokenOf(0);
        const oldCode = before.codeOf(1);
        assert.equal((await request(rotated.app).get(`/auth/magic-link/confirm?token=${oldToken}`)).status, 200);
        assert.equal((await request(rotated.app).post('/v1/auth/verify').send({ token: oldToken })).status, 200);
        assert.equal((await request(rotated.app).post('/v1/auth/exchange').send({ email: 'bob@example.com', code: oldCode })).status, 200);
        // A new link is made under the new secret: the old secret alone cannot open it, the new one can.
        await request(rotated.app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
        const newToken = rotated.tokenOf();
        assert.equal((await request(before.app).post('/v1/auth/verify').send({ token: newToken })).status, 401);
        assert.equal((await request(after.app).post('/v1/auth/verify').send({ token: newToken })).status, 200);
      });
    });
  }
});
