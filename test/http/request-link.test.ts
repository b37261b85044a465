import assert from 'node:assert/strict';
import session from 'express-session';
import request from 'supertest';
import { MemoryTokenStore, type TokenStore } from '../../src/index.js';
import { createTestApp, detailsOf, expectError, START } from '../helpers/test-app.js';

const post = (app: Parameters<typeof request>[0], body: unknown) =>
  request(app).post('/v1/auth/magic-link').set('Content-Type', 'application/json').send(JSON.stringify(body));

describe('POST /v1/auth/magic-link', () => {
  it('answers 202 with the documented data and mails one link', async () => {
    const { app, outbox } = createTestApp();
    const res = await post(app, { email: 'alice@example.com' });
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, {
      success: true,
      message: 'success',
      data: {
        email: 'alice@example.com',
        expires_at: new Date(START + 900_000).toISOString().replace('.000Z', 'Z'),
        expires_in: 900,
        sent_at: new Date(START).toISOString().replace('.000Z', 'Z'),
      },
    });
    assert.match(String(res.headers['x-request-id']), /^req_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(outbox.length, 1);
    assert.equal(outbox[0]!.to, 'alice@example.com');
    assert.equal(outbox[0]!.expiresAt.getTime(), START + 900_000);
    assert.match(outbox[0]!.url, /^http:\/\/app\.test\/auth\/magic-link\/confirm\?token=[A-Za-z0-9_-]{46}$/);
  });

  it('with sessions mounted app-wide, a link request writes no session and sets no cookie (nothing of the session cost is ours)', async () => {
    const sessionStore = new session.MemoryStore();
    const { app, outbox } = createTestApp({ sessionStore });
    for (const form of [false, true]) {
      const res = form
        ? await request(app).post('/v1/auth/magic-link').type('form').send({ email: 'alice@example.com' })
        : await post(app, { email: 'alice@example.com' });
      assert.equal(res.status, form ? 303 : 202);
      assert.equal(res.headers['set-cookie'], undefined);
    }
    const stored = await new Promise<number>((resolve, reject) => sessionStore.length((error, n) => (error ? reject(error) : resolve(n ?? 0))));
    assert.equal(stored, 0, 'sessions saved by link requests');
    assert.equal(outbox.length, 2);
  });

  it('gives the same answer for an address with and without an account', async () => {
    const { app, outbox } = createTestApp();
    const known = await post(app, { email: 'alice@example.com' });
    const unknown = await post(app, { email: 'nobody@example.com' });
    assert.equal(known.status, unknown.status);
    assert.deepEqual(Object.keys(known.body.data), Object.keys(unknown.body.data));
    assert.equal(known.body.data.expires_in, unknown.body.data.expires_in);
    assert.equal(outbox.length, 2, 'a link is mailed either way; accounts are looked up on redeem');
  });

  it('normalises the address: trimmed, NFC, lower-cased, IDN domain in ASCII', async () => {
    const { app, outbox } = createTestApp();
    await post(app, { email: '  Alice@Example.COM ' });
    await post(app, { email: 'jos\u0065\u0301@bücher.example' });
    assert.equal(outbox[0]!.to, 'alice@example.com');
    assert.equal(outbox[1]!.to, 'jos\u00e9@xn--bcher-kva.example');
  });

  it('issues a distinct 46-character token for every request', async () => {
    const { app, outbox, tokenOf } = createTestApp();
    for (let i = 0; i < 3; i++) await post(app, { email: 'alice@example.com' });
    const tokens = outbox.map((_, i) => tokenOf(i));
    assert.equal(new Set(tokens).size, 3);
    for (const token of tokens) assert.equal(token.length, 46);
    // One email's tokens share their hash-tag prefix (Redis Cluster slot); the rest is random.
    assert.equal(new Set(tokens.map((t) => t.slice(0, 3))).size, 1);
  });

  describe('bad bodies', () => {
    it('no body → invalid_request_body', async () => {
      const { app, outbox } = createTestApp();
      expectError(await request(app).post('/v1/auth/magic-link'), 'invalid_request_body');
      assert.equal(outbox.length, 0);
    });
    it('malformed JSON → invalid_request_body', async () => {
      const { app } = createTestApp();
      expectError(await request(app).post('/v1/auth/magic-link').set('Content-Type', 'application/json').send('{"email":'), 'invalid_request_body');
    });
    it('a JSON array or scalar → invalid_request_body', async () => {
      const { app } = createTestApp();
      expectError(await post(app, [{ email: 'alice@example.com' }]), 'invalid_request_body');
      expectError(await request(app).post('/v1/auth/magic-link').set('Content-Type', 'application/json').send('"alice@example.com"'), 'invalid_request_body');
      expectError(await request(app).post('/v1/auth/magic-link').set('Content-Type', 'application/json').send('null'), 'invalid_request_body');
    });
    it('a text body → invalid_request_body (a form body is a plain HTML form: see first-hour.test.ts)', async () => {
      const { app, outbox } = createTestApp();
      expectError(await request(app).post('/v1/auth/magic-link').set('Content-Type', 'text/plain').send('alice@example.com'), 'invalid_request_body');
      assert.equal(outbox.length, 0);
    });
    it('a body over 64 KiB → payload_too_large', async () => {
      const { app } = createTestApp();
      expectError(await post(app, { email: 'alice@example.com', pad: 'x'.repeat(65 * 1024) }), 'payload_too_large');
    });
    it('a body just under 64 KiB is read', async () => {
      const { app } = createTestApp();
      const res = await post(app, { email: 'alice@example.com', pad: 'x'.repeat(60 * 1024) });
      assert.equal(res.status, 202);
    });
  });

  describe('fields', () => {
    it('missing email → validation_error with a `missing` detail', async () => {
      const { app } = createTestApp();
      const res = await post(app, {});
      expectError(res, 'validation_error');
      assert.deepEqual(detailsOf(res), [{ loc: ['body', 'email'], msg: 'Field required', type: 'missing' }]);
    });
    for (const [name, value] of [
      ['a number', 42],
      ['an array', ['alice@example.com', 'eve@example.com']],
      ['an object', { address: 'alice@example.com' }],
      ['null', null],
      ['a boolean', true],
    ] as const) {
      it(`email as ${name} → validation_error string_type, without echoing the value`, async () => {
        const { app, outbox } = createTestApp();
        const res = await post(app, { email: value });
        expectError(res, 'validation_error');
        assert.deepEqual(detailsOf(res), [{ loc: ['body', 'email'], msg: 'Input should be a valid string', type: 'string_type' }]);
        assert.equal(outbox.length, 0);
      });
    }
    for (const bad of [
      '',
      'alice',
      'alice@',
      '@example.com',
      'a@b@example.com',
      'alice@localhost',
      'alice@exa mple.com',
      'al ice@example.com',
      'alice@example.com\r\nBcc: eve@example.com',
      'alice\u0000@example.com',
      'alice@-example.com',
      'alice..x@example.com',
      `${'a'.repeat(65)}@example.com`,
    ]) {
      it(`invalid address ${JSON.stringify(bad).slice(0, 40)} → invalid_email`, async () => {
        const { app, outbox } = createTestApp();
        const res = await post(app, { email: bad });
        expectError(res, 'invalid_email');
        assert.equal(detailsOf(res)[0]!.type, 'value_error');
        assert.equal(outbox.length, 0);
      });
    }
    it('an address over 254 octets → validation_error string_too_long', async () => {
      const { app } = createTestApp();
      const res = await post(app, { email: `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com` });
      expectError(res, 'validation_error');
      assert.equal(detailsOf(res)[0]!.type, 'string_too_long');
    });
    it('keys like __proto__ and constructor neither pollute nor break', async () => {
      const { app } = createTestApp();
      const res = await request(app)
        .post('/v1/auth/magic-link')
        .set('Content-Type', 'application/json')
        .send('{"email":"alice@example.com","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}');
      assert.equal(res.status, 202);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
    it('a __proto__ email does not count as the email field', async () => {
      const { app } = createTestApp();
      const res = await request(app).post('/v1/auth/magic-link').set('Content-Type', 'application/json').send('{"__proto__":{"email":"alice@example.com"}}');
      expectError(res, 'validation_error');
    });
  });

  describe('redirect', () => {
    it('a same-origin path is accepted and carried by the link', async () => {
      const { app } = createTestApp();
      assert.equal((await post(app, { email: 'alice@example.com', redirect: '/settings?tab=1' })).status, 202);
    });
    for (const bad of [
      '//evil.example',
      'https://evil.example/',
      '/\\evil.example',
      '\\\\evil.example',
      'settings',
      '/ok\r\nSet-Cookie: x',
      '/\u0000',
      'javascript:alert(1)',
      '/\t/evil.example',
      // Regression: these normalise to `//x`, protocol-relative once any later hop redirects to the path.
      '/.//evil.example',
      '/..//evil.example',
      '/a/..//evil.example',
      '/%2F/evil.example',
    ]) {
      it(`${JSON.stringify(bad)} → validation_error`, async () => {
        const { app, outbox } = createTestApp();
        const res = await post(app, { email: 'alice@example.com', redirect: bad });
        expectError(res, 'validation_error');
        assert.deepEqual(detailsOf(res)[0]!.loc, ['body', 'redirect']);
        assert.equal(outbox.length, 0);
      });
    }
    // Regression: `{"email": 42, "redirect": "//evil"}` got one `details` entry; the contract is one per failing field.
    it('every failing field gets its own details entry', async () => {
      const { app } = createTestApp();
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ email: 42, redirect: '//evil' }, ['string_type', 'value_error']],
        [{ email: 'not an address', redirect: '//evil' }, ['value_error', 'value_error']],
        [{ redirect: 5 }, ['missing', 'string_type']],
      ];
      for (const [body, types] of cases) {
        const res = await post(app, body);
        expectError(res, 'validation_error');
        assert.deepEqual(
          detailsOf(res).map((issue) => [(issue.loc as string[]).join('.'), issue.type]),
          [
            ['body.email', types[0]],
            ['body.redirect', types[1]],
          ],
          JSON.stringify(body),
        );
      }
    });
    it('a non-string redirect → validation_error string_type', async () => {
      const { app } = createTestApp();
      const res = await post(app, { email: 'alice@example.com', redirect: 5 });
      expectError(res, 'validation_error');
      assert.equal(detailsOf(res)[0]!.type, 'string_type');
    });
  });

  describe('code collisions', () => {
    /** A memory store whose save answers "id taken" while `refusals` lasts, as it would on a collision. */
    function refusingStore(refusals: { left: number }): TokenStore & { saves: number } {
      const inner = new MemoryTokenStore();
      const store = {
        saves: 0,
        save: async (...args: Parameters<TokenStore['save']>) => {
          store.saves++;
          if (refusals.left-- > 0) return false;
          return inner.save(...args);
        },
        peek: inner.peek.bind(inner),
        redeem: inner.redeem.bind(inner),
        exchange: inner.exchange.bind(inner),
        delete: inner.delete.bind(inner),
      };
      return store;
    }

    it('a refused code is redrawn: the mail carries the code and link that were stored, and both work', async () => {
      const store = refusingStore({ left: 3 });
      const { app, outbox, tokenOf, codeOf } = createTestApp({ store });
      assert.equal((await post(app, { email: 'alice@example.com' })).status, 202);
      assert.equal(store.saves, 4);
      assert.equal(outbox.length, 1);
      const exchange = await request(app).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: codeOf() });
      assert.equal(exchange.status, 200, JSON.stringify(exchange.body));
      assert.equal(await post(app, { email: 'alice@example.com' }).then((r) => r.status), 202);
      const verify = await request(app).post('/v1/auth/verify').send({ token: tokenOf() });
      assert.equal(verify.status, 200, JSON.stringify(verify.body));
    });

    it('a store that refuses every draw → service_unavailable, no mail, and the email point refunded', async () => {
      const refusals = { left: Number.POSITIVE_INFINITY };
      const { app, outbox } = createTestApp({ store: refusingStore(refusals), limits: { linkRequestsPerEmail: 1 } });
      expectError(await post(app, { email: 'alice@example.com' }), 'service_unavailable', 5);
      assert.equal(outbox.length, 0);
      refusals.left = 0;
      // Budget of one: the refund is what lets this request through.
      assert.equal((await post(app, { email: 'alice@example.com' })).status, 202);
    });
  });

  describe('mailer failures', () => {
    it('a throwing mailer → email_delivery_failed, the link is void and the email point refunded', async () => {
      let fail = true;
      const sent: string[] = [];
      const { app, magicLink } = createTestApp({
        limits: { linkRequestsPerEmail: 1 },
        mailer: {
          send: async (m) => {
            if (fail) throw new Error('SMTP down');
            sent.push(m.url);
          },
        },
      });
      expectError(await post(app, { email: 'alice@example.com' }), 'email_delivery_failed');
      assert.equal((magicLink.store as unknown as { size: number }).size, 0, 'the token was deleted');
      fail = false;
      // Budget of one: the refund is what lets this request through.
      assert.equal((await post(app, { email: 'alice@example.com' })).status, 202);
      assert.equal(sent.length, 1);
    });
    // Regression: a timed-out mail may still be delivered, so its point is not given back; a
    // rejection (the provider did not take it) is.
    it('a mailer slower than mailTimeoutMs → the link is void, and the email point is not given back', async () => {
      let slow = true;
      const { app } = createTestApp({
        mailTimeoutMs: 50,
        limits: { linkRequestsPerEmail: 1 },
        mailer: { send: () => (slow ? new Promise<void>((resolve) => setTimeout(resolve, 300).unref()) : Promise.resolve()) },
      });
      expectError(await post(app, { email: 'alice@example.com' }), 'email_delivery_failed');
      slow = false;
      expectError(await post(app, { email: 'alice@example.com' }), 'magic_link_email_limit_exceeded', 3600);
    });
    it('a mailer slower than mailTimeoutMs → email_delivery_failed, without waiting for it', async () => {
      const { app, magicLink } = createTestApp({
        mailTimeoutMs: 50,
        mailer: { send: () => new Promise((resolve) => setTimeout(resolve, 2_000).unref()) },
      });
      const started = Date.now();
      expectError(await post(app, { email: 'alice@example.com' }), 'email_delivery_failed');
      assert.ok(Date.now() - started < 1_000);
      assert.equal((magicLink.store as unknown as { size: number }).size, 0);
    });
    it('the mail error is reported to onError and never shown to the caller', async () => {
      const { app, reported } = createTestApp({ mailer: { send: async () => Promise.reject(new Error('secret SMTP password wrong')) } });
      const res = await post(app, { email: 'alice@example.com' });
      expectError(res, 'email_delivery_failed');
      assert.doesNotMatch(res.text, /SMTP/);
      assert.equal(reported.length, 1);
    });
  });
});
