// Abuse patterns: probing which addresses have accounts, and dodging the limits.
import assert from 'node:assert/strict';
import request from 'supertest';
import { createTestApp, expectError } from '../helpers/test-app.js';

const link = (app: Parameters<typeof request>[0], email: string, ip?: string) => {
  const req = request(app).post('/v1/auth/magic-link');
  if (ip) req.set('X-Forwarded-For', ip);
  return req.send({ email });
};

function normalised(text: string): string {
  return text.replace(/"request_id":"[^"]+"/, '"request_id":"-"').replace(/"timestamp":"[^"]+"/, '"timestamp":"-"');
}

describe('abuse: account enumeration', () => {
  it('the answer is byte-identical for a known and an unknown address (but for ids and times)', async () => {
    let lookups = 0;
    const { app, users } = createTestApp({
      verify: async (email) => {
        lookups++;
        return users.get(email) ?? false;
      },
    });
    const known = await link(app, 'alice@example.com');
    const unknown = await link(app, 'nobody@example.com');
    // Same length addresses, so the echoed `email` is the only difference and it is the caller's own input.
    assert.equal(known.status, unknown.status);
    assert.equal(normalised(known.text).replace('alice', 'X'), normalised(unknown.text).replace('nobody', 'X'));
    const headerNames = (res: request.Response) =>
      Object.keys(res.headers)
        .filter((h) => !['date', 'x-request-id', 'etag', 'content-length'].includes(h))
        .sort();
    assert.deepEqual(headerNames(known), headerNames(unknown));
    assert.equal(lookups, 0, 'no account is looked up when a link is requested');
  });

  it('and equally fast: no account lookup happens, so timings overlap', async () => {
    const { app } = createTestApp({ limits: { linkRequestsPerIp: 10_000, linkRequestsPerEmail: 10_000 } });
    const median = async (email: string) => {
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const started = process.hrtime.bigint();
        await link(app, email);
        times.push(Number(process.hrtime.bigint() - started));
      }
      return times.sort((a, b) => a - b)[15]!;
    };
    await median('warm@example.com');
    const known = await median('alice@example.com');
    const unknown = await median('nobody@example.com');
    const ratio = known / unknown;
    assert.ok(ratio > 0.5 && ratio < 2, `known/unknown median ratio ${ratio.toFixed(2)}`);
  });
});

describe('abuse: dodging the limits', () => {
  it('per-email: case, spaces, a trailing dot, NFC forms and IDN spellings are one address', async () => {
    const { app } = createTestApp({ trustProxy: true, limits: { linkRequestsPerEmail: 1 } });
    assert.equal((await link(app, 'josé@bücher.example', '10.0.0.1')).status, 202);
    for (const [i, variant] of [' JOSÉ@BÜCHER.EXAMPLE ', 'jose\u0301@bücher.example', 'josé@bücher.example.', 'josé@xn--bcher-kva.example'].entries()) {
      expectError(await link(app, variant, `10.0.1.${i}`), 'magic_link_email_limit_exceeded', 'any');
    }
  });

  it('per-IP: IPv4-mapped IPv6 and other addresses in the same /64 are one client', async () => {
    const { app } = createTestApp({ trustProxy: true, limits: { linkRequestsPerIp: 1 } });
    assert.equal((await link(app, 'a@example.com', '192.0.2.1')).status, 202);
    expectError(await link(app, 'b@example.com', '::ffff:192.0.2.1'), 'magic_link_ip_limit_exceeded', 'any');
    assert.equal((await link(app, 'c@example.com', '2001:db8:aa:bb::1')).status, 202);
    expectError(await link(app, 'd@example.com', '2001:db8:aa:bb:1:2:3:4'), 'magic_link_ip_limit_exceeded', 'any');
  });

  it('a forged X-Forwarded-For changes nothing unless trust proxy is set', async () => {
    const { app } = createTestApp({ limits: { linkRequestsPerIp: 1 } });
    assert.equal((await link(app, 'a@example.com', '198.51.100.1')).status, 202);
    expectError(await link(app, 'b@example.com', '198.51.100.2'), 'magic_link_ip_limit_exceeded', 'any');
  });

  it('failed verifies from one IP are limited even when a valid token follows', async () => {
    const { app, tokenOf } = createTestApp({ limits: { failedVerifiesPerIp: 2 } });
    await link(app, 'alice@example.com');
    const valid = tokenOf();
    for (let i = 0; i < 2; i++)
      expectError(
        await request(app)
          .post('/v1/auth/verify')
          .send({ token: 'B'.repeat(46) }),
        'magic_link_not_found',
      );
    expectError(
      await request(app)
        .post('/v1/auth/verify')
        .send({ token: 'C'.repeat(46) }),
      'magic_link_ip_limit_exceeded',
      3600,
    );
    expectError(await request(app).post('/v1/auth/verify').send({ token: valid }), 'magic_link_ip_limit_exceeded', 'any');
    // The confirm page itself is refused to a blocked client: it is no oracle either.
    const page = await request(app).get(`/auth/magic-link/confirm?token=${valid}`);
    assert.equal(page.status, 429);
    assert.match(page.text, /Too many sign-in attempts/);
    assert.ok(Number(page.headers['retry-after']) > 0);
  });
});
