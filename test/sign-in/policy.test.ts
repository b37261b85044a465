// Policy an app sets (SPEC §9): which domains may sign in, a gate before anything is mailed, and
// links minted on the server. Through the public API, over HTTP.
import assert from 'node:assert/strict';
import request from 'supertest';
import { MagicLink, MagicLinkError, type MagicLinkOptions } from '../../src/index.js';
import { confirmInBrowser } from '../helpers/confirm.js';
import { anyone, createTestApp, detailsOf, expectError, TEST_SECRET, type TestApp } from '../helpers/test-app.js';

const link = (test: TestApp, email: string, ip = '203.0.113.9') => request(test.app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email });

/** The answer without what differs between any two requests (ids and times). */
const normalised = (text: string) =>
  text
    .replace(/"request_id":"[^"]+"/, '"request_id":"-"')
    .replace(/"timestamp":"[^"]+"/, '"timestamp":"-"')
    .replace(/"(expires_at|sent_at)":"[^"]+"/g, '"$1":"-"');

function expectDomainRefused(res: request.Response): void {
  expectError(res, 'invalid_email');
  assert.deepEqual(
    detailsOf(res).map((detail) => detail.type),
    ['domain_not_allowed'],
  );
}

describe('policy: allowed and blocked domains', () => {
  it('only allowed domains get a link; others are invalid_email (domain_not_allowed) before any budget is spent', async () => {
    const test = createTestApp({ trustProxy: 1, allowedDomains: ['example.com', '*.corp.example'], limits: { linkRequestsPerIp: 3 } });
    for (const email of ['a@Example.COM.', 'b@eu.corp.example', 'c@a.b.corp.example']) assert.equal((await link(test, email)).status, 202, email);
    // 25 refusals from an IP whose budget has 0 points left: none of them is counted, or the 4th would be a 429.
    for (let i = 0; i < 25; i++) expectDomainRefused(await link(test, `x${i}@other.example`, '203.0.113.10'));
    expectDomainRefused(await link(test, 'apex@corp.example', '203.0.113.10')); // `*.` means subdomains, not the apex
    expectDomainRefused(await link(test, 'look@example.com.evil', '203.0.113.10'));
    expectDomainRefused(await link(test, 'look@notexample.com', '203.0.113.10'));
    assert.equal((await link(test, 'd@example.com', '203.0.113.10')).status, 202);
    assert.equal(test.outbox.length, 4);
  });

  it('compares after IDNA and lower-casing: Unicode, punycode and mixed case are one domain', async () => {
    const test = createTestApp({ allowedDomains: ['BÜCHER.example'] });
    for (const email of ['a@bücher.example', 'b@xn--bcher-kva.example', 'c@BÜCHER.EXAMPLE']) assert.equal((await link(test, email)).status, 202, email);
    expectDomainRefused(await link(test, 'd@bucher.example'));
  });

  it('a blocked domain is refused even when allowed; the rest of the allowed ones work', async () => {
    const test = createTestApp({ allowedDomains: ['*.example.com'], blockedDomains: ['spam.example.com', 'mailinator.com'] });
    expectDomainRefused(await link(test, 'a@spam.example.com'));
    assert.equal((await link(test, 'a@ok.example.com')).status, 202);
    const open = createTestApp({ blockedDomains: ['mailinator.com'] });
    expectDomainRefused(await link(open, 'a@MAILINATOR.com'));
    assert.equal((await link(open, 'a@gmail.com')).status, 202);
  });

  it('an own route (magicLink.requestLink) and issueLink apply the same policy', async () => {
    const test = createTestApp({ blockedDomains: ['mailinator.com'] });
    test.app.post('/own', async (req, res) => {
      await test.magicLink.requestLink(req, { email: 'a@mailinator.com' }).then(
        () => res.status(202).end(),
        (error: MagicLinkError) => res.status(error.status).json({ type: error.details[0]?.type }),
      );
    });
    assert.deepEqual((await request(test.app).post('/own')).body, { type: 'domain_not_allowed' });
    await assert.rejects(test.magicLink.issueLink({ email: 'a@mailinator.com' }), { code: 'invalid_email' });
  });

  it('a malformed pattern throws at construction, saying what was probably meant', () => {
    const base: MagicLinkOptions = { baseUrl: 'https://app.example.com', mailer: { send: async () => undefined } };
    const cases: Array<[Partial<MagicLinkOptions>, RegExp]> = [
      [{ allowedDomains: ['@example.com'] }, /`allowedDomains\[0\]` "@example.com" is an address, not a domain\. Did you mean "example\.com"\?/],
      [{ allowedDomains: ['ok.example', '*example.com'] }, /`allowedDomains\[1\]` .* wildcard without a dot .*Did you mean "\*\.example\.com"\?/],
      [{ blockedDomains: ['https://spam.example/'] }, /`blockedDomains\[0\]` .* is a URL\. Did you mean "spam\.example"\?/],
      [{ blockedDomains: ['a.*.example'] }, /wildcard that is not the first label/],
      [{ allowedDomains: ['localhost'] }, /is not a domain such as "example\.com"/],
      [{ allowedDomains: [] }, /`allowedDomains` is empty, so nobody could sign in/],
      [{ blockedDomains: 'spam.example' as never }, /`blockedDomains` must be a list of domains/],
    ];
    for (const [options, message] of cases) assert.throws(() => new MagicLink({ ...base, ...options }), { name: 'TypeError', message });
  });
});

