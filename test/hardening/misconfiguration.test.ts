import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { errorHandler, MagicLink, type MagicLinkOptions } from '../../src/index.js';
import { createTestApp, expectError } from '../helpers/test-app.js';

const mailer = { send: async () => undefined };
const base = { baseUrl: 'https://app.example.com', mailer };
const make = (options: unknown) => () => new MagicLink(options as MagicLinkOptions);

describe('misconfiguration and options', () => {
  describe('MagicLink defaults hold whether limits is omitted, {}, undefined or a null-prototype object', () => {
    for (const [name, limits] of [
      ['omitted', Symbol('omit')],
      ['{}', {}],
      ['undefined', undefined],
      ['null-prototype', Object.create(null) as object],
    ] as const) {
      it(name, async () => {
        const options = typeof limits === 'symbol' ? {} : { limits };
        const { app } = createTestApp(options);
        for (let i = 0; i < 5; i++) assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' })).status, 202);
        expectError(await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' }), 'magic_link_email_limit_exceeded', 3600);
      });
    }
  });

  it('accepts a null-prototype options object', () => {
    const options = Object.assign(Object.create(null) as object, base);
    assert.ok(new MagicLink(options));
  });

  it('ignores keys set to undefined', () => {
    assert.ok(new MagicLink({ ...base, ttlSeconds: undefined, store: undefined }));
  });

  describe('misconfiguration fails at construction with a TypeError that names the option and the fix', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['no options', undefined, /`baseUrl` is required/],
      ['options not an object', 'https://x.example', /plain object; got "https/],
      ['a missing baseUrl', { mailer }, /`baseUrl` is required/],
      ['a relative baseUrl', { ...base, baseUrl: '/app' }, /`baseUrl` must be an absolute http\(s\) URL.*got "\/app"/],
      ['an ftp baseUrl', { ...base, baseUrl: 'ftp://x.example' }, /`baseUrl` must be an absolute http\(s\) URL/],
      ['a missing mailer', { baseUrl: base.baseUrl }, /`mailer` must be an object with an async `send/],
      ['a mailer without send', { ...base, mailer: {} }, /`mailer` must be an object with an async `send/],
      ['a fractional TTL', { ...base, ttlSeconds: 1.5 }, /`ttlSeconds` must be a whole number from 1 to 86400; got 1.5/],
      ['a zero TTL', { ...base, ttlSeconds: 0 }, /`ttlSeconds`/],
      ['a TTL over a day', { ...base, ttlSeconds: 86_401 }, /`ttlSeconds`/],
      ['a string TTL', { ...base, ttlSeconds: '900' }, /`ttlSeconds`.*got "900"/],
      ['a near-miss key', { ...base, ttl: 900 }, /unknown option `ttl`\. Did you mean `ttlSeconds`\?/],
      [
        'a near-miss limit key',
        { ...base, limits: { linkRequestPerEmail: 3 } },
        /unknown option `linkRequestPerEmail`\. Did you mean `linkRequestsPerEmail`\?/,
      ],
      ['a zero budget', { ...base, limits: { linkRequestsPerIp: 0 } }, /`linkRequestsPerIp` must be a whole number/],
      ['a block over an hour', { ...base, limits: { blockSeconds: 7200 } }, /`blockSeconds` must be a whole number from 1 to 3600/],
      [
        'a store missing methods',
        { ...base, store: { save() {} } },
        /`store` must implement the TokenStore interface \(missing `peek\(\)`, `redeem\(\)`, `exchange\(\)`, `delete\(\)`\)/,
      ],
      ['a non-path confirmPath', { ...base, confirmPath: 'confirm' }, /`confirmPath` must be an absolute path/],
      ['a protocol-relative successRedirect', { ...base, successRedirect: '//evil.example' }, /`successRedirect` must be an absolute path/],
      ['a non-function now', { ...base, now: 5 }, /`now` must be a function/],
      ['a subnet over 128 bits', { ...base, ipv6SubnetBits: 129 }, /`ipv6SubnetBits`/],
      ['a non-URL docsBaseUrl', { ...base, docsBaseUrl: 'docs' }, /`docsBaseUrl`/],
      ['the removed passport option', { ...base, passport: {} }, /`passport` is gone: each MagicLink's handlers now sign in through their own MagicLink/],
      ['limits as a number', { ...base, limits: 5 }, /`MagicLink\.limits` options must be a plain object; got 5/],
      ['a bare function as mailer', { ...base, mailer: async () => undefined }, /`mailer` must be an object with an async `send/],
      ['a string as redis', { ...base, redis: 'redis://localhost' }, /`redis` must be an ioredis client/],
      [
        'both redis and store',
        { ...base, redis: { status: 'ready', defineCommand() {}, once() {} }, store: { save() {}, peek() {}, redeem() {}, exchange() {}, delete() {} } },
        /takes one of `redis`, `postgres` or `store`; got `redis` and `store`/,
      ],
      [
        'both postgres and redis',
        { ...base, redis: { status: 'ready', defineCommand() {}, once() {} }, postgres: { query() {} } },
        /takes one of `redis`, `postgres` or `store`; got `redis` and `postgres`/,
      ],
      ['a string as postgres', { ...base, postgres: 'postgres://localhost/app' }, /`postgres` must be a node-postgres `Pool`/],
      ['a tablePrefix with a quote', { ...base, postgres: { query() {} }, tablePrefix: 'a"; drop' }, /`tablePrefix` must be lower-case letters/],
      [
        'a baseUrl with a query',
        { ...base, baseUrl: 'https://app.example.com/?x=1' },
        /`baseUrl` must be the app's public origin .*without a query \("\?x=1"\).*Use "https:\/\/app\.example\.com"/,
      ],
      ['a baseUrl with a fragment', { ...base, baseUrl: 'https://app.example.com/#frag' }, /without a fragment \("#frag"\)/],
      [
        'a baseUrl with credentials',
        { ...base, baseUrl: 'https://user:pw@app.example.com/app' },
        /without credentials.*Use "https:\/\/app\.example\.com\/app"/,
      ],
      ['a keyPrefix with a brace', { ...base, keyPrefix: '{ml}' }, /`keyPrefix` must be a string without braces/],
      ['an empty appName', { ...base, appName: ' ' }, /`appName` must be a non-empty string/],
      ['a publicUser that is not a function', { ...base, publicUser: 'id' }, /`publicUser` must be a function/],
    ];
    for (const [name, options, message] of cases) {
      it(name, () => assert.throws(make(options), { name: 'TypeError', message }));
    }
  });

  it('handler factories used without the call throw a TypeError that says so', () => {
    const magicLink = new MagicLink(base);
    const fakeReq = { method: 'POST', url: '/x', headers: {} };
    for (const name of ['requestLinkHandler', 'verifyHandler', 'confirmPageHandler', 'confirmFormHandler'] as const) {
      const unbound = magicLink[name] as unknown as (...args: unknown[]) => unknown;
      assert.throws(() => unbound(fakeReq, {}, () => undefined), { name: 'TypeError', message: new RegExp(`magicLink\\.${name}\\(\\)`) });
    }
    assert.throws(() => new MagicLink(fakeReq as never), { name: 'TypeError', message: /new MagicLink/ });
  });

  it('errorHandler options: defaults four ways, and bad ones named', async () => {
    for (const options of [undefined, {}, { docsBaseUrl: undefined }, Object.create(null) as object]) {
      const app = express();
      app.get('/', () => {
        throw new Error('x');
      });
      app.use(errorHandler({ ...(options as object), onError: () => undefined }));
      const res = await request(app).get('/');
      assert.equal(res.body.doc_url, 'https://docs.asterwise.com/reference/errors/internal_error');
    }
    assert.throws(() => errorHandler({ docsBaseURL: 'x' } as never), { name: 'TypeError', message: /Did you mean `docsBaseUrl`/ });
    assert.throws(() => errorHandler({ onError: 'log' } as never), { name: 'TypeError', message: /`onError` must be a function/ });
  });
});
