// One set of cases every TokenStore must pass; run against each store implementation.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TokenKey, TokenRecord, TokenStore } from '../../src/index.js';

export interface StoreUnderTest {
  store: TokenStore;
  cleanup?: () => Promise<void> | void;
}

const T0 = Date.parse('2026-05-25T12:00:00Z');

function newKey(tag = randomBytes(3).toString('base64url').slice(0, 3)): TokenKey {
  return { tag, digest: randomBytes(32).toString('base64url') };
}

function newRecord(overrides: Partial<TokenRecord> = {}): TokenRecord {
  return { sealed: randomBytes(40).toString('base64url'), expiresAt: T0 + 900_000, retainUntil: T0 + 3_600_000, usedAt: null, ...overrides };
}

export function describeTokenStore(name: string, create: () => Promise<StoreUnderTest> | StoreUnderTest): void {
  describe(`TokenStore conformance: ${name}`, () => {
    let subject: StoreUnderTest;
    beforeEach(async () => {
      subject = await create();
    });
    afterEach(async () => {
      await subject.cleanup?.();
    });

    it('peek returns what save stored, and unknown keys read as null', async () => {
      const key = newKey();
      const record = newRecord();
      await subject.store.save(key, record, T0);
      assert.deepEqual(await subject.store.peek(key, T0), record);
      assert.equal(await subject.store.peek(newKey(key.tag), T0), null);
    });

    it('peek consumes nothing', async () => {
      const key = newKey();
      await subject.store.save(key, newRecord(), T0);
      await subject.store.peek(key, T0);
      await subject.store.peek(key, T0);
      assert.equal((await subject.store.redeem(key, T0 + 1)).status, 'redeemed');
    });

    it('redeem succeeds once, marks the record used, then answers already_used', async () => {
      const key = newKey();
      const record = newRecord();
      await subject.store.save(key, record, T0);
      const first = await subject.store.redeem(key, T0 + 5);
      assert.deepEqual(first, { status: 'redeemed', record: { ...record, usedAt: T0 + 5 } });
      assert.deepEqual(await subject.store.redeem(key, T0 + 6), { status: 'already_used' });
      assert.equal((await subject.store.peek(key, T0 + 7))?.usedAt, T0 + 5);
    });

    it('redeem at or after expiresAt answers expired and leaves the record unused', async () => {
      const key = newKey();
      await subject.store.save(key, newRecord(), T0);
      assert.deepEqual(await subject.store.redeem(key, T0 + 900_000), { status: 'expired' });
      assert.equal((await subject.store.peek(key, T0 + 900_001))?.usedAt, null);
    });

    it('unknown keys redeem as not_found', async () => {
      assert.deepEqual(await subject.store.redeem(newKey(), T0), { status: 'not_found' });
    });

    it('after retainUntil a record reads as absent', async () => {
      const key = newKey();
      await subject.store.save(key, newRecord({ retainUntil: T0 + 1_000 }), T0);
      assert.notEqual(await subject.store.peek(key, T0 + 999), null);
      assert.equal(await subject.store.peek(key, T0 + 1_000), null);
      assert.deepEqual(await subject.store.redeem(key, T0 + 1_000), { status: 'not_found' });
    });

    it('delete forgets a record', async () => {
      const key = newKey();
      await subject.store.save(key, newRecord(), T0);
      await subject.store.delete(key);
      assert.equal(await subject.store.peek(key, T0), null);
      assert.deepEqual(await subject.store.redeem(key, T0), { status: 'not_found' });
      await subject.store.delete(key); // deleting twice is fine
    });

    it('keys with the same tag are independent records', async () => {
      const a = newKey('abc');
      const b = newKey('abc');
      await subject.store.save(a, newRecord(), T0);
      await subject.store.save(b, newRecord(), T0);
      assert.equal((await subject.store.redeem(a, T0)).status, 'redeemed');
      assert.equal((await subject.store.redeem(b, T0)).status, 'redeemed');
    });

    it('of 50 concurrent redeems of one key exactly one succeeds', async () => {
      const key = newKey();
      await subject.store.save(key, newRecord(), T0);
      const results = await Promise.all(Array.from({ length: 50 }, () => subject.store.redeem(key, T0 + 1)));
      assert.equal(results.filter((r) => r.status === 'redeemed').length, 1);
      assert.equal(results.filter((r) => r.status === 'already_used').length, 49);
    });
  });
}
