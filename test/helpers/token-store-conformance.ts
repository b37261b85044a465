// One set of cases every TokenStore must pass; run against each store implementation.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { EmailKey, TokenKey, TokenRecord, TokenStore } from '../../src/index.js';

export interface StoreUnderTest {
  store: TokenStore;
  cleanup?: () => Promise<void> | void;
}

const T0 = Date.parse('2026-05-25T12:00:00Z');
const random = (bytes: number) => randomBytes(bytes).toString('base64url');

/** One email's sign-ins: its keys share a tag, as the library derives them. */
function newEmail(): EmailKey {
  return { tag: random(3).slice(0, 3), digest: random(16).slice(0, 22) };
}

function newLink(email: EmailKey, overrides: Partial<TokenRecord> = {}): { key: TokenKey; record: TokenRecord } {
  return {
    key: { tag: email.tag, digest: random(16) },
    record: { sealed: random(40), emailKey: email.digest, expiresAt: T0 + 900_000, retainUntil: T0 + 3_600_000, usedAt: null, ...overrides },
  };
}

const saveOptions = (codeDigest = random(8), revokeOthers = false) => ({ now: T0, codeDigest, revokeOthers });
const at = (now: number, burnOthers = false) => ({ now, burnOthers });
const tries = (now: number, burnOthers = false) => ({ now, burnOthers, maxFailures: 5 });

