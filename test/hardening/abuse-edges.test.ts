// Regressions for attacks that worked against the limits (abuse issue, items 2, 5 and 6): each test
// plays the attacker within the documented limits and counts what got through.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import request from 'supertest';
import { createTestApp, expectError, type TestApp } from '../helpers/test-app.js';

type App = TestApp['app'];
const link = (app: App, email: string, ip: string) => request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email });
const guess = (app: App, email: string, code: string, ip: string) => request(app).post('/v1/auth/exchange').set('X-Forwarded-For', ip).send({ email, code });
/** The n-th /64 of one /48. */
const inOne48 = (n: number) => `2001:db8:77:${n.toString(16)}::1`;

describe('abuse at the edges', () => {
  describe('code guessing from one IPv6 /48 (its 65,536 /64s each had a fresh budget)', () => {
    it('wrong codes are budgeted on the /48 too: at most 10 × the per-IP budget from all its /64s', async () => {
      const { app } = createTestApp({ trustProxy: 1, limits: { failedExchangesPerIp: 2, failedExchangesPerEmail: 1_000_000 } });
      const statuses: number[] = [];
      for (let n = 0; n < 30; n++) statuses.push((await guess(app, `victim${n}@example.com`, '000000', inOne48(n))).status);
      assert.equal(statuses.filter((s) => s === 401).length, 20, 'evaluated: the /48 budget (2 × 10)');
      assert.equal(statuses.filter((s) => s === 429).length, 10);
      // Another /48 is not affected.
      assert.equal((await guess(app, 'victim@example.com', '000000', '2001:db8:78::1')).status, 401);
    });

    it('link requests are budgeted on the /48 too', async () => {
      const { app, outbox } = createTestApp({ trustProxy: 1, limits: { linkRequestsPerIp: 1 } });
      for (let n = 0; n < 15; n++) await link(app, `user${n}@example.com`, inOne48(n));
      assert.equal(outbox.length, 10);
    });
  });

  describe('code guessing from many IPv4 hosts', () => {
    it('an app-wide budget bounds the wrong codes evaluated, whatever the number of hosts', async () => {
      const { app, codeOf } = createTestApp({ trustProxy: 1, limits: { failedExchangesTotal: 25 } });
      await link(app, 'victim@example.com', '192.0.2.1');
      const statuses: number[] = [];
      for (let host = 0; host < 40; host++) statuses.push((await guess(app, `someone${host}@example.com`, '000000', `198.51.100.${host}`)).status);
      assert.equal(statuses.filter((s) => s === 401).length, 25);
      // While it is spent even a right code waits (links keep working).
      expectError(await guess(app, 'victim@example.com', codeOf(), '192.0.2.1'), 'exchange_code_attempt_limit_exceeded', 'any');
    });

    it('the README arithmetic holds at the defaults: expected takeovers per hour ≤ 0.01', () => {
      // Every evaluated wrong code takes a point of the app-wide budget (1000 per hour); each is
      // tried against at most linkRequestsPerEmail (5) live codes of one address, out of 10^6.
      const perHour = 1000 * 5 * 1e-6;
      assert.ok(perHour <= 0.01);
      // One /48 alone, before the app-wide budget: 10 × 10 wrong codes per hour.
      assert.ok(100 * 5 * 1e-6 <= 0.01);
    });
  });

  describe('the confirm page as a token oracle (a token missing 2 characters was completed in seconds)', () => {
    it('unknown tokens on the page count against the failed-verify budget; then the page is refused', async () => {
      const { app, tokenOf } = createTestApp({ trustProxy: 1, limits: { failedVerifiesPerIp: 5 } });
      await link(app, 'alice@example.com', '192.0.2.1');
      const real = tokenOf();
      const statuses: number[] = [];
      // Ten wrong last characters: never the real one (which would be the live link, 200).
      for (const c of [...'ABCDEFGHIJK'].filter((c) => c !== real.at(-1)).slice(0, 10))
        statuses.push(
          (
            await request(app)
              .get(`/auth/magic-link/confirm?token=${real.slice(0, -1)}${c}`)
              .set('X-Forwarded-For', '203.0.113.9')
          ).status,
        );
      assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
      assert.ok(
        statuses.slice(5).every((s) => s === 429),
        statuses.join(','),
      );
      // Valid links do not spend the budget, and other clients are unaffected.
      for (let i = 0; i < 10; i++)
        assert.equal((await request(app).get(`/auth/magic-link/confirm?token=${real}`).set('X-Forwarded-For', '192.0.2.1')).status, 200);
    });
  });

  describe('forwarded addresses (each junk value became a budget of its own)', () => {
    for (const [name, forms] of [
      ['a port', ['192.0.2.13', '192.0.2.13:4444', '192.0.2.13:1']],
      ['brackets', ['2001:db8::1', '[2001:db8::1]', '[2001:db8::1]:443']],
    ] as const) {
      it(`${name}: one client, one budget`, async () => {
        const { app } = createTestApp({ trustProxy: 1, limits: { linkRequestsPerIp: 1 } });
        const statuses: number[] = [];
        for (const [i, ip] of forms.entries()) statuses.push((await link(app, `u${i}@example.com`, ip)).status);
        assert.deepEqual(statuses, [202, 429, 429]);
      });
    }

    it('junk, leading zeros and 8,000 characters fall back to the socket address: 30 junk values, one budget', async () => {
      const { app } = createTestApp({ trustProxy: 1, limits: { linkRequestsPerIp: 1 } });
      const junk = ['192.000.002.012', 'x'.repeat(8_000), 'unknown', '::ffff:zzzz', 'localhost', ...Array.from({ length: 25 }, (_, i) => `junk-${i}`)];
      const statuses: number[] = [];
      for (const [i, value] of junk.entries()) statuses.push((await link(app, `j${i}@example.com`, value)).status);
      assert.equal(statuses.filter((s) => s === 202).length, 1);
    });

    it('warns once, with stable codes, about trust proxy true and about X-Forwarded-For ignored', () => {
      // A process of its own: warnings are once per process.
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/proxy-warnings.ts'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').at(-1)!), ['EXPRESS_MAGIC_LINK_TRUST_PROXY_TRUE', 'EXPRESS_MAGIC_LINK_FORWARDED_IGNORED']);
    });
  });
});
