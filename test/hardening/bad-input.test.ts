// Every bad body and field on every JSON endpoint: a clear 4xx envelope, no mail, no store call.
import assert from 'node:assert/strict';
import request from 'supertest';
import { createTestApp, detailsOf, expectError } from '../helpers/test-app.js';
import { createSpyStore } from '../helpers/spy-store.js';
import type { ErrorCode } from '../../src/index.js';

const ENDPOINTS = [
  { path: '/v1/auth/magic-link', field: 'email', valid: 'alice@example.com' },
  { path: '/v1/auth/verify', field: 'token', valid: 'A'.repeat(46) },
  { path: '/v1/auth/exchange', field: 'code', valid: '123456' },
] as const;

/** The other fields a body needs, so only the field under test is wrong. */
const companion = (field: string): Record<string, string> => (field === 'code' ? { email: 'alice@example.com' } : {});

const BAD_BODIES: Array<[string, string | undefined, string | undefined, ErrorCode]> = [
  ['malformed JSON', 'application/json', '{"email": "a@b.co"', 'invalid_request_body'],
  ['an empty body', 'application/json', '', 'invalid_request_body'],
  ['no body and no content type', undefined, undefined, 'invalid_request_body'],
  ['a JSON array', 'application/json', '[{"email":"a@b.co","token":"x"}]', 'invalid_request_body'],
  ['a JSON number', 'application/json', '42', 'invalid_request_body'],
  ['a JSON string', 'application/json', '"alice@example.com"', 'invalid_request_body'],
  ['JSON true', 'application/json', 'true', 'invalid_request_body'],
  ['JSON null', 'application/json', 'null', 'invalid_request_body'],
  ['a form body', 'application/x-www-form-urlencoded', 'email=alice%40example.com&token=x', 'invalid_request_body'],
  ['a text body', 'text/plain', 'alice@example.com', 'invalid_request_body'],
  ['a multipart body', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na@b.co\r\n--x--', 'invalid_request_body'],
  ['JSON in an unsupported charset', 'application/json; charset=utf-16', '{"email":"a@b.co"}', 'invalid_request_body'],
  ['a body over 64 KiB', 'application/json', JSON.stringify({ email: 'a@b.co', token: 'x', pad: 'x'.repeat(64 * 1024) }), 'payload_too_large'],
];

const WRONG_TYPES: Array<[string, unknown]> = [
  ['a number', 1],
  ['an array of addresses (one becomes many)', ['alice@example.com', 'eve@example.com']],
  ['an object', { value: 'alice@example.com' }],
  ['null', null],
  ['a boolean', false],
];

for (const endpoint of ENDPOINTS) {
  describe(`bad input on POST ${endpoint.path}`, () => {
    for (const [name, type, body, code] of BAD_BODIES) {
      // A link request may come from a plain HTML form: answered with a redirect (first-hour.test.ts).
      if (endpoint.path === '/v1/auth/magic-link' && name === 'a form body') continue;
      it(`${name} → ${code}, no mail, no store call`, async () => {
        const store = createSpyStore();
        const { app, outbox } = createTestApp({ store });
        const req = request(app).post(endpoint.path);
        if (type) req.set('Content-Type', type);
        expectError(await (body === undefined ? req : req.send(body)), code);
        assert.equal(outbox.length, 0);
        assert.equal(store.total(), 0);
      });
    }
    for (const [name, value] of WRONG_TYPES) {
      it(`\`${endpoint.field}\` as ${name} → validation_error string_type without echoing it`, async () => {
        const store = createSpyStore();
        const { app, outbox } = createTestApp({ store });
        const res = await request(app)
          .post(endpoint.path)
          .send({ ...companion(endpoint.field), [endpoint.field]: value });
        expectError(res, 'validation_error');
        assert.deepEqual(detailsOf(res), [{ loc: ['body', endpoint.field], msg: 'Input should be a valid string', type: 'string_type' }]);
        assert.equal(outbox.length, 0);
        assert.equal(store.total(), 0);
      });
    }
    it(`\`${endpoint.field}\` missing → validation_error missing`, async () => {
      const { app } = createTestApp();
      const res = await request(app)
        .post(endpoint.path)
        .send({ ...companion(endpoint.field), other: endpoint.valid });
      expectError(res, 'validation_error');
      assert.deepEqual(detailsOf(res), [{ loc: ['body', endpoint.field], msg: 'Field required', type: 'missing' }]);
    });
    it('__proto__ and constructor keys pollute nothing and change no answer', async () => {
      const plain = await request(createTestApp().app)
        .post(endpoint.path)
        .send({ ...companion(endpoint.field), [endpoint.field]: endpoint.valid });
      const polluted = await request(createTestApp().app)
        .post(endpoint.path)
        .set('Content-Type', 'application/json')
        .send(
          JSON.stringify({ ...companion(endpoint.field), [endpoint.field]: endpoint.valid }).replace(
            /}$/,
            ',"__proto__":{"isAdmin":true},"constructor":{"prototype":{"isAdmin":true}}}',
          ),
        );
      // The same answer as without the extra keys: they were neither read nor rejected.
      assert.equal(polluted.status, plain.status, polluted.text);
      assert.equal(polluted.body.error, plain.body.error);
      assert.equal(polluted.body.isAdmin, undefined);
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
      assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'isAdmin'), false);
    });
  });
}

