// Login CSRF: a cross-site POST to any sign-in endpoint is refused with 403 and consumes nothing.
import assert from 'node:assert/strict';
import request from 'supertest';
import { browser, confirmInBrowser, openConfirmPage, submitConfirm } from '../helpers/confirm.js';
import { BASE_URL, createTestApp, expectError } from '../helpers/test-app.js';

const CROSS_SITE: Array<[string, Record<string, string>]> = [
  ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
  ['a foreign Origin', { Origin: 'https://evil.example' }],
  ['a sibling subdomain Origin', { Origin: 'http://evil.app.test' }],
  ['the right host on another scheme', { Origin: 'https://app.test' }],
  ['a foreign Origin with a same-site fetch header', { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'same-site' }],
];

describe('login CSRF', () => {
  for (const [name, headers] of CROSS_SITE) {
    it(`request-link with ${name} → cross_site_request, no mail`, async () => {
      const { app, outbox } = createTestApp();
      expectError(await request(app).post('/v1/auth/magic-link').set(headers).send({ email: 'alice@example.com' }), 'cross_site_request');
      assert.equal(outbox.length, 0);
    });

    it(`verify with ${name} → cross_site_request, token untouched`, async () => {
      const { app, tokenOf } = createTestApp();
      await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
      expectError(await request(app).post('/v1/auth/verify').set(headers).send({ token: tokenOf() }), 'cross_site_request');
      assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
    });

    it(`exchange with ${name} → cross_site_request, code untouched`, async () => {
      const { app, codeOf } = createTestApp();
      await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
      expectError(await request(app).post('/v1/auth/exchange').set(headers).send({ email: 'alice@example.com', code: codeOf() }), 'cross_site_request');
      assert.equal((await request(app).post('/v1/auth/exchange').send({ email: 'alice@example.com', code: codeOf() })).status, 200);
    });

    it(`the confirm form with ${name} → 403 page, token untouched`, async () => {
      const { app, tokenOf } = createTestApp();
      await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
      const res = await confirmInBrowser(app, tokenOf(), headers);
      assert.equal(res.status, 403);
      assert.match(res.text, /came from another site/);
      assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
    });
  }

  for (const [name, headers] of [
    ['the base URL as Origin', { Origin: BASE_URL }],
    ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
    ['Sec-Fetch-Site: none (typed or bookmarked)', { 'Sec-Fetch-Site': 'none' }],
    ['no Origin and no fetch metadata (curl, old browsers)', {}],
  ] as const) {
    it(`accepts ${name}`, async () => {
      const { app } = createTestApp();
      assert.equal((await request(app).post('/v1/auth/magic-link').set(headers).send({ email: 'alice@example.com' })).status, 202);
    });
  }

  it('the confirm form accepts Origin: null with same-origin fetch metadata (no-referrer pages send it)', async () => {
    const { app, tokenOf } = createTestApp();
    await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    const res = await confirmInBrowser(app, tokenOf(), { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' });
    assert.equal(res.status, 303);
  });

  // Regression: where browsers send no fetch metadata, `Origin: null` or no Origin passed, and a
  // cross-site form signed the victim in as the attacker. The form's nonce must match the page
  // cookie of this browser, whatever the headers say.
  for (const [name, headers] of [
    ['Origin: null and no fetch metadata', { Origin: 'null' }],
    ['no Origin and no fetch metadata', {}],
  ] as const) {
    it(`login CSRF with ${name}: the attacker's own form fields from another browser are refused`, async () => {
      const { app, tokenOf } = createTestApp();
      await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
      const attacker = browser(app);
      const form = await openConfirmPage(attacker, tokenOf());
      const victim = browser(app);
      let res = await submitConfirm(victim, form, headers);
      assert.equal(res.status, 403);
      res = await victim.post('/auth/magic-link/confirm').set(headers).type('form').send({ token: tokenOf() });
      assert.equal(res.status, 403, 'no nonce at all');
      // A nonce made up by the attacker for a cookie name the victim does not hold.
      res = await submitConfirm(victim, { ...form, nonce: form.nonce.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, headers);
      assert.equal(res.status, 403);
      assert.equal((await victim.get('/v1/me')).status, 401, 'the victim is not signed in');
      assert.equal((await submitConfirm(attacker, form, headers)).status, 303, 'the link was never spent');
    });
  }

  it('the nonce cookie is HttpOnly, SameSite=Strict and short-lived; two tabs keep their own', async () => {
    const { app, tokenOf } = createTestApp();
    await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    const person = browser(app);
    const page = await person.get(`/auth/magic-link/confirm?token=${tokenOf()}`);
    const cookie = String(page.headers['set-cookie']);
    assert.match(cookie, /^mlc_[A-Za-z0-9_-]{8}=[A-Za-z0-9_-]{43}; Path=\/auth\/magic-link\/confirm; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    const first = await openConfirmPage(person, tokenOf());
    const second = await openConfirmPage(person, tokenOf());
    assert.notEqual(first.page, second.page);
    assert.equal((await submitConfirm(person, first)).status, 303, 'the first tab still works after the second opened');
  });
});
