import assert from 'node:assert/strict';
import request from 'supertest';
import { createSpyStore } from '../helpers/spy-store.js';
import { createTestApp, detailsOf, expectError } from '../helpers/test-app.js';

type App = Parameters<typeof request>[0];
const requestLink = (app: App, email = 'alice@example.com', ip?: string) => {
  const req = request(app).post('/v1/auth/magic-link');
  if (ip) req.set('X-Forwarded-For', ip);
  return req.send({ email });
};
const verify = (app: App, token: string) => request(app).post('/v1/auth/verify').send({ token });
const exchange = (app: App | ReturnType<typeof request.agent>, body: unknown, ip?: string) => {
  const req = (app instanceof request.agent ? app : request(app)).post('/v1/auth/exchange');
  if (ip) req.set('X-Forwarded-For', ip);
  return req.send(body as object);
};

describe('POST /v1/auth/exchange', () => {
  it('each mail carries a 6-digit code from the CSPRNG, different every time', async () => {
    const { app, outbox } = createTestApp({ limits: { linkRequestsPerEmail: 50, linkRequestsPerIp: 50 } });
    for (let i = 0; i < 30; i++) await requestLink(app);
    for (const message of outbox) assert.match(message.code, /^\d{6}$/);
    assert.ok(new Set(outbox.map((m) => m.code)).size > 25, 'codes vary');
  });

  it('the right code signs in, in another browser than the one that asked', async () => {
    const { app, codeOf } = createTestApp();
    await requestLink(app);
    const otherDevice = request.agent(app);
    const res = await exchange(otherDevice, { email: '  Alice@Example.com', code: codeOf() });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { success: true, message: 'success', data: { user: { id: 'u1', email: 'alice@example.com' } } });
    assert.equal((await otherDevice.get('/v1/me')).body.data.user.email, 'alice@example.com');
  });

  it('a second use → exchange_code_already_used', async () => {
    const { app, codeOf } = createTestApp();
    await requestLink(app);
    assert.equal((await exchange(app, { email: 'alice@example.com', code: codeOf() })).status, 200);
    expectError(await exchange(app, { email: 'alice@example.com', code: codeOf() }), 'exchange_code_already_used');
  });

  it('a code after its link → exchange_code_already_used', async () => {
    const { app, tokenOf, codeOf } = createTestApp();
    await requestLink(app);
    assert.equal((await verify(app, tokenOf())).status, 200);
    expectError(await exchange(app, { email: 'alice@example.com', code: codeOf() }), 'exchange_code_already_used');
  });

  it('a link after its code → magic_link_already_used', async () => {
    const { app, tokenOf, codeOf } = createTestApp();
    await requestLink(app);
    assert.equal((await exchange(app, { email: 'alice@example.com', code: codeOf() })).status, 200);
    expectError(await verify(app, tokenOf()), 'magic_link_already_used');
    const page = await request(app).get(`/auth/magic-link/confirm?token=${tokenOf()}`);
    assert.match(page.text, /already been used/);
  });

  it('five wrong tries kill the code: the sixth try, even the right code, is exchange_code_not_found', async () => {
    const { app, codeOf } = createTestApp();
    await requestLink(app);
    const right = codeOf();
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) expectError(await exchange(app, { email: 'alice@example.com', code: wrong }), 'exchange_code_not_found');
    expectError(await exchange(app, { email: 'alice@example.com', code: right }), 'exchange_code_not_found');
  });

  it('codeAttempts sets the kill', async () => {
    const { app, codeOf } = createTestApp({ codeAttempts: 1 });
    await requestLink(app);
    const right = codeOf();
    expectError(await exchange(app, { email: 'alice@example.com', code: right === '000000' ? '111111' : '000000' }), 'exchange_code_not_found');
    expectError(await exchange(app, { email: 'alice@example.com', code: right }), 'exchange_code_not_found');
  });

  it('after its TTL a code → exchange_code_not_found', async () => {
    const { app, codeOf, clock } = createTestApp({ ttlSeconds: 60 });
    await requestLink(app);
    clock.advance(60_000);
    expectError(await exchange(app, { email: 'alice@example.com', code: codeOf() }), 'exchange_code_not_found');
  });

  it('a code for another email → exchange_code_not_found', async () => {
    const { app, codeOf } = createTestApp();
    await requestLink(app, 'alice@example.com');
    expectError(await exchange(app, { email: 'bob@example.com', code: codeOf() }), 'exchange_code_not_found');
  });

  it('wrong codes from one IP: 10 per hour, then a 1-hour block that refuses even a right code', async () => {
    const { app, codeOf } = createTestApp({ trustProxy: true, limits: { linkRequestsPerIp: 100 } });
    // Spread over emails, so the per-code kill and the per-email budget don't decide first.
    for (let i = 0; i < 10; i++) expectError(await exchange(app, { email: `user${i}@example.com`, code: '000000' }, '10.0.0.1'), 'exchange_code_not_found');
    expectError(await exchange(app, { email: 'user10@example.com', code: '000000' }, '10.0.0.1'), 'exchange_code_attempt_limit_exceeded', 3600);
    await requestLink(app, 'alice@example.com', '10.0.0.9');
    expectError(await exchange(app, { email: 'alice@example.com', code: codeOf() }, '10.0.0.1'), 'exchange_code_attempt_limit_exceeded', 'any');
    // The code itself is unharmed: another address may use it.
    assert.equal((await exchange(app, { email: 'alice@example.com', code: codeOf() }, '10.0.0.2')).status, 200);
  });

  it('wrong codes for one email from rotating IPs are limited too, and then refuse a right code', async () => {
    const { app, codeOf } = createTestApp({ trustProxy: true, codeAttempts: 100, limits: { failedExchangesPerEmail: 3 } });
    await requestLink(app, 'alice@example.com', '10.1.0.1');
    const right = codeOf();
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) expectError(await exchange(app, { email: 'alice@example.com', code: wrong }, `10.2.${i}.1`), 'exchange_code_not_found');
    expectError(await exchange(app, { email: 'alice@example.com', code: wrong }, '10.2.9.1'), 'exchange_code_attempt_limit_exceeded', 3600);
    expectError(await exchange(app, { email: ' ALICE@example.com', code: right }, '10.3.0.1'), 'exchange_code_attempt_limit_exceeded', 'any');
  });

  it('malformed codes are wrong tries answered without touching the store', async () => {
    const store = createSpyStore();
    const { app } = createTestApp({ store, limits: { failedExchangesPerIp: 2 } });
    for (const code of ['12345', 'abcdef']) expectError(await exchange(app, { email: 'alice@example.com', code }), 'exchange_code_not_found');
    expectError(await exchange(app, { email: 'alice@example.com', code: '1234567' }), 'exchange_code_attempt_limit_exceeded', 3600);
    assert.equal(store.total(), 0);
  });

  it('fields: missing, wrong types, a bad address, a token → validation errors that echo nothing', async () => {
    const { app } = createTestApp();
    let res = await exchange(app, {});
    expectError(res, 'validation_error');
    assert.deepEqual(detailsOf(res), [
      { loc: ['body', 'email'], msg: 'Field required', type: 'missing' },
      { loc: ['body', 'code'], msg: 'Field required', type: 'missing' },
    ]);
    res = await exchange(app, { email: ['alice@example.com'], code: 123456 });
    expectError(res, 'validation_error');
    assert.deepEqual(
      detailsOf(res).map((d) => [d.loc, d.type, 'input' in d]),
      [
        [['body', 'email'], 'string_type', false],
        [['body', 'code'], 'string_type', false],
      ],
    );
    expectError(await exchange(app, { email: 'not-an-address', code: '123456' }), 'invalid_email');
    res = await exchange(app, { email: 'alice@example.com', code: '123456', token: 'x' });
    expectError(res, 'validation_error');
    assert.equal(detailsOf(res)[0]!.type, 'extra_forbidden');
  });

  it('an unknown account for a right code → account_not_found', async () => {
    const { app, codeOf } = createTestApp();
    await requestLink(app, 'stranger@example.com');
    expectError(await exchange(app, { email: 'stranger@example.com', code: codeOf() }), 'account_not_found');
  });

  it('50 concurrent mixed link and code redeems of one sign-in: exactly one success', async () => {
    const { app, tokenOf, codeOf } = createTestApp({ limits: { failedVerifiesPerIp: 1000, failedExchangesPerIp: 1000, failedExchangesPerEmail: 1000 } });
    await requestLink(app);
    const server = app.listen(0);
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          i % 2
            ? request(server).post('/v1/auth/verify').send({ token: tokenOf() })
            : request(server).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: codeOf() }),
        ),
      );
      assert.equal(results.filter((r) => r.status === 200).length, 1);
      for (const r of results.filter((r) => r.status !== 200)) assert.match(r.body.error, /^(magic_link|exchange_code)_already_used$/);
    } finally {
      server.close();
    }
  });
});

