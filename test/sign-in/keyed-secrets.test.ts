// The server-side secret: required where the store is shared, refused when weak, and rotated without
// breaking links in flight (a list: the first makes new records, the others still open theirs).
import assert from 'node:assert/strict';
import { MagicLink, MemoryTokenStore, type MagicLinkOptions } from '../../src/index.js';
import { ROTATED_SECRET as NEW, secretRotation } from '../helpers/scenarios.js';
import { TEST_SECRET } from '../helpers/test-app.js';

const OLD = TEST_SECRET;
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

  it('rotation: links and codes issued under the old secret still sign in; new ones use the new secret (memory; Redis and PostgreSQL in test/stores/shared/)', async () => {
    await secretRotation({ store: new MemoryTokenStore() }, OLD);
  });
});
