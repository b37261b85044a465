import assert from 'node:assert/strict';
import request from 'supertest';
import { createTestApp, expectError } from '../helpers/test-app.js';

type App = Parameters<typeof request>[0];
const requestLink = (app: App, email: string, ip?: string) => {
  const req = request(app).post('/v1/auth/magic-link');
  if (ip) req.set('X-Forwarded-For', ip);
  return req.send({ email });
};

describe('rate limits', () => {
  describe('per email', () => {
    it('5 per hour by default, then 429 with retry_after 3600 and the seconds left after that', async function () {
      this.timeout(10_000);
      const { app, outbox } = createTestApp({ trustProxy: true });
      for (let i = 1; i <= 5; i++) assert.equal((await requestLink(app, 'alice@example.com', `10.0.0.${i}`)).status, 202);
      const first = await requestLink(app, 'alice@example.com', '10.0.1.1');
      expectError(first, 'magic_link_email_limit_exceeded', 3600);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const later = await requestLink(app, 'alice@example.com', '10.0.1.2');
      expectError(later, 'magic_link_email_limit_exceeded', 'any');
      assert.ok(later.body.retry_after < 3600 && later.body.retry_after >= 3595, `retry_after ${later.body.retry_after}`);
      assert.equal(outbox.length, 5);
    });

    it("can't be dodged with case, spaces or a trailing dot in the domain", async () => {
      const { app, outbox } = createTestApp({ trustProxy: true, limits: { linkRequestsPerEmail: 3 } });
      const variants = ['alice@example.com', ' ALICE@example.com ', 'Alice@Example.Com.', 'alice@EXAMPLE.com'];
      const statuses = [];
      for (const [i, email] of variants.entries()) statuses.push((await requestLink(app, email, `10.0.0.${i}`)).status);
      assert.deepEqual(statuses, [202, 202, 202, 429]);
      assert.equal(outbox.length, 3);
    });

    it('sub-addresses are different addresses, each mailed as itself, but share their mailbox budget', async () => {
      const { app, outbox } = createTestApp({ trustProxy: true, limits: { linkRequestsPerEmail: 2 } });
      assert.equal((await requestLink(app, 'a+x@d.com', '10.0.0.1')).status, 202);
      assert.equal((await requestLink(app, 'a+y@d.com', '10.0.0.2')).status, 202);
      assert.deepEqual(
        outbox.map((m) => m.to),
        ['a+x@d.com', 'a+y@d.com'],
      );
      expectError(await requestLink(app, 'a+z@d.com', '10.0.0.3'), 'magic_link_email_limit_exceeded', 3600);
      expectError(await requestLink(app, 'a@d.com', '10.0.0.4'), 'magic_link_email_limit_exceeded', 'any');
      assert.equal((await requestLink(app, 'b+x@d.com', '10.0.0.5')).status, 202, 'another mailbox has its own budget');
    });

    // Regression: +tags, Gmail dots and googlemail.com each had a fresh budget: one inbox got
    // 3,000 mails in 30 s from 150 /64s of one /48 against a budget of 5 per hour.
    it('mail bombing through aliases: one Gmail inbox gets at most the per-email budget, from any number of addresses', async () => {
      const { app, outbox } = createTestApp({ trustProxy: true });
      const aliases = ['victim@gmail.com', 'v.ictim@gmail.com', 'vi.ct.im+1@gmail.com', 'victim+2@googlemail.com', 'V.I.C.T.I.M@GoogleMail.com'];
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        const ip = `2001:db8:77:${(i + 1).toString(16)}::1`;
        statuses.push((await requestLink(app, aliases[i % aliases.length]!, ip)).status);
      }
      assert.equal(statuses.filter((s) => s === 202).length, 5);
      assert.equal(outbox.length, 5);
    });
  });

  describe('per IP', () => {
    it('20 per hour by default, then magic_link_ip_limit_exceeded with retry_after 3600', async () => {
      const { app } = createTestApp();
      for (let i = 0; i < 20; i++) assert.equal((await requestLink(app, `user${i}@example.com`)).status, 202);
      expectError(await requestLink(app, 'another@example.com'), 'magic_link_ip_limit_exceeded', 3600);
    });

    it('is checked first: a request refused for its IP does not spend the email budget', async () => {
      const { app } = createTestApp({ trustProxy: true, limits: { linkRequestsPerIp: 1, linkRequestsPerEmail: 2 } });
      assert.equal((await requestLink(app, 'x@example.com', '10.0.0.1')).status, 202);
      for (let i = 0; i < 5; i++) expectError(await requestLink(app, 'alice@example.com', '10.0.0.1'), 'magic_link_ip_limit_exceeded', 'any');
      // alice's budget of 2 is untouched by the five refusals above.
      assert.equal((await requestLink(app, 'alice@example.com', '10.0.0.2')).status, 202);
      assert.equal((await requestLink(app, 'alice@example.com', '10.0.0.3')).status, 202);
      expectError(await requestLink(app, 'alice@example.com', '10.0.0.4'), 'magic_link_email_limit_exceeded', 3600);
    });

    it('ignores a forged X-Forwarded-For unless trust proxy is set', async () => {
      const { app } = createTestApp({ limits: { linkRequestsPerIp: 2 } });
      assert.equal((await requestLink(app, 'a@example.com', '1.1.1.1')).status, 202);
      assert.equal((await requestLink(app, 'b@example.com', '2.2.2.2')).status, 202);
      expectError(await requestLink(app, 'c@example.com', '3.3.3.3'), 'magic_link_ip_limit_exceeded', 3600);
    });

    it('folds IPv4-mapped IPv6 into IPv4, and keys IPv6 by its /64', async () => {
      const { app } = createTestApp({ trustProxy: true, limits: { linkRequestsPerIp: 2 } });
      assert.equal((await requestLink(app, 'a@example.com', '203.0.113.7')).status, 202);
      assert.equal((await requestLink(app, 'b@example.com', '::ffff:203.0.113.7')).status, 202);
      expectError(await requestLink(app, 'c@example.com', '::ffff:cb00:7107'), 'magic_link_ip_limit_exceeded', 3600);

      assert.equal((await requestLink(app, 'd@example.com', '2001:db8:1:2::1')).status, 202);
      assert.equal((await requestLink(app, 'e@example.com', '2001:db8:1:2:ffff:0:0:9')).status, 202);
      expectError(await requestLink(app, 'f@example.com', '2001:0db8:0001:0002:abcd::42'), 'magic_link_ip_limit_exceeded', 3600);
      assert.equal((await requestLink(app, 'g@example.com', '2001:db8:1:3::1')).status, 202, 'the next /64 is another client');
    });

    it('the IPv6 subnet size is an option', async () => {
      const { app } = createTestApp({ trustProxy: true, ipv6SubnetBits: 48, limits: { linkRequestsPerIp: 1 } });
      assert.equal((await requestLink(app, 'a@example.com', '2001:db8:1:2::1')).status, 202);
      expectError(await requestLink(app, 'b@example.com', '2001:db8:1:ffff::1'), 'magic_link_ip_limit_exceeded', 3600);
    });
  });

  describe('failed verifies per IP', () => {
    const verify = (app: App, token: string, ip = '10.9.9.9') => request(app).post('/v1/auth/verify').set('X-Forwarded-For', ip).send({ token });

    it('counts unknown, expired and used tokens; refuses with 429 and then even a valid token', async () => {
      const { app, tokenOf } = createTestApp({ trustProxy: true, limits: { failedVerifiesPerIp: 3 } });
      await requestLink(app, 'alice@example.com', '10.0.0.1');
      const valid = tokenOf();
      const unknown = `${valid.slice(0, 3)}${'A'.repeat(40)}`;
      for (let i = 0; i < 3; i++) expectError(await verify(app, unknown), 'magic_link_not_found');
      expectError(await verify(app, unknown), 'magic_link_ip_limit_exceeded', 3600);
      expectError(await verify(app, valid), 'magic_link_ip_limit_exceeded', 'any');
      // Another address is not affected, and the valid token was not burnt by the refusal.
      assert.equal((await verify(app, valid, '10.8.8.8')).status, 200);
    });

    it('successful verifies do not count', async () => {
      const { app, tokenOf } = createTestApp({ trustProxy: true, limits: { failedVerifiesPerIp: 1, linkRequestsPerEmail: 10 } });
      for (let i = 0; i < 4; i++) {
        await requestLink(app, 'alice@example.com', `10.0.0.${i}`);
        assert.equal((await verify(app, tokenOf())).status, 200);
      }
    });
  });
});