describe('bad email addresses', () => {
  const invalid: Array<[string, string]> = [
    ['CR/LF header injection', 'alice@example.com\r\nBcc: eve@example.com'],
    ['a bare LF', 'alice@example.com\nx'],
    ['a NUL byte', 'alice\u0000@example.com'],
    ['a tab inside', 'ali\tce@example.com'],
    ['a DEL character', 'alice\u007f@example.com'],
    ['a C1 control', 'alice\u0085@example.com'],
    ['a line separator', 'alice\u2028@example.com'],
    ['two @', 'alice@evil.example@example.com'],
    ['no dot in the domain', 'alice@example'],
    ['a local part over 64 octets', `${'a'.repeat(65)}@example.com`],
    ['a local part over 64 octets in multi-byte characters', `${'é'.repeat(33)}@example.com`],
    ['a domain label over 63 characters', `alice@${'a'.repeat(64)}.com`],
    ['an IP literal', 'alice@[127.0.0.1]'],
    ['a quoted local part', '"alice smith"@example.com'],
    ['an empty local part', '@example.com'],
    ['a numeric top-level domain', 'alice@example.123'],
  ];
  for (const [name, email] of invalid) {
    it(`${name} → invalid_email, no mail`, async () => {
      const { app, outbox } = createTestApp();
      const res = await request(app).post('/v1/auth/magic-link').send({ email });
      expectError(res, 'invalid_email');
      assert.deepEqual(detailsOf(res), [{ loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' }]);
      assert.equal(outbox.length, 0);
    });
  }

  it('over 254 octets → validation_error string_too_long, no mail', async () => {
    const { app, outbox } = createTestApp();
    // 226 characters but 256 octets: the limit is on octets.
    const email = `${'é'.repeat(30)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`;
    const res = await request(app).post('/v1/auth/magic-link').send({ email });
    expectError(res, 'validation_error');
    assert.deepEqual(detailsOf(res), [{ loc: ['body', 'email'], msg: 'String should have at most 254 characters', type: 'string_too_long' }]);
    assert.equal(outbox.length, 0);
  });

  it('leading and trailing spaces are trimmed', async () => {
    const { app, outbox } = createTestApp();
    const res = await request(app).post('/v1/auth/magic-link').send({ email: ' \t alice@example.com \n' });
    assert.equal(res.status, 202);
    assert.equal(res.body.data.email, 'alice@example.com');
    assert.equal(outbox[0]!.to, 'alice@example.com');
  });

  it('internationalised domains are accepted and keyed by their ASCII form', async () => {
    const { app, outbox } = createTestApp({ limits: { linkRequestsPerEmail: 1 } });
    const res = await request(app).post('/v1/auth/magic-link').send({ email: 'anna@Bücher.example' });
    assert.equal(res.status, 202);
    assert.equal(outbox[0]!.to, 'anna@xn--bcher-kva.example');
    // The punycode spelling is the same address, with the same budget.
    expectError(await request(app).post('/v1/auth/magic-link').send({ email: 'anna@xn--bcher-kva.example' }), 'magic_link_email_limit_exceeded', 3600);
  });
});

describe('bad tokens', () => {
  const shapes: Array<[string, string]> = [
    ['too short', 'A'.repeat(42)],
    ['too long', 'A'.repeat(44)],
    ['standard base64 characters', `${'A'.repeat(41)}+/`],
    ['padding', `${'A'.repeat(42)}=`],
    ['spaces', `${'A'.repeat(21)} ${'A'.repeat(21)}`],
    ['non-ASCII', `${'A'.repeat(42)}é`],
    ['empty', ''],
  ];
  for (const [name, token] of shapes) {
    it(`a token with ${name} → magic_link_not_found without touching the store`, async () => {
      const store = createSpyStore();
      const { app } = createTestApp({ store });
      expectError(await request(app).post('/v1/auth/verify').send({ token }), 'magic_link_not_found');
      const page = await request(app).get(`/auth/magic-link/confirm?token=${encodeURIComponent(token)}`);
      assert.equal(page.status, 401);
      assert.equal(store.total(), 0);
    });
  }
  it('a token over 512 characters → validation_error string_too_long, never echoed', async () => {
    const { app } = createTestApp();
    const res = await request(app)
      .post('/v1/auth/verify')
      .send({ token: 'A'.repeat(600) });
    expectError(res, 'validation_error');
    assert.deepEqual(detailsOf(res), [{ loc: ['body', 'token'], msg: 'String should have at most 512 characters', type: 'string_too_long' }]);
  });
});
