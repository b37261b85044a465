// One set of cases every TokenStore must pass; run against each store implementation.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AttemptRecord, EmailKey, TokenKey, TokenRecord, TokenStore } from '../../src/index.js';

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

/** A link whose code digest (and so record id) is `code`. */
function newLink(email: EmailKey, code = random(8), overrides: Partial<TokenRecord> = {}): { key: TokenKey; record: TokenRecord } {
  return {
    key: { tag: email.tag, id: code, check: random(8) },
    record: { sealed: random(40), emailKey: email.digest, expiresAt: T0 + 900_000, retainUntil: T0 + 3_600_000, usedAt: null, ...overrides },
  };
}

const LINK_TTL = 900_000;
const saveOptions = (revokeOthers = false, now = T0) => ({ now, revokeOthers });
const at = (now: number, burnOthers = false) => ({ now, burnOthers, linkTtlMs: LINK_TTL });
const tries = (now: number, burnOthers = false) => ({ now, burnOthers, linkTtlMs: LINK_TTL, maxFailures: 5 });

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
        const { key, record } = newLink(newEmail(), undefined, { retainUntil: T0 + 1_000 });
        await store.save(key, record, saveOptions());
        assert.notEqual(await store.peek(key, T0 + 999), null);
        assert.equal(await store.peek(key, T0 + 1_000), null);
        assert.deepEqual(await store.redeem(key, at(T0 + 1_000)), { status: 'not_found' });
      });

      it('delete forgets a link and its code', async () => {
        const email = newEmail();
        const { key, record } = newLink(email, 'code-1');
        await store.save(key, record, saveOptions());
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

      it('save refuses an id the email already holds, storing nothing, until that record is past retention', async () => {
        const email = newEmail();
        const first = newLink(email, 'same');
        const second = newLink(email, 'same');
        assert.equal(await store.save(first.key, first.record, saveOptions()), true);
        assert.equal(await store.save(second.key, second.record, saveOptions()), false);
        assert.deepEqual(await store.peek(first.key, T0), first.record, 'the first record is untouched');
        assert.equal(await store.peek(second.key, T0), null);
        const later = T0 + 3_600_000; // past the first record's retention
        const third = newLink(email, 'same', { expiresAt: later + 900_000, retainUntil: later + 3_600_000 });
        assert.equal(await store.save(third.key, third.record, saveOptions(false, later)), true);
        assert.equal((await store.redeem(third.key, at(later + 1))).status, 'redeemed');
      });

      it('a token whose check differs is not_found and consumes nothing', async () => {
        const { key, record } = newLink(newEmail());
        await store.save(key, record, saveOptions());
        const forged = { ...key, check: random(8) };
        assert.equal(await store.peek(forged, T0), null);
        assert.deepEqual(await store.redeem(forged, at(T0 + 1)), { status: 'not_found' });
        assert.equal((await store.redeem(key, at(T0 + 2))).status, 'redeemed');
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
        const { key, record } = newLink(email, 'right');
        await store.save(key, record, saveOptions());
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 1)), { status: 'redeemed' });
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 2)), { status: 'already_used' });
        assert.deepEqual(await store.redeem(key, at(T0 + 3)), { status: 'already_used' });
      });

      it('a redeemed link burns its code', async () => {
        const email = newEmail();
        const { key, record } = newLink(email, 'right');
        await store.save(key, record, saveOptions());
        assert.equal((await store.redeem(key, at(T0 + 1))).status, 'redeemed');
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 2)), { status: 'already_used' });
      });

      it('a wrong code is not_found and counted; after five wrong tries even the right code is not_found', async () => {
        const email = newEmail();
        const { key, record } = newLink(email, 'right');
        await store.save(key, record, saveOptions());
        for (let i = 0; i < 5; i++) assert.deepEqual(await store.exchange(email, `wrong${i}`, tries(T0 + i)), { status: 'not_found', wrong: true });
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 10)), { status: 'not_found', wrong: false });
        // The dead code does not take its link with it.
        assert.equal((await store.redeem(key, at(T0 + 11))).status, 'redeemed');
      });

      it('four wrong tries leave the right code working', async () => {
        const email = newEmail();
        const { record, key } = newLink(email, 'right');
        await store.save(key, record, saveOptions());
        for (let i = 0; i < 4; i++) await store.exchange(email, `wrong${i}`, tries(T0));
        assert.deepEqual(await store.exchange(email, 'right', tries(T0)), { status: 'redeemed' });
      });

      it('an expired code is not_found, and not counted as a wrong try', async () => {
        const email = newEmail();
        const { key, record } = newLink(email, 'right');
        await store.save(key, record, saveOptions());
        assert.deepEqual(await store.exchange(email, 'right', tries(T0 + 900_000)), { status: 'not_found', wrong: false });
      });

      it("another email's code does not match, and unknown emails are not_found", async () => {
        const alice = newEmail();
        const bob = newEmail();
        const link = newLink(alice, 'same-digest');
        await store.save(link.key, link.record, saveOptions());
        assert.deepEqual(await store.exchange(bob, 'same-digest', tries(T0)), { status: 'not_found', wrong: true });
      });

      it('by default every outstanding code of an email works', async () => {
        const email = newEmail();
        const first = newLink(email, 'one');
        const second = newLink(email, 'two');
        await store.save(first.key, first.record, saveOptions());
        await store.save(second.key, second.record, saveOptions());
        assert.equal((await store.exchange(email, 'one', tries(T0))).status, 'redeemed');
        assert.equal((await store.exchange(email, 'two', tries(T0))).status, 'redeemed');
      });

      it('a wrong code counts against every live code of the email', async () => {
        const email = newEmail();
        const first = newLink(email, 'one');
        const second = newLink(email, 'two');
        await store.save(first.key, first.record, saveOptions());
        await store.save(second.key, second.record, saveOptions());
        for (let i = 0; i < 5; i++) await store.exchange(email, `wrong${i}`, tries(T0));
        assert.equal((await store.exchange(email, 'one', tries(T0))).status, 'not_found');
        assert.equal((await store.exchange(email, 'two', tries(T0))).status, 'not_found');
      });
    });

    describe('outstanding-links policy', () => {
      it('revokeOthers on save expires the earlier links and their codes', async () => {
        const email = newEmail();
        const first = newLink(email, 'one');
        const second = newLink(email, 'two');
        await store.save(first.key, first.record, saveOptions());
        await store.save(second.key, second.record, saveOptions(true));
        assert.deepEqual(await store.redeem(first.key, at(T0 + 1)), { status: 'expired' });
        assert.equal((await store.exchange(email, 'one', tries(T0 + 1))).status, 'not_found');
        assert.equal((await store.exchange(email, 'two', tries(T0 + 1))).status, 'redeemed');
      });

      it('burnOthers on a link redeem expires the other links and codes', async () => {
        const email = newEmail();
        const links = [newLink(email, 'code0'), newLink(email, 'code1'), newLink(email, 'code2')];
        for (const link of links) await store.save(link.key, link.record, saveOptions());
        assert.equal((await store.redeem(links[0]!.key, at(T0 + 1, true))).status, 'redeemed');
        assert.deepEqual(await store.redeem(links[1]!.key, at(T0 + 2)), { status: 'expired' });
        assert.equal((await store.exchange(email, 'code2', tries(T0 + 2))).status, 'not_found');
      });

      it('a burnt link peeks as expired now', async () => {
        const email = newEmail();
        const [a, b] = [newLink(email), newLink(email)];
        await store.save(a.key, a.record, saveOptions());
        await store.save(b.key, b.record, saveOptions());
        await store.redeem(a.key, at(T0 + 1, true));
        assert.deepEqual(await store.peek(b.key, T0 + 2), { ...b.record, expiresAt: T0 + 2 });
      });

      it('links saved after a sign-in, a revoke or wrong codes start afresh', async () => {
        const email = newEmail();
        const signedIn = newLink(email, 'one');
        await store.save(signedIn.key, signedIn.record, saveOptions());
        await store.redeem(signedIn.key, at(T0 + 1, true));
        const revoking = newLink(email, 'two');
        await store.save(revoking.key, revoking.record, saveOptions(true, T0 + 2));
        for (let i = 0; i < 5; i++) await store.exchange(email, `wrong${i}`, tries(T0 + 3));
        const next = newLink(email, 'three');
        await store.save(next.key, next.record, saveOptions(false, T0 + 4));
        assert.equal((await store.exchange(email, 'three', tries(T0 + 5))).status, 'redeemed');
        assert.equal((await store.exchange(email, 'two', tries(T0 + 6))).status, 'not_found', 'the earlier code is dead');
        const last = newLink(email);
        await store.save(last.key, last.record, saveOptions(false, T0 + 7));
        assert.equal((await store.redeem(last.key, at(T0 + 8))).status, 'redeemed');
      });

      it('burnOthers on a code redeem expires the other links and codes', async () => {
        const email = newEmail();
        const links = [newLink(email, 'code0'), newLink(email, 'code1')];
        for (const link of links) await store.save(link.key, link.record, saveOptions());
        assert.equal((await store.exchange(email, 'code0', tries(T0 + 1, true))).status, 'redeemed');
        assert.deepEqual(await store.redeem(links[1]!.key, at(T0 + 2)), { status: 'expired' });
      });

      it('other emails are untouched by either policy', async () => {
        const alice = newEmail();
        const bob = { tag: alice.tag, digest: random(16).slice(0, 22) }; // same slot, other email
        const a = newLink(alice);
        const b = newLink(bob);
        await store.save(b.key, b.record, saveOptions());
        await store.save(a.key, a.record, saveOptions(true));
        await store.redeem(a.key, at(T0 + 1, true));
        assert.equal((await store.redeem(b.key, at(T0 + 2))).status, 'redeemed');
      });
    });

    describe('revoke (magicLink.revoke)', () => {
      const revoke = (email: EmailKey, now: number) => {
        assert.equal(typeof store.revoke, 'function', 'every store of the package can revoke');
        return store.revoke!(email, { now, linkTtlMs: LINK_TTL });
      };

      it('burns every outstanding link and code of the email at once: they read as used', async () => {
        const email = newEmail();
        const links = [newLink(email, 'code0'), newLink(email, 'code1'), newLink(email, 'code2')];
        for (const link of links) await store.save(link.key, link.record, saveOptions());
        await revoke(email, T0 + 10);
        assert.deepEqual(await store.redeem(links[0]!.key, at(T0 + 11)), { status: 'already_used' });
        assert.deepEqual(await store.exchange(email, 'code1', tries(T0 + 11)), { status: 'already_used' });
        assert.deepEqual(await store.peek(links[2]!.key, T0 + 12), { ...links[2]!.record, usedAt: T0 + 10 });
        // Not a wrong try: the email's other codes are not counted down.
        assert.deepEqual(await store.exchange(email, 'code2', tries(T0 + 12)), { status: 'already_used' });
      });

      it('links saved after it work; a later sign-in burns them as usual (expired, not used); other emails are untouched', async () => {
        const email = newEmail();
        const other = { tag: email.tag, digest: random(16).slice(0, 22) };
        const before = newLink(email);
        const elsewhere = newLink(other);
        await store.save(before.key, before.record, saveOptions());
        await store.save(elsewhere.key, elsewhere.record, saveOptions());
        await revoke(email, T0 + 10);
        const [after1, after2] = [newLink(email), newLink(email)];
        await store.save(after1.key, after1.record, saveOptions(false, T0 + 20));
        await store.save(after2.key, after2.record, saveOptions(false, T0 + 20));
        assert.equal((await store.peek(after1.key, T0 + 21))?.usedAt, null);
        assert.equal((await store.redeem(after1.key, at(T0 + 21, true))).status, 'redeemed');
        assert.deepEqual(await store.redeem(after2.key, at(T0 + 22)), { status: 'expired' });
        assert.deepEqual(await store.redeem(before.key, at(T0 + 22)), { status: 'already_used' });
        assert.equal((await store.redeem(elsewhere.key, at(T0 + 23))).status, 'redeemed');
      });

      it('an email with nothing outstanding is revoked without an error, and an unknown code is still a wrong try', async () => {
        const email = newEmail();
        await revoke(email, T0);
        const link = newLink(email, 'right');
        await store.save(link.key, link.record, saveOptions(false, T0 + 1));
        assert.deepEqual(await store.exchange(email, 'wrong', tries(T0 + 2)), { status: 'not_found', wrong: true });
        assert.equal((await store.exchange(email, 'right', tries(T0 + 3))).status, 'redeemed');
      });
    });

    describe('cross-device attempts (approve, attempt)', () => {
      const WINDOW = 60_000;
      function withAttempt(email: EmailKey) {
        const link = newLink(email);
        const attempt = { check: random(16), match: random(16), sealed: random(40) };
        const attemptKey = { tag: link.key.tag, id: link.key.id, check: attempt.check };
        return { ...link, record: { ...link.record, attempt }, attempt, attemptKey };
      }
      const step = (now: number, name: 'read' | 'collect' | 'release' = 'read') => ({ now, step: name, collectWindowMs: WINDOW });
      const approving = (now: number, match: string | null) => ({ ...at(now), match });

      it('an attempt is saved with its link, peeks with it, and answers only to its own check', async function (this: Mocha.Context) {
        if (!store.approve || !store.attempt) return this.skip();
        const { key, record, attemptKey } = withAttempt(newEmail());
        await store.save(key, record, saveOptions());
        assert.deepEqual(await store.peek(key, T0), record);
        assert.equal((await store.attempt(attemptKey, step(T0)))?.state, 'pending');
        assert.equal(await store.attempt({ ...attemptKey, check: random(16) }, step(T0)), null);
      });

      it('the right match approves (the link is then used); it is collected once within the window, and a release makes it collectable again', async function (this: Mocha.Context) {
        if (!store.approve || !store.attempt) return this.skip();
        const { key, record, attempt, attemptKey } = withAttempt(newEmail());
        await store.save(key, record, saveOptions());
        assert.deepEqual(await store.approve(key, approving(T0 + 1, attempt.match)), { status: 'approved' });
        assert.equal((await store.redeem(key, at(T0 + 2))).status, 'already_used');
        const [first, second] = await Promise.all([store.attempt(attemptKey, step(T0 + 3, 'collect')), store.attempt(attemptKey, step(T0 + 3, 'collect'))]);
        assert.equal([first, second].filter((r) => r?.taken).length, 1, 'exactly one collect takes it');
        assert.equal((await store.attempt(attemptKey, step(T0 + 4)))?.state, 'collected');
        await store.attempt(attemptKey, step(T0 + 5, 'release'));
        assert.equal((await store.attempt(attemptKey, step(T0 + 6, 'collect')))?.taken, true);
      });

      it('past the window nothing is collected; a wrong match or none denies and uses the link', async function (this: Mocha.Context) {
        if (!store.approve || !store.attempt) return this.skip();
        const late = withAttempt(newEmail());
        await store.save(late.key, late.record, saveOptions());
        await store.approve(late.key, approving(T0 + 1, late.attempt.match));
        assert.equal((await store.attempt(late.attemptKey, step(T0 + 1 + WINDOW, 'collect')))?.taken, false);
        for (const match of [random(16), null]) {
          const { key, record, attemptKey } = withAttempt(newEmail());
          await store.save(key, record, saveOptions());
          assert.deepEqual(await store.approve(key, approving(T0 + 1, match)), { status: 'denied' });
          const outcome: AttemptRecord | null = await store.attempt(attemptKey, step(T0 + 2, 'collect'));
          assert.equal(outcome?.state, 'denied');
          assert.equal(outcome?.taken, false);
          assert.equal((await store.redeem(key, at(T0 + 3))).status, 'already_used');
        }
      });

      it('a link without an attempt cannot be approved; approve and redeem race to one winner', async function (this: Mocha.Context) {
        if (!store.approve || !store.attempt) return this.skip();
        const plain = newLink(newEmail());
        await store.save(plain.key, plain.record, saveOptions());
        assert.deepEqual(await store.approve(plain.key, approving(T0 + 1, null)), { status: 'not_found' });
        const { key, record, attempt } = withAttempt(newEmail());
        await store.save(key, record, saveOptions());
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? store.redeem(key, at(T0 + 1)) : store.approve!(key, approving(T0 + 1, attempt.match)))),
        );
        assert.equal(results.filter((r) => r.status === 'redeemed' || r.status === 'approved').length, 1);
      });
    });

    it('of 50 concurrent mixed link and code redeems of one sign-in exactly one succeeds', async () => {
      const email = newEmail();
      const { key, record } = newLink(email, 'right');
      await store.save(key, record, saveOptions());
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? store.redeem(key, at(T0 + 1)) : store.exchange(email, 'right', tries(T0 + 1)))),
      );
      assert.equal(results.filter((r) => r.status === 'redeemed').length, 1);
      assert.equal(results.filter((r) => r.status === 'already_used').length, 49);
    });
  });
}