describe('outstanding-links policy', () => {
  it('by default every unexpired link stays valid when a new one is requested', async () => {
    const { app, tokenOf } = createTestApp({ burnOtherLinksOnSignIn: false });
    await requestLink(app);
    await requestLink(app);
    assert.equal((await verify(app, tokenOf(0))).status, 200);
    assert.equal((await verify(app, tokenOf(1))).status, 200);
  });

  it('revokeEarlierLinks: a new request expires the earlier links and codes', async () => {
    const { app, tokenOf, codeOf } = createTestApp({ revokeEarlierLinks: true });
    await requestLink(app);
    await requestLink(app);
    expectError(await verify(app, tokenOf(0)), 'magic_link_expired');
    expectError(await exchange(app, { email: 'alice@example.com', code: codeOf(0) }), 'exchange_code_not_found');
    assert.equal((await verify(app, tokenOf(1))).status, 200);
  });

  it('burnOtherLinksOnSignIn (default): signing in expires the other outstanding links and codes', async () => {
    const { app, tokenOf, codeOf } = createTestApp();
    await requestLink(app);
    await requestLink(app);
    await requestLink(app);
    assert.equal((await exchange(app, { email: 'alice@example.com', code: codeOf(1) })).status, 200);
    expectError(await verify(app, tokenOf(0)), 'magic_link_expired');
    expectError(await exchange(app, { email: 'alice@example.com', code: codeOf(2) }), 'exchange_code_not_found');
  });

  it('other addresses are not affected', async () => {
    const { app, tokenOf } = createTestApp({ revokeEarlierLinks: true });
    await requestLink(app, 'bob@example.com');
    await requestLink(app, 'alice@example.com');
    await verify(app, tokenOf(1));
    assert.equal((await verify(app, tokenOf(0))).status, 200);
  });

  it('bad policy options are refused at construction', () => {
    assert.throws(() => createTestApp({ revokeEarlierLinks: 'yes' as never }), { name: 'TypeError', message: /`revokeEarlierLinks` must be true or false/ });
    assert.throws(() => createTestApp({ codeAttempts: 0 }), { name: 'TypeError', message: /`codeAttempts`/ });
  });
});
