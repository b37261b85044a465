import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FlakySessionStore } from '../helpers/flaky-session-store.js';
import request from 'supertest';
import { browser, confirmInBrowser, openConfirmPage, submitConfirm } from '../helpers/confirm.js';
import { BASE_URL, createTestApp, expectError } from '../helpers/test-app.js';

type App = Parameters<typeof request>[0];
const requestLink = (app: App, email = 'alice@example.com', redirect?: string) =>
  request(app)
    .post('/v1/auth/magic-link')
    .send({ email, ...(redirect ? { redirect } : {}) });
const confirm = confirmInBrowser;

function assertPageHeaders(res: request.Response): void {
  assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
  assert.equal(res.headers['referrer-policy'], 'no-referrer');
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.match(String(res.headers['x-robots-tag']), /noindex/);
  assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
  assert.ok(res.headers['x-request-id']);
  // Self-contained: nothing loaded from anywhere; the one inline script is allowed by its hash only.
  assert.doesNotMatch(res.text, /<link|src=|https?:\/\//i);
  const scripts = [...res.text.matchAll(/<script>([^<]*)<\/script>/g)];
  assert.ok(scripts.length <= 1);
  for (const [, body] of scripts) {
    const hash = createHash('sha256').update(body!).digest('base64');
    assert.match(String(res.headers['content-security-policy']), new RegExp(`script-src 'sha256-${hash.replace(/[+/]/g, '\\$&')}'`));
  }
}

describe('confirm page', () => {
  it('GET renders the form with the masked address and consumes nothing', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app);
    const token = tokenOf();
    for (let i = 0; i < 3; i++) {
      const res = await request(app).get(`/auth/magic-link/confirm?token=${token}`);
      assert.equal(res.status, 200);
      assertPageHeaders(res);
      assert.match(res.text, /a•••@example\.com/);
      assert.doesNotMatch(res.text, /alice@example\.com/);
      assert.match(res.text, /<form method="post" action="\/auth\/magic-link\/confirm">/);
      assert.ok(res.text.includes(`name="token" value="${token}"`));
      assert.match(res.text, /works once/);
    }
    // Mail scanners fetch the link with GET; the person can still sign in afterwards.
    assert.equal((await request(app).post('/v1/auth/verify').send({ token })).status, 200);
  });

  it('GET says at once when the link is used, expired or unknown', async () => {
    const { app, tokenOf, clock } = createTestApp({ ttlSeconds: 60 });
    await requestLink(app);
    const used = tokenOf();
    await request(app).post('/v1/auth/verify').send({ token: used });
    let res = await request(app).get(`/auth/magic-link/confirm?token=${used}`);
    assert.equal(res.status, 401);
    assertPageHeaders(res);
    assert.match(res.text, /already been used/);
    assert.match(res.text, /Request a new link/);

    await requestLink(app, 'bob@example.com');
    const expiring = tokenOf();
    clock.advance(60_000);
    res = await request(app).get(`/auth/magic-link/confirm?token=${expiring}`);
    assert.equal(res.status, 401);
    assert.match(res.text, /expired/);

    for (const query of ['?token=nope', '', '?token=a&token=b', `?token=${'A'.repeat(46)}`]) {
      res = await request(app).get(`/auth/magic-link/confirm${query}`);
      assert.equal(res.status, 401, query);
      assertPageHeaders(res);
      assert.match(res.text, /not valid/);
    }
  });

  it('POST signs in and 303-redirects to the redirect stored with the link', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app, 'alice@example.com', '/settings?tab=security');
    const agent = request.agent(app);
    const res = await confirm(agent, tokenOf());
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/settings?tab=security');
    assert.equal((await agent.get('/v1/me')).body.data.user.email, 'alice@example.com');
  });

  it('POST without a stored redirect goes to successRedirect', async () => {
    const { app, tokenOf } = createTestApp({ successRedirect: '/dashboard' });
    await requestLink(app);
    const res = await confirm(app, tokenOf());
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/dashboard');
  });

  it('the redirect cannot be changed at confirm time', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app, 'alice@example.com', '/home');
    const person = browser(app);
    const form = await openConfirmPage(person, tokenOf());
    const res = await person
      .post('/auth/magic-link/confirm?redirect=https://evil.example')
      .type('form')
      .send({ ...form, redirect: 'https://evil.example' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/home');
  });

  it('POST with a spent link shows an HTML error page, not JSON', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app);
    // Another browser had the page open; the link was used elsewhere before it pressed.
    const other = browser(app);
    const form = await openConfirmPage(other, tokenOf());
    assert.equal((await confirm(app, tokenOf())).status, 303);
    const res = await submitConfirm(other, form);
    assert.equal(res.status, 401);
    assertPageHeaders(res);
    assert.match(res.text, /already been used/);
  });

  it('POST with an unknown account shows account_not_found as a page', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app, 'stranger@example.com');
    const res = await confirm(app, tokenOf());
    assert.equal(res.status, 404);
    assert.match(res.text, /No account was found/);
  });

  it('a cross-site POST is refused with 403 and consumes nothing', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app);
    const token = tokenOf();
    const person = browser(app);
    const form = await openConfirmPage(person, token);
    let res = await submitConfirm(person, form, { 'Sec-Fetch-Site': 'cross-site' });
    assert.equal(res.status, 403);
    assert.match(res.text, /another site/);
    res = await submitConfirm(person, form, { Origin: 'https://evil.example' });
    assert.equal(res.status, 403);
    // The confirm page is no-referrer, so browsers send Origin: null for its own form.
    res = await submitConfirm(person, form, { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' });
    assert.equal(res.status, 303);
  });

  it('a same-origin POST with the base URL as Origin is accepted', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app);
    const res = await confirm(app, tokenOf(), { Origin: BASE_URL });
    assert.equal(res.status, 303);
  });

  it('offers the way on when this browser is already signed in as that user', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app, 'alice@example.com', '/inbox');
    const token = tokenOf();
    const agent = request.agent(app);
    assert.equal((await confirm(agent, token)).status, 303);
    const res = await agent.get(`/auth/magic-link/confirm?token=${token}`);
    assert.equal(res.status, 200);
    assert.match(res.text, /already signed in/);
    assert.match(res.text, /href="\/inbox"/);
    // Another browser gets the plain "already used" answer.
    assert.equal((await request(app).get(`/auth/magic-link/confirm?token=${token}`)).status, 401);
  });

  // Regression: two presses 150 ms apart on a slow connection ended on "Can't sign you in" with the
  // link spent and the browser not signed in (the first response, with the cookie, was abandoned).
  it('idempotent for the browser that redeemed: after a lost response, the same press ends signed in', async () => {
    const { app, tokenOf, clock } = createTestApp();
    await requestLink(app, 'alice@example.com', '/inbox');
    const token = tokenOf();
    const page = await request(app).get(`/auth/magic-link/confirm?token=${token}`);
    const pageCookie = String(page.headers['set-cookie']).split(';')[0]!;
    const hidden = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page.text)![1]!;
    const form = { token: hidden('token'), page: hidden('page'), nonce: hidden('nonce') };
    const press = () => request(app).post('/auth/magic-link/confirm').set('Cookie', pageCookie).type('form').send(form);
    assert.equal((await press()).status, 303); // this answer, and its session cookie, never arrive
    for (let i = 0; i < 2; i++) {
      clock.advance(1_000); // the person presses again a moment later
      const again = await press();
      assert.equal(again.status, 303, 'the second press ends signed in, not on an error page');
      assert.equal(again.headers.location, '/inbox');
      const sid = String(again.headers['set-cookie']).match(/sid=[^;]+/)?.[0];
      assert.ok(sid, 'a session cookie comes with it');
      assert.equal((await request(app).get('/v1/me').set('Cookie', sid)).status, 200);
    }
    // Anyone else presenting the token: already used. After the grace window, this browser too.
    expectError(await request(app).post('/v1/auth/verify').send({ token }), 'magic_link_already_used');
    clock.advance(3 * 60_000);
    assert.equal((await press()).status, 401);
  });

  it('a session store that fails after the redeem: a page that says so truthfully, whose Try again ends signed in once the store is back', async () => {
    const store = new FlakySessionStore();
    store.failing = true;
    const { app, tokenOf, reported } = createTestApp({ sessionStore: store });
    await requestLink(app, 'alice@example.com', '/inbox');
    const person = browser(app);
    const form = await openConfirmPage(person, tokenOf());
    const first = await submitConfirm(person, form);
    assert.equal(first.status, 503);
    assert.equal(first.headers['retry-after'], '5');
    assert.match(first.text, /not signed in yet/i);
    assert.match(first.text, /still works in this browser for the next 2 minutes/);
    assert.doesNotMatch(first.text, /may still work/);
    assert.ok(reported.length > 0, 'the store failure reached onError');
    // The page's own button, as the person presses it: the same hidden fields.
    const again = new RegExp(`name="nonce" value="${form.nonce}"`).test(first.text) && new RegExp(`name="page" value="${form.page}"`).test(first.text);
    assert.ok(again, 'the page offers the same form again');
    store.failing = false;
    const retried = await submitConfirm(person, form);
    assert.equal(retried.status, 303);
    assert.equal(retried.headers.location, '/inbox');
    assert.equal((await person.get('/v1/me')).status, 200);
    // Nobody else gets in on the spent link.
    expectError(await request(app).post('/v1/auth/verify').send({ token: form.token }), 'magic_link_already_used');
  });

  it('a second tab of the same browser also ends signed in', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app);
    const person = browser(app);
    const first = await openConfirmPage(person, tokenOf());
    const second = await openConfirmPage(person, tokenOf());
    assert.equal((await submitConfirm(person, first)).status, 303);
    assert.equal((await submitConfirm(person, second)).status, 303);
    assert.equal((await person.get('/v1/me')).status, 200);
  });

  it('a replay of the redeem is for the cookie it was bound to, not for anyone holding the token', async () => {
    const { app, tokenOf } = createTestApp();
    await requestLink(app);
    const token = tokenOf();
    const owner = browser(app);
    const other = browser(app);
    const otherForm = await openConfirmPage(other, token);
    assert.equal((await confirm(owner, token)).status, 303);
    const res = await submitConfirm(other, otherForm);
    assert.equal(res.status, 401);
    assert.match(res.text, /already been used/);
  });

  it('escapes everything it echoes', async () => {
    const { app, tokenOf } = createTestApp({ appName: '<b>Shop</b>' });
    await requestLink(app, "o'neil<x>@example.com".replace('<x>', ''));
    const res = await request(app).get(`/auth/magic-link/confirm?token=${tokenOf()}`);
    assert.match(res.text, /&#60;b&#62;Shop&#60;\/b&#62;/);
    assert.match(res.text, /o•••@example\.com/);
  });
});
