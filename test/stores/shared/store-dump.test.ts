// Plays an attacker with read-only access to the store (a replica, a backup, a monitoring account)
// and the list of addresses that were used. Before keyed digests, the limiter keys were reversed to
// addresses, each live code was recovered from its record id in about a second, and the attacker
// signed in as the victim. Without the secret nothing of that works; with it, it does (so this test
// can fail): the digests below follow the library's published construction, as an attacker's would.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import request from 'supertest';
import type { MagicLinkEvent } from '../../../src/index.js';
import { SHARED_BACKENDS, type Backend } from '../../helpers/shared-backends.js';
import { createTestApp, TEST_SECRET } from '../../helpers/test-app.js';

const b64 = (bytes: Buffer) => bytes.toString('base64url');
const sha = (text: string) => createHash('sha256').update(text).digest();
const hmac = (secret: string, label: string, text: string) => createHmac('sha256', secret).update(`${label}\0${text}`).digest();

/** What an attacker can compute for an address: the old unkeyed digest, and the keyed one for a given secret. */
const unkeyedEmail = (email: string) => b64(sha(`express-magic-link/email\0${email}`));
const keyedEmail = (secret: string, email: string) => b64(hmac(secret, 'email', email));
const unkeyedCode = (emailDigest: string, code: string) => b64(sha(`express-magic-link/code\0${emailDigest}\0${code}`).subarray(0, 8));
const keyedCode = (secret: string, emailDigest: string, code: string) => b64(hmac(secret, 'code', `${emailDigest}\0${code}`).subarray(0, 8));

for (const { name, start } of SHARED_BACKENDS)
  describe(`a stolen store dump (${name})`, function () {
    this.timeout(120_000);
    let backend: Backend;
    before(async () => {
      backend = await start();
    });
    after(() => backend?.stop());

    it('cross-device attempts: the dump holds no cookie secret, no address and no match number, and nothing from it collects', async () => {
      const { app } = createTestApp({ ...backend.options, secret: TEST_SECRET, crossDevice: true, verify: async (email) => ({ id: email, email }) });
      const askers = await Promise.all(
        ['asker@example.com', 'second@example.org'].map(async (email) => {
          const agent = request.agent(app);
          const res = await agent.post('/v1/auth/magic-link').send({ email });
          const cookie = /ml_attempt=([A-Za-z0-9_-]+)/.exec(String(res.headers['set-cookie']))![1]!;
          return { email, agent, cookie, match: (res.body as { data: { match: number } }).data.match };
        }),
      );
      const { dump } = await backend.dump();
      const fields = dump.split(/[\n|]/).map((field) => field.trim());
      for (const { email, cookie, match } of askers) {
        assert.ok(!dump.toLowerCase().includes(email), `${email} in clear`);
        assert.ok(!dump.includes(cookie.slice(14)), 'an attempt cookie secret is in the dump');
        assert.ok(!fields.includes(String(match)), `the match number ${match} is stored readable`);
      }
      // Whatever the dump holds in the cookie's place (the stored digests) collects nothing.
      const thief = request.agent(app);
      for (const { cookie } of askers) {
        for (const field of fields.filter((f) => /^[A-Za-z0-9_-]{20,}$/.test(f))) {
          const forged = (cookie.slice(0, 14) + field + 'A'.repeat(43)).slice(0, 57);
          const res = await thief.post('/v1/auth/attempt').set('Cookie', `ml_attempt=${forged}`).send({});
          assert.notEqual(res.status, 200, 'a forged attempt cookie signed in');
        }
      }
    });

    it('without the secret gives no address, no code and no token; with it, a live code and a sign-in', async () => {
      const events: MagicLinkEvent[] = [];
      const { app, outbox } = createTestApp({
        ...backend.options,
        secret: TEST_SECRET,
        trustProxy: 1,
        onEvent: (e) => void events.push(e),
        verify: async (email) => ({ id: email, email }),
      });
      const used = ['victim@example.com', 'ceo@corp.example', 'ada+news@gmail.com', 'signed.in@example.com', 'never.signed.in@example.org'];
      const ip = '203.0.113.77';
      for (const email of used) await request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email });
      // Sign-ins in flight: one redeemed link, one exchanged code, some wrong codes, the rest live.
      await request(app)
        .post('/v1/auth/verify')
        .set('X-Forwarded-For', ip)
        .send({ token: new URL(outbox[3]!.url).searchParams.get('token') });
      await request(app).post('/v1/auth/exchange').set('X-Forwarded-For', ip).send({ email: 'ceo@corp.example', code: '999999' });
      await new Promise((resolve) => setTimeout(resolve, 20));

      // The dump: every key and every value.
      const { dump, recordIds } = await backend.dump();
      const candidates = [...used, ...Array.from({ length: 200 }, (_, i) => `decoy${i}@example.com`)];
      const victim = 'victim@example.com';

      // 1. No address: neither in clear, nor as any digest the attacker can compute.
      for (const email of candidates) {
        assert.ok(!dump.toLowerCase().includes(email), `${email} in clear`);
        for (const digest of [unkeyedEmail(email), b64(sha(email)), b64(sha(`express-magic-link/mailbox\0${email}`))]) {
          assert.ok(!dump.includes(digest.slice(0, 12)), `an unkeyed digest of ${email} is in the dump`);
        }
      }
      assert.ok(!dump.includes(ip), 'the client IP is in the dump');
      // 2. No code: all 10^6 codes of the victim's address, as the unkeyed construction made them.
      assert.ok(recordIds.size >= 4, `record ids: ${recordIds.size}`);
      const unkeyed = unkeyedEmail(victim);
      for (let n = 0; n < 1_000_000; n++) assert.ok(!recordIds.has(unkeyedCode(unkeyed, String(n).padStart(6, '0'))), 'a code was found without the secret');
      // 3. No token: the mailed links are nowhere, not even their random part.
      for (const { url } of outbox) assert.ok(!dump.includes(new URL(url).searchParams.get('token')!.slice(14)), 'a token is in the dump');
      // 4. Events name no address either, by any digest computed without the secret.
      for (const event of events) {
        for (const email of candidates) assert.notEqual(event.emailDigest, unkeyedEmail(email));
        assert.ok(!event.ipKey.includes(ip));
      }

      // With the secret, the same dump names the victim and yields the live code, which signs in.
      const keyed = keyedEmail(TEST_SECRET, victim);
      assert.ok(dump.includes(keyed.slice(0, 12)), 'with the secret the address key is found');
      let found: string | undefined;
      for (let n = 0; n < 1_000_000 && !found; n++) {
        const code = String(n).padStart(6, '0');
        if (recordIds.has(keyedCode(TEST_SECRET, keyed, code))) found = code;
      }
      assert.equal(found, outbox[0]!.code, 'with the secret the live code is recovered');
      assert.equal((await request(app).post('/v1/auth/exchange').send({ email: victim, code: found })).status, 200);
      assert.ok(
        events.some((event) => event.emailDigest === keyed),
        'with the secret the events name the victim',
      );
    });
  });