export function describeTokenStore(name: string, create: () => Promise<StoreUnderTest> | StoreUnderTest): void {
  describe(`TokenStore conformance: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: TokenStore;
    beforeEach(async () => {
      subject = await create();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup?.();
    });

    describe('links', () => {
      it('peek returns what save stored, and unknown keys read as null', async () => {
        const email = newEmail();
        const { key, record } = newLink(email);
        await store.save(key, record, saveOptions());
        assert.deepEqual(await store.peek(key, T0), record);
        assert.equal(await store.peek(newLink(email).key, T0), null);
      });

      it('peek consumes nothing', async () => {
        const { key, record } = newLink(newEmail());
        await store.save(key, record, saveOptions());
        await store.peek(key, T0);
        await store.peek(key, T0);
        assert.equal((await store.redeem(key, at(T0 + 1))).status, 'redeemed');
      });

      it('redeem succeeds once, marks the record used, then answers already_used', async () => {
        const { key, record } = newLink(newEmail());
        await store.save(key, record, saveOptions());
        assert.deepEqual(await store.redeem(key, at(T0 + 5)), { status: 'redeemed', record: { ...record, usedAt: T0 + 5 } });
        assert.deepEqual(await store.redeem(key, at(T0 + 6)), { status: 'already_used' });
        assert.equal((await store.peek(key, T0 + 7))?.usedAt, T0 + 5);
      });

      it('redeem at or after expiresAt answers expired and leaves the record unused', async () => {
        const { key, record } = newLink(newEmail());
        await store.save(key, record, saveOptions());
        assert.deepEqual(await store.redeem(key, at(T0 + 900_000)), { status: 'expired' });
        assert.equal((await store.peek(key, T0 + 900_001))?.usedAt, null);
      });

      it('unknown keys redeem as not_found', async () => {
        assert.deepEqual(await store.redeem(newLink(newEmail()).key, at(T0)), { status: 'not_found' });
      });

      it('after retainUntil a record reads as absent', async () => {
        const { key, record } = newLink(newEmail(), { retainUntil: T0 + 1_000 });
        await store.save(key, record, saveOptions());
        assert.notEqual(await store.peek(key, T0 + 999), null);
        assert.equal(await store.peek(key, T0 + 1_000), null);
        assert.deepEqual(await store.redeem(key, at(T0 + 1_000)), { status: 'not_found' });
      });

      it('delete forgets a link and its code', async () => {
        const email = newEmail();
        const { key, record } = newLink(email);
        await store.save(key, record, saveOptions('code-1'));
        await store.delete(key);
        assert.equal(await store.peek(key, T0), null);
        assert.deepEqual(await store.redeem(key, at(T0)), { status: 'not_found' });
        assert.equal((await store.exchange(email, 'code-1', tries(T0))).status, 'not_found');
        await store.delete(key); // deleting twice is fine
      });

      it('links of one email are independent records', async () => {
        const email = newEmail();
        const a = newLink(email);
        const b = newLink(email);
        await store.save(a.key, a.record, saveOptions());
        await store.save(b.key, b.record, saveOptions());
        assert.equal((await store.redeem(a.key, at(T0))).status, 'redeemed');
        assert.equal((await store.redeem(b.key, at(T0))).status, 'redeemed');
      });

      it('of 50 concurrent redeems of one link exactly one succeeds', async () => {
        const { key, record } = newLink(newEmail());
        await store.save(key, record, saveOptions());
        const results = await Promise.all(Array.from({ length: 50 }, () => store.redeem(key, at(T0 + 1))));
        assert.equal(results.filter((r) => r.status === 'redeemed').length, 1);
        assert.equal(results.filter((r) => r.status === 'already_used').length, 49);
      });
    });

    describe('codes', () => {
      it('the right code redeems the sign-in once, and burns its link', async () => {
        const email = newEmail();
        const { key, record } = newLink(email);
        await store.save(key, record, saveOptions('right'));
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 1)), { status: 'redeemed' });
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 2)), { status: 'already_used' });
        assert.deepEqual(await store.redeem(key, at(T0 + 3)), { status: 'already_used' });
      });

      it('a redeemed link burns its code', async () => {
        const email = newEmail();
        const { key, record } = newLink(email);
        await store.save(key, record, saveOptions('right'));
        assert.equal((await store.redeem(key, at(T0 + 1))).status, 'redeemed');
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 2)), { status: 'already_used' });
      });

      it('a wrong code is not_found and counted; after five wrong tries even the right code is not_found', async () => {
        const email = newEmail();
        const { key, record } = newLink(email);
        await store.save(key, record, saveOptions('right'));
        for (let i = 0; i < 5; i++) assert.deepEqual(await store.exchange(email, `wrong${i}`, tries(T0 + i)), { status: 'not_found', wrong: true });
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 10)), { status: 'not_found', wrong: false });
        // The dead code does not take its link with it.
        assert.equal((await store.redeem(key, at(T0 + 11))).status, 'redeemed');
      });

      it('four wrong tries leave the right code working', async () => {
        const email = newEmail();
        const { record, key } = newLink(email);
        await store.save(key, record, saveOptions('right'));
        for (let i = 0; i < 4; i++) await store.exchange(email, `wrong${i}`, tries(T0));
        assert.deepEqual(await store.exchange(email, 'right', tries(T0)), { status: 'redeemed' });
      });

      it('an expired code is not_found, and not counted as a wrong try', async () => {
        const email = newEmail();
        const { key, record } = newLink(email);
        await store.save(key, record, saveOptions('right'));
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 900_000)), { status: 'not_found', wrong: false });
      });

      it("another email's code does not match, and unknown emails are not_found", async () => {
        const alice = newEmail();
        const bob = newEmail();
        const link = newLink(alice);
        await store.save(link.key, link.record, saveOptions('same-digest'));
        assert.deepEqual(await store.exchange(bob, 'same-digest', tries(T0)), { status: 'not_found', wrong: true });
      });

      it('by default every outstanding code of an email works', async () => {
        const email = newEmail();
        const first = newLink(email);
        const second = newLink(email);
        await store.save(first.key, first.record, saveOptions('one'));
        await store.save(second.key, second.record, saveOptions('two'));
        assert.equal((await store.exchange(email, 'one', tries(T0))).status, 'redeemed');
        assert.equal((await store.exchange(email, 'two', tries(T0))).status, 'redeemed');
      });

      it('a wrong code counts against every live code of the email', async () => {
        const email = newEmail();
        const first = newLink(email);
        const second = newLink(email);
        await store.save(first.key, first.record, saveOptions('one'));
        await store.save(second.key, second.record, saveOptions('two'));
        for (let i = 0; i < 5; i++) await store.exchange(email, `wrong${i}`, tries(T0));
        assert.equal((await store.exchange(email, 'one', tries(T0))).status, 'not_found');
        assert.equal((await store.exchange(email, 'two', tries(T0))).status, 'not_found');
      });
    });

    describe('outstanding-links policy', () => {
      it('revokeOthers on save expires the earlier links and their codes', async () => {
        const email = newEmail();
        const first = newLink(email);
        const second = newLink(email);
        await store.save(first.key, first.record, saveOptions('one'));
        await store.save(second.key, second.record, saveOptions('two', true));
        assert.deepEqual(await store.redeem(first.key, at(T0 + 1)), { status: 'expired' });
        assert.equal((await store.exchange(email, 'one', tries(T0 + 1))).status, 'not_found');
        assert.equal((await store.exchange(email, 'two', tries(T0 + 1))).status, 'redeemed');
      });

      it('burnOthers on a link redeem expires the other links and codes', async () => {
        const email = newEmail();
        const links = [newLink(email), newLink(email), newLink(email)];
        for (const [i, link] of links.entries()) await store.save(link.key, link.record, saveOptions(`code${i}`));
        assert.equal((await store.redeem(links[0]!.key, at(T0 + 1, true))).status, 'redeemed');
        assert.deepEqual(await store.redeem(links[1]!.key, at(T0 + 2)), { status: 'expired' });
        assert.equal((await store.exchange(email, 'code2', tries(T0 + 2))).status, 'not_found');
      });

      it('burnOthers on a code redeem expires the other links and codes', async () => {
        const email = newEmail();
        const links = [newLink(email), newLink(email)];
        for (const [i, link] of links.entries()) await store.save(link.key, link.record, saveOptions(`code${i}`));
        assert.equal((await store.exchange(email, 'code0', tries(T0 + 1, true))).status, 'redeemed');
        assert.deepEqual(await store.redeem(links[1]!.key, at(T0 + 2)), { status: 'expired' });
      });

      it('other emails are untouched by either policy', async () => {
        const alice = newEmail();
        const bob = { tag: alice.tag, digest: random(16).slice(0, 22) }; // same slot, other email
        const a = newLink(alice);
        const b = newLink(bob);
        await store.save(b.key, b.record, saveOptions('b'));
        await store.save(a.key, a.record, saveOptions('a', true));
        await store.redeem(a.key, at(T0 + 1, true));
        assert.equal((await store.redeem(b.key, at(T0 + 2))).status, 'redeemed');
      });
    });

    it('of 50 concurrent mixed link and code redeems of one sign-in exactly one succeeds', async () => {
      const email = newEmail();
      const { key, record } = newLink(email);
      await store.save(key, record, saveOptions('right'));
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? store.redeem(key, at(T0 + 1)) : store.exchange(email, 'right', tries(T0 + 1)))),
      );
      assert.equal(results.filter((r) => r.status === 'redeemed').length, 1);
      assert.equal(results.filter((r) => r.status === 'already_used').length, 49);
    });
  });
}
