import assert from 'node:assert/strict';
import request from 'supertest';
import { createTestApp, detailsOf, expectError } from '../helpers/test-app.js';

type App = Parameters<typeof request>[0];
const requestLink = (app: App, email = 'alice@example.com', redirect?: string) =>
  request(app)
    .post('/v1/auth/magic-link')
    .send({ email, ...(redirect ? { redirect } : {}) });
const verify = (app: App, token: unknown) => request(app).post('/v1/auth/verify').send({ token });

describe('POST /v1/auth/verify', () => {
  it('signs in: 200 with the user, a session cookie, and /v1/me knows the user', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app);
    const agent = request.agent(app);
    const res = await agent.post('/v1/auth/verify').send({ token: tokenOf() });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { success: true, message: 'success', data: { user: { id: 'u1', email: 'alice@example.com' } } });
    assert.match(String(res.headers['set-cookie']), /sid=/);
    const me = await agent.get('/v1/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.data.user.email, 'alice@example.com');
  });

  it('a second use → magic_link_already_used', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app);
    assert.equal((await verify(app, tokenOf())).status, 200);
    expectError(await verify(app, tokenOf()), 'magic_link_already_used');
  });

  it('after the TTL → magic_link_expired (clock injected, no sleeping)', async () => {
    const { app, tokenOf, clock } = createTestApp({ ttlSeconds: 60 });
    await requestLink(app);
    clock.advance(59_999);
    const token = tokenOf();
    await requestLink(app, 'bob@example.com');
    assert.equal((await verify(app, tokenOf())).status, 200, 'still valid just before the TTL');
    clock.advance(1);
    expectError(await verify(app, token), 'magic_link_expired');
  });

  it('after the retention window a spent or expired link reads as magic_link_not_found', async () => {
    const { app, tokenOf, clock } = createTestApp({ ttlSeconds: 60, retentionSeconds: 3600 });
    await requestLink(app);
    const expired = tokenOf();
    await requestLink(app, 'bob@example.com');
    const used = tokenOf();
    assert.equal((await verify(app, used)).status, 200);
    clock.advance(60_000 + 3_599_000);
    expectError(await verify(app, expired), 'magic_link_expired');
    expectError(await verify(app, used), 'magic_link_already_used');
    clock.advance(1_000);
    expectError(await verify(app, expired), 'magic_link_not_found');
    expectError(await verify(app, used), 'magic_link_not_found');
  });

  it('unknown, truncated and wrong-alphabet tokens → magic_link_not_found', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app);
    const token = tokenOf();
    for (const bad of ['A'.repeat(46), token.slice(0, 45), `${token}A`, `${token.slice(0, 45)}!`, token.replace(/.$/, '+'), '']) {
      expectError(await verify(app, bad), 'magic_link_not_found');
    }
    assert.equal((await verify(app, token)).status, 200, 'failed guesses do not burn the real token');
  });

  it('missing or non-string token → validation_error, never echoing the token', async () => {
    const { app } = createTestApp();
    let res = await request(app).post('/v1/auth/verify').send({});
    expectError(res, 'validation_error');
    assert.deepEqual(detailsOf(res), [{ loc: ['body', 'token'], msg: 'Field required', type: 'missing' }]);
    for (const value of [123, ['a'], { t: 1 }, null, false]) {
      res = await request(app).post('/v1/auth/verify').send({ token: value });
      expectError(res, 'validation_error');
      assert.deepEqual(detailsOf(res), [{ loc: ['body', 'token'], msg: 'Input should be a valid string', type: 'string_type' }]);
    }
  });

  it('bad bodies → invalid_request_body / payload_too_large', async () => {
    const { app } = createTestApp();
    expectError(await request(app).post('/v1/auth/verify'), 'invalid_request_body');
    expectError(await request(app).post('/v1/auth/verify').set('Content-Type', 'application/json').send('{bad'), 'invalid_request_body');
    expectError(await request(app).post('/v1/auth/verify').type('form').send('token=abc'), 'invalid_request_body');
    expectError(
      await request(app)
        .post('/v1/auth/verify')
        .send({ token: 'x'.repeat(70_000) }),
      'payload_too_large',
    );
  });

  it('the verify callback finding no user → account_not_found (404)', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app, 'stranger@example.com');
    expectError(await verify(app, tokenOf()), 'account_not_found');
  });

  it('the verify callback receives the canonical email and the request', async () => {
    const seen: Array<[string, string]> = [];
    const { app, tokenOf } = createTestApp({
      verify: async (email, req) => {
        seen.push([email, req.path]);
        return { id: 'x', email };
      },
    });
    await requestLink(app, '  Carol@Example.org ');
    assert.equal((await verify(app, tokenOf())).status, 200);
    assert.deepEqual(seen, [['carol@example.org', '/v1/auth/verify']]);
  });

  it('a throwing verify callback → internal_error with nothing leaked, reported to onError', async () => {
    const { app, tokenOf, reported } = createTestApp({
      verify: async () => {
        throw new Error('database password is hunter2');
      },
    });
    await requestLink(app);
    const res = await verify(app, tokenOf());
    expectError(res, 'internal_error');
    assert.doesNotMatch(res.text, /hunter2|stack|Error:/);
    assert.equal(reported.length, 1);
  });

  it('publicUser shapes data.user', async () => {
    const { app, tokenOf } = createTestApp({ publicUser: (user) => ({ id: (user as { id: string }).id }) });
    await requestLink(app);
    const res = await verify(app, tokenOf());
    assert.deepEqual(res.body.data, { user: { id: 'u1' } });
  });

  it('50 concurrent redeems of one token: exactly one success, 49 magic_link_already_used', async () => {
    const { app, tokenOf } = createTestApp({ limits: { failedVerifiesPerIp: 1000 } });
    await requestLink(app);
    const token = tokenOf();
    const server = app.listen(0);
    try {
      const results = await Promise.all(Array.from({ length: 50 }, () => request(server).post('/v1/auth/verify').send({ token })));
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 1);
      const failures = results.filter((r) => r.status !== 200);
      assert.equal(failures.length, 49);
      for (const failure of failures) expectError(failure, 'magic_link_already_used');
    } finally {
      server.close();
    }
  });

  it('regenerates the session id at sign-in (no fixation)', async () => {
    const { app, tokenOf } = createTestApp();
    const agent = request.agent(app);
    // An anonymous session exists first (a failed attempt writes nothing, so plant one via a sign-in).
    await requestLink(app, 'bob@example.com');
    const first = await agent.post('/v1/auth/verify').send({ token: tokenOf() });
    const before = /sid=([^;]+)/.exec(String(first.headers['set-cookie']))![1];
    await requestLink(app);
    const second = await agent.post('/v1/auth/verify').send({ token: tokenOf() });
    const after = /sid=([^;]+)/.exec(String(second.headers['set-cookie']))![1];
    assert.ok(before && after && before !== after, 'a new session id on every sign-in');
  });

  describe('Idempotency-Key', () => {
    const KEY = '7d1f9e2c-4b3a-4c8d-9e0f-1a2b3c4d5e6f';
    const keyed = (app: App, token: string, key: string) => request(app).post('/v1/auth/verify').set('Idempotency-Key', key).send({ token });

    it('a retry with the same key signs in again within the replay window; without it, or with another key, the link is spent', async () => {
      const { app, tokenOf, clock } = createTestApp();
      await requestLink(app);
      const token = tokenOf();
      assert.equal((await keyed(app, token, KEY)).status, 200);
      const retry = await keyed(app, token, KEY);
      assert.equal(retry.status, 200);
      assert.equal(retry.body.data.user.email, 'alice@example.com');
      expectError(await verify(app, token), 'magic_link_already_used');
      expectError(await keyed(app, token, 'ffffffff-4b3a-4c8d-9e0f-1a2b3c4d5e6f'), 'magic_link_already_used');
      clock.advance(121_000);
      expectError(await keyed(app, token, KEY), 'magic_link_already_used');
    });

    it('a key too short, too long or with spaces → validation_error naming the header, and the link is not spent', async () => {
      const { app, tokenOf } = createTestApp();
      await requestLink(app);
      for (const bad of ['short', 'x'.repeat(256), 'has spaces in it, sixteen+']) {
        const res = await keyed(app, tokenOf(), bad);
        expectError(res, 'validation_error');
        assert.deepEqual(detailsOf(res)[0]?.loc, ['header', 'idempotency-key']);
      }
      assert.equal((await verify(app, tokenOf())).status, 200);
    });
  });
});
