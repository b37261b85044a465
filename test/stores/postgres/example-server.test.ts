// The example server with DATABASE_URL: links, limits, users and sessions in PostgreSQL, so two
// demo processes on one database sign the same person in and share what they know.
import assert from 'node:assert/strict';
import request from 'supertest';
import { createExampleApp } from '../../../example-server/app.js';
import { readSettings } from '../../../example-server/settings.js';
import { openConfirmPage, submitConfirm } from '../../helpers/confirm.js';
import { PostgresServer } from '../../helpers/postgres-server.js';
import { expectError, TEST_SECRET } from '../../helpers/test-app.js';

describe('example server on PostgreSQL', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  before(async () => {
    server = await PostgresServer.start();
  });
  after(() => server?.destroy());

  const demo = () =>
    createExampleApp(readSettings({ DATABASE_URL: server.url, MAGIC_LINK_SECRET: TEST_SECRET, SESSION_SECRET: 'test-session-secret' }), {
      log: () => undefined,
    });

  it('signs in through the confirm page on one process; the other reads /v1/me with the same cookie', async () => {
    const [a, b] = [demo(), demo()];
    try {
      // Both start together: each makes the tables it needs, neither trips over the other.
      await Promise.all([a.ready, b.ready]);
      const browser = request.agent(a.app);
      assert.equal((await browser.post('/v1/auth/magic-link').send({ email: 'me@example.com' })).status, 202);
      const token = new URL(a.outbox[0]!.url).searchParams.get('token')!;
      const confirmed = await submitConfirm(browser, await openConfirmPage(browser, token));
      assert.equal(confirmed.status, 303);
      const setCookie = ([] as string[]).concat(confirmed.headers['set-cookie'] ?? []);
      const cookie = setCookie.map((line) => line.split(';')[0]!).find((pair) => pair.startsWith('sid='))!;
      assert.ok(cookie, `no session cookie: ${setCookie.join(' | ')}`);
      const me = await request(b.app).get('/v1/me').set('Cookie', cookie);
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.data.user.email, 'me@example.com');
      // The link is spent for both; the limits are shared (the same address's budget, taken on b).
      expectError(await request(b.app).post('/v1/auth/verify').send({ token }), 'magic_link_already_used');
      // Sessions and users live in the database; a session holds the user's id, never the address.
      const sessions = server.psql('SELECT data::text FROM demo_sessions');
      assert.ok(sessions.length > 0, 'the session lives in PostgreSQL');
      assert.doesNotMatch(sessions, /me@example/);
      assert.equal(server.psql("SELECT count(*) FROM demo_users WHERE email = 'me@example.com'"), '1');
      assert.deepEqual((await request(b.app).get('/healthz')).body, { status: 'ok', store: 'postgres' });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a code typed on the other process signs in; during an outage /healthz and the API answer 503', async () => {
    const [a, b] = [demo(), demo()];
    try {
      await Promise.all([a.ready, b.ready]);
      assert.equal((await request(a.app).post('/v1/auth/magic-link').send({ email: 'code@example.com' })).status, 202);
      const exchanged = await request(b.app).post('/v1/auth/exchange').send({ email: 'code@example.com', code: a.outbox[0]!.code });
      assert.equal(exchanged.status, 200, exchanged.text);
      await server.stop();
      try {
        assert.equal((await request(a.app).get('/healthz')).status, 503);
        expectError(await request(a.app).post('/v1/auth/magic-link').send({ email: 'code@example.com' }), 'service_unavailable', 'any');
      } finally {
        await server.resume();
      }
      assert.equal((await request(a.app).get('/healthz')).status, 200);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