describe('policy: beforeSend', () => {
  it('runs after the client budget and before the address budget, with the request and the canonical address', async () => {
    const seen: string[] = [];
    const test = createTestApp({
      trustProxy: 1,
      limits: { linkRequestsPerIp: 2 },
      beforeSend: (req, { email }) => void seen.push(`${req.get('x-captcha')}:${email}`),
    });
    await request(test.app).post('/v1/auth/magic-link').set('X-Forwarded-For', '203.0.113.1').set('X-Captcha', 'ok').send({ email: ' Ada@Example.com ' });
    assert.deepEqual(seen, ['ok:ada@example.com']);
    await link(test, 'b@example.com', '203.0.113.1');
    // The client's budget is spent: refused before the hook runs.
    expectError(await link(test, 'c@example.com', '203.0.113.1'), 'magic_link_ip_limit_exceeded', 'any');
    assert.equal(seen.length, 2);
  });

  it('false answers the same 202 as a sent link, and mails, stores and counts nothing against the address', async () => {
    let open = false;
    const sent = createTestApp({ verify: anyone });
    const test = createTestApp({ verify: anyone, limits: { linkRequestsPerEmail: 2 }, beforeSend: () => open });
    const real = await link(sent, 'ada@example.com');
    const withheld = await link(test, 'ada@example.com');
    assert.equal(withheld.status, real.status);
    assert.equal(normalised(withheld.text), normalised(real.text));
    const headerNames = (res: request.Response) =>
      Object.keys(res.headers)
        .filter((name) => !['date', 'x-request-id', 'etag', 'content-length'].includes(name))
        .sort();
    assert.deepEqual(headerNames(withheld), headerNames(real));
    for (let i = 0; i < 5; i++) assert.equal((await link(test, 'ada@example.com')).status, 202);
    assert.equal(test.outbox.length, 0, 'nothing mailed');
    assert.equal((test.magicLink.store as unknown as { size: number }).size, 0, 'nothing stored');
    // The address's budget (2) is untouched by the six withheld requests.
    open = true;
    assert.equal((await link(test, 'ada@example.com')).status, 202);
    assert.equal((await link(test, 'ada@example.com')).status, 202);
    expectError(await link(test, 'ada@example.com'), 'magic_link_email_limit_exceeded', 'any');
  });

  it('a withheld link takes about as long as a sent one (medians of 200 each, interleaved)', async function () {
    this.timeout(60_000);
    // A mailer that takes a few ms, as a real one takes longer: a withheld answer must not be faster.
    const mailer = { send: () => new Promise<void>((resolve) => setTimeout(resolve, 3)) };
    const limits = { linkRequestsPerIp: 100_000, linkRequestsPerEmail: 100_000 };
    const test = createTestApp({ mailer, limits, beforeSend: (_req, { email }) => !email.startsWith('closed') });
    const time = async (email: string) => {
      const started = process.hrtime.bigint();
      assert.equal((await link(test, email)).status, 202);
      return Number(process.hrtime.bigint() - started);
    };
    for (let i = 0; i < 20; i++) await time(`warm${i}@example.com`);
    const sent: number[] = [];
    const withheld: number[] = [];
    for (let i = 0; i < 200; i++) {
      sent.push(await time(`open${i}@example.com`));
      withheld.push(await time(`closed${i}@example.com`));
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
    const ratio = median(withheld) / median(sent);
    assert.ok(ratio > 0.75 && ratio < 1.33, `withheld/sent median ratio ${ratio.toFixed(2)}`);
  });

  it('a MagicLinkError it throws is the answer; anything else, or a hang past mailTimeoutMs, is a 503 without a stack', async () => {
    const refusing = createTestApp({
      beforeSend: () => {
        throw new MagicLinkError('validation_error', { details: [{ loc: ['body', 'captcha'], msg: 'The CAPTCHA was not solved', type: 'captcha' }] });
      },
    });
    const refused = await link(refusing, 'a@example.com');
    expectError(refused, 'validation_error');
    assert.equal(detailsOf(refused)[0]!.type, 'captcha');

    const broken = createTestApp({
      beforeSend: async () => {
        throw new Error('turnstile: fetch failed at verify (secret=abc)');
      },
    });
    const failed = await link(broken, 'a@example.com');
    expectError(failed, 'service_unavailable', 'any');
    assert.doesNotMatch(failed.text, /turnstile|secret|at verify/);
    assert.match(String(broken.reported[0]), /turnstile/, 'the cause reaches onError');

    const hanging = createTestApp({ mailTimeoutMs: 200, beforeSend: () => new Promise<boolean>(() => undefined) });
    const started = Date.now();
    expectError(await link(hanging, 'a@example.com'), 'service_unavailable', 'any');
    assert.ok(Date.now() - started < 1_000);
    assert.equal(refusing.outbox.length + broken.outbox.length + hanging.outbox.length, 0);
  });

  it('a refusal from the hook keeps the client point (a failed CAPTCHA is an attempt)', async () => {
    const test = createTestApp({
      trustProxy: 1,
      limits: { linkRequestsPerIp: 3 },
      beforeSend: () => {
        throw new MagicLinkError('validation_error');
      },
    });
    for (let i = 0; i < 3; i++) expectError(await link(test, `a${i}@example.com`), 'validation_error');
    expectError(await link(test, 'a9@example.com'), 'magic_link_ip_limit_exceeded', 'any');
  });

  it('must be a function', () => {
    assert.throws(
      () => new MagicLink({ baseUrl: 'https://app.example.com', mailer: { send: async () => undefined }, beforeSend: 'captcha' as never }),
      /`beforeSend` must be a function/,
    );
  });
});

describe('policy: issueLink', () => {
  it('mints a link and a code without mailing: it signs in once, by link or by code', async () => {
    const test = createTestApp({ verify: anyone, secret: TEST_SECRET });
    const issued = await test.magicLink.issueLink({ email: ' Invitee@Example.com ' });
    assert.match(issued.url, /^http:\/\/app\.test\/auth\/magic-link\/confirm\?token=[A-Za-z0-9_-]{46}$/);
    assert.match(issued.code, /^\d{6}$/);
    assert.equal(test.outbox.length, 0);
    const token = new URL(issued.url).searchParams.get('token')!;
    const signedIn = await request(test.app).post('/v1/auth/verify').send({ token });
    assert.equal(signedIn.status, 200, signedIn.text);
    assert.equal(signedIn.body.data.user.email, 'invitee@example.com');
    expectError(await request(test.app).post('/v1/auth/verify').send({ token }), 'magic_link_already_used');
    expectError(await request(test.app).post('/v1/auth/exchange').send({ email: 'invitee@example.com', code: issued.code }), 'exchange_code_already_used');
  });

  it('honours ttlSeconds and data, and the redirect is checked like a mailed one', async () => {
    const seen: unknown[] = [];
    const test = createTestApp({
      maxTtlSeconds: 7 * 86_400,
      verify: async (email, _req, details) => (seen.push(details.data), { id: email, email }),
    });
    const invite = await test.magicLink.issueLink({ email: 'new@example.com', ttlSeconds: 7 * 86_400, data: { invitedBy: 'u1' }, redirect: '/welcome' });
    assert.equal(invite.expiresAt.getTime(), test.clock.now() + 7 * 86_400_000);
    test.clock.advance(6 * 86_400_000);
    // Through the confirm page, as the invitee's browser goes: signed in, and on to the link's redirect.
    const res = await confirmInBrowser(test.app, new URL(invite.url).searchParams.get('token')!);
    assert.equal(res.status, 303, res.text);
    assert.equal(res.headers.location, '/welcome');
    assert.deepEqual(seen, [{ invitedBy: 'u1' }]);

    const short = await test.magicLink.issueLink({ email: 'short@example.com', ttlSeconds: 60 });
    test.clock.advance(61_000);
    expectError(
      await request(test.app)
        .post('/v1/auth/verify')
        .send({ token: new URL(short.url).searchParams.get('token') }),
      'magic_link_expired',
    );
    await assert.rejects(test.magicLink.issueLink({ email: 'x@example.com', redirect: 'https://evil.example/' }), { code: 'validation_error' });
    await assert.rejects(test.magicLink.issueLink({ email: 'not an address' }), { code: 'invalid_email' });
    await assert.rejects(test.magicLink.issueLink({ email: 'x@example.com', ttlSeconds: 5 }), /`magicLink\.issueLink` option `ttlSeconds` must be/);
  });

  it('takes no request budget, and keeps the outstanding-links policy', async () => {
    const test = createTestApp({ verify: anyone, limits: { linkRequestsPerEmail: 1 }, revokeEarlierLinks: true });
    const first = await test.magicLink.issueLink({ email: 'a@example.com' });
    const second = await test.magicLink.issueLink({ email: 'a@example.com' });
    // revokeEarlierLinks: the second burnt the first.
    expectError(
      await request(test.app)
        .post('/v1/auth/verify')
        .send({ token: new URL(first.url).searchParams.get('token') }),
      'magic_link_expired',
    );
    assert.equal(
      (
        await request(test.app)
          .post('/v1/auth/verify')
          .send({ token: new URL(second.url).searchParams.get('token') })
      ).status,
      200,
    );
    // The address's request budget (1) is still whole.
    assert.equal((await link(test, 'a@example.com')).status, 202);
  });
});

describe('policy: revoke', () => {
  it('burns every outstanding link and code of the address: the confirm page and the API say already used', async () => {
    const events: string[] = [];
    const test = createTestApp({ verify: anyone, onEvent: (event) => void events.push(event.type) });
    await link(test, 'ada@example.com');
    await link(test, 'ada@example.com');
    await link(test, 'bob@example.com');
    await test.magicLink.revoke(' ADA@example.com ');
    expectError(
      await request(test.app)
        .post('/v1/auth/verify')
        .send({ token: test.tokenOf(0) }),
      'magic_link_already_used',
    );
    expectError(
      await request(test.app)
        .post('/v1/auth/exchange')
        .send({ email: 'ada@example.com', code: test.codeOf(1) }),
      'exchange_code_already_used',
    );
    const page = await request(test.app).get(`/auth/magic-link/confirm?token=${test.tokenOf(1)}`);
    assert.match(page.text, /already been used/);
    // Another address is untouched; a link asked for afterwards works.
    assert.equal(
      (
        await request(test.app)
          .post('/v1/auth/verify')
          .send({ token: test.tokenOf(2) })
      ).status,
      200,
    );
    await link(test, 'ada@example.com');
    assert.equal((await request(test.app).post('/v1/auth/verify').send({ token: test.tokenOf() })).status, 200);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(events.includes('links_revoked'));
  });

  it('refuses what is not an address, and a store without revoke names the fix', async () => {
    const test = createTestApp();
    await assert.rejects(test.magicLink.revoke('not an address'), { code: 'invalid_email' });
    const inner = test.magicLink.store;
    const bare = {
      save: inner.save.bind(inner),
      peek: inner.peek.bind(inner),
      redeem: inner.redeem.bind(inner),
      exchange: inner.exchange.bind(inner),
      delete: inner.delete.bind(inner),
    };
    const custom = new MagicLink({ baseUrl: 'https://app.example.com', mailer: { send: async () => undefined }, store: bare, secret: TEST_SECRET });
    await assert.rejects(custom.revoke('a@example.com'), /cannot revoke links \(it has no `revoke` method\)/);
  });
});
