import assert from 'node:assert/strict';
import request from 'supertest';
import { createExampleApp } from '../../example-server/app.js';
import { readSettings, SettingsError } from '../../example-server/settings.js';
import { expectError } from '../helpers/test-app.js';

function demo(env: NodeJS.ProcessEnv = {}) {
  return createExampleApp(readSettings({ PORT: '3000', ...env }), { log: () => undefined });
}

describe('example server', () => {
  it('walks the whole flow: sign-in page → link → dev outbox → confirm page → dashboard → logout', async () => {
    const { app, close } = demo();
    const browser = request.agent(app);
    const signIn = await browser.get('/').set('Host', 'localhost:3000');
    assert.equal(signIn.status, 200);
    assert.match(signIn.text, /<form method="post" action="\/"/);
    assert.match(signIn.text, /dev inbox/);

    const sent = await browser.post('/v1/auth/magic-link').set('Origin', 'http://localhost:3000').send({ email: 'Me@Example.com', redirect: '/dashboard' });
    assert.equal(sent.status, 202);

    const outbox = await browser.get('/dev/outbox');
    assert.equal(outbox.status, 200);
    const messages = outbox.body.data.messages as Array<{ to: string; url: string; sent_at: string }>;
    assert.equal(messages.length, 1);
    assert.deepEqual(Object.keys(messages[0]!), ['to', 'url', 'code', 'sent_at']);
    assert.match(String((messages[0] as { code?: string }).code), /^\d{6}$/);
    assert.equal(messages[0]!.to, 'me@example.com');
    const link = new URL(messages[0]!.url);
    assert.equal(link.origin, 'http://localhost:3000');

    const inbox = await browser.get('/dev/inbox').set('Host', 'localhost:3000');
    assert.ok(inbox.text.includes(messages[0]!.url.replace(/&/g, '&#38;')));

    const confirmPage = await browser.get(link.pathname + link.search);
    assert.equal(confirmPage.status, 200);
    assert.match(confirmPage.text, /m•••@example\.com/);

    const hidden = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(confirmPage.text)![1]!;
    const confirmed = await browser
      .post(link.pathname)
      .type('form')
      .send({ token: hidden('token'), page: hidden('page'), nonce: hidden('nonce') });
    assert.equal(confirmed.status, 303);
    assert.equal(confirmed.headers.location, '/dashboard');

    const dashboard = await browser.get('/dashboard').set('Host', 'localhost:3000');
    assert.equal(dashboard.status, 200);
    assert.match(dashboard.text, /Signed in as <strong>me@example\.com<\/strong>/);
    assert.equal((await browser.get('/v1/me')).body.data.user.email, 'me@example.com');

    const loggedOut = await browser.post('/sign-out').set('Origin', 'http://localhost:3000');
    assert.equal(loggedOut.status, 303);
    assert.equal(loggedOut.headers.location, '/');
    expectError(await browser.get('/v1/me'), 'session_not_found');
    const afterLogout = await browser.get('/dashboard').set('Host', 'localhost:3000');
    assert.equal(afterLogout.status, 303);
    assert.equal(afterLogout.headers.location, '/');
    await close();
  });

  it('signs in with the code typed in a second browser session, and logs events as JSON lines', async () => {
    const lines: string[] = [];
    const { app, outbox, close } = createExampleApp(readSettings({ PORT: '3000' }), { log: (line) => void lines.push(line) });
    const laptop = request.agent(app);
    const phone = request.agent(app);
    assert.equal((await laptop.post('/v1/auth/magic-link').send({ email: 'me@example.com' })).status, 202);
    const page = await phone.get('/').set('Host', 'localhost:3000');
    assert.match(page.text, /Enter it instead/);
    const inbox = await laptop.get('/dev/inbox').set('Host', 'localhost:3000');
    assert.ok(inbox.text.includes(outbox[0]!.code), 'the inbox shows the code');
    const res = await phone.post('/v1/auth/exchange').send({ email: 'me@example.com', code: outbox[0]!.code });
    assert.equal(res.status, 200);
    assert.equal((await phone.get('/v1/me')).body.data.user.email, 'me@example.com');
    expectError(await laptop.get('/v1/me'), 'session_not_found');
    await new Promise((resolve) => setTimeout(resolve, 10));
    const events = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { type: string });
    assert.deepEqual(
      events.map((e) => e.type),
      ['link_requested', 'link_sent', 'code_redeemed'],
    );
    assert.ok(lines.filter((line) => line.startsWith('{')).every((line) => !line.includes('me@example.com') && !line.includes(outbox[0]!.code)));
    await close();
  });

  it('GET / and /dashboard redirect when signed in / signed out', async () => {
    const { app, close } = demo();
    const res = await request(app).get('/dashboard').set('Host', 'localhost:3000');
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/');
    await close();
  });

  it('pages are served on the BASE_URL host so the browser Origin matches', async () => {
    const { app, close } = demo();
    const res = await request(app).get('/dev/inbox?x=1').set('Host', '127.0.0.1:3000');
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, 'http://localhost:3000/dev/inbox?x=1');
    await close();
  });

  it('GET /healthz → ok on the memory store', async () => {
    const { app, close } = demo();
    const res = await request(app).get('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok', store: 'memory' });
    await close();
  });

  it('unknown routes → resource_not_found in the envelope', async () => {
    const { app, close } = demo();
    expectError(await request(app).get('/no/such/page'), 'resource_not_found');
    expectError(await request(app).post('/v1/auth/nope').send({}), 'resource_not_found');
    await close();
  });

  it('the dev inbox is off when NODE_ENV=production', async () => {
    const { app, close } = demo({ NODE_ENV: 'production', SESSION_SECRET: 's'.repeat(32), MAGIC_LINK_SECRET: 'bK3v9QzH2mXw7RtB5nYc8LpD4sFa6GeU1oKiVbNq0Zw' });
    expectError(await request(app).get('/dev/outbox'), 'resource_not_found');
    expectError(await request(app).get('/dev/inbox').set('Host', 'localhost:3000'), 'resource_not_found');
    await close();
  });

  // Regression: the dev inbox (every link, readable) was served on any bound host.
  it('the dev inbox is off when bound to a non-loopback host, even in development', async () => {
    for (const HOST of ['0.0.0.0', '192.0.2.10', '::']) {
      const { app, close } = demo({ HOST });
      expectError(await request(app).get('/dev/outbox'), 'resource_not_found');
      await close();
    }
    const { app, close } = demo({ HOST: '127.0.0.1' });
    assert.equal((await request(app).get('/dev/outbox')).status, 200);
    await close();
  });

  it("the server gives slow clients far less than Node's 300 s", async () => {
    const { createServer } = await import('node:http');
    const { limitSlowClients } = await import('../../example-server/app.js');
    const server = createServer();
    limitSlowClients(server);
    assert.ok(server.requestTimeout <= 30_000 && server.headersTimeout <= 20_000, `${server.requestTimeout} ${server.headersTimeout}`);
  });

  it('settings come from the environment, with the documented defaults', () => {
    const defaults = readSettings({});
    assert.equal(defaults.port, 3000);
    assert.equal(defaults.host, '127.0.0.1');
    assert.equal(defaults.baseUrl, 'http://localhost:3000');
    assert.equal(defaults.redisUrl, undefined);
    assert.equal(defaults.trustProxy, false);
    assert.equal(defaults.ttlSeconds, 900);
    assert.equal(defaults.emailLimit, 5);
    assert.equal(defaults.ipLimit, 20);
    assert.equal(defaults.verifyIpLimit, 20);
    assert.equal(defaults.exchangeIpLimit, 10);
    const custom = readSettings({ PORT: '4000', TRUST_PROXY: '2', MAGIC_LINK_TTL: '60', MAGIC_LINK_EMAIL_LIMIT: '2' });
    assert.equal(custom.baseUrl, 'http://localhost:4000');
    assert.equal(custom.trustProxy, 2);
    assert.equal(custom.ttlSeconds, 60);
    assert.equal(custom.emailLimit, 2);
  });

  it('bad settings fail at start-up with a message naming the variable', () => {
    assert.throws(() => readSettings({ PORT: 'abc' }), { name: 'Error', message: /PORT must be a whole number/ });
    assert.throws(
      () => readSettings({ TRUST_PROXY: 'yes' }),
      (error: unknown) => error instanceof SettingsError && /TRUST_PROXY/.test(error.message),
    );
    assert.throws(() => readSettings({ MAGIC_LINK_TTL: '0' }), /MAGIC_LINK_TTL/);
    assert.throws(() => readSettings({ MAGIC_LINK_CROSS_DEVICE: 'yes' }), /MAGIC_LINK_CROSS_DEVICE must be 1/);
    assert.equal(readSettings({ MAGIC_LINK_CROSS_DEVICE: '1' }).crossDevice, true);
    assert.equal(readSettings({}).crossDevice, false);
    assert.throws(() => readSettings({ NODE_ENV: 'production' }), /SESSION_SECRET must be set/);
    assert.throws(() => readSettings({ NODE_ENV: 'production', SESSION_SECRET: 's'.repeat(32) }), /MAGIC_LINK_SECRET must be set/);
  });

  it('refuses TRUST_PROXY=true at start-up: it would let any client pick its own IP and rate-limit key', () => {
    assert.throws(
      () => readSettings({ TRUST_PROXY: 'true' }),
      (error: unknown) => error instanceof SettingsError && /TRUST_PROXY=true .*number of proxies.*TRUST_PROXY=1/.test(error.message),
    );
  });

  it('refuses to start on a shared store without MAGIC_LINK_SECRET or SESSION_SECRET: each process would draw its own', () => {
    for (const shared of ['REDIS_URL', 'DATABASE_URL']) {
      assert.throws(
        () => readSettings({ [shared]: 'redis://127.0.0.1:1', SESSION_SECRET: 's'.repeat(32) }),
        (error: unknown) => error instanceof SettingsError && new RegExp(`MAGIC_LINK_SECRET must be set with ${shared}`).test(error.message),
      );
      assert.throws(
        () => readSettings({ [shared]: 'redis://127.0.0.1:1', MAGIC_LINK_SECRET: 'k3Jz9QvH2mXw7RtB5nYc8LpD4sFa6GeU1oKiVbNq0Zw=' }),
        (error: unknown) => error instanceof SettingsError && new RegExp(`SESSION_SECRET must be set with ${shared}`).test(error.message),
      );
      assert.ok(
        readSettings({ [shared]: 'redis://127.0.0.1:1', MAGIC_LINK_SECRET: 'k3Jz9QvH2mXw7RtB5nYc8LpD4sFa6GeU1oKiVbNq0Zw=', SESSION_SECRET: 's'.repeat(32) }),
      );
    }
  });

  it('the JSON API answers JSON whatever Accept says; page routes answer pages', async () => {
    const { app, close } = demo();
    for (const path of ['/v1/me', '/v1/nothing-here']) {
      const res = await request(app).get(path).set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
      assert.match(String(res.headers['content-type']), /^application\/json/, `${path}: ${res.text.slice(0, 80)}`);
      assert.equal(res.body.success, false);
    }
    const me = await request(app).get('/v1/me').set('Accept', 'text/html');
    expectError(me, 'session_not_found');
    const page = await request(app).get('/nothing-here').set('Accept', 'text/html');
    assert.match(String(page.headers['content-type']), /^text\/html/);
    await close();
  });

  it('MAGIC_LINK_EMAIL_LIMIT, MAGIC_LINK_TTL and MAGIC_LINK_LIMIT_WINDOW take effect', async () => {
    const { app, close } = demo({ MAGIC_LINK_EMAIL_LIMIT: '1', MAGIC_LINK_TTL: '120', MAGIC_LINK_LIMIT_WINDOW: '600' });
    const first = await request(app).post('/v1/auth/magic-link').send({ email: 'me@example.com' });
    assert.equal(first.body.data.expires_in, 120);
    expectError(await request(app).post('/v1/auth/magic-link').send({ email: 'me@example.com' }), 'magic_link_email_limit_exceeded', 600);
    await close();
  });

  it('MAGIC_LINK_RETENTION is read and bounded', () => {
    assert.equal(readSettings({}).retentionSeconds, 86_400);
    assert.equal(readSettings({ MAGIC_LINK_RETENTION: '0' }).retentionSeconds, 0);
    assert.throws(() => readSettings({ MAGIC_LINK_RETENTION: String(31 * 86_400) }), /MAGIC_LINK_RETENTION must be a whole number from 0 to 2592000/);
  });
});
