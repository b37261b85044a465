// Sessions: a new id at sign-in (no fixation), safe cookie flags, and sign-out that really ends it.
import assert from 'node:assert/strict';
import request from 'supertest';
import { confirmInBrowser } from '../helpers/confirm.js';
import { createExampleApp } from '../../example-server/app.js';
import { readSettings } from '../../example-server/settings.js';
import { createTestApp, expectError } from '../helpers/test-app.js';

const sidOf = (res: request.Response): string | undefined => /sid=([^;]+)/.exec(String(res.headers['set-cookie'] ?? ''))?.[1];

function demo(env: NodeJS.ProcessEnv = {}) {
  return createExampleApp(readSettings({ PORT: '3000', ...env }), { log: () => undefined });
}

describe('sessions', () => {
  for (const via of ['verify', 'confirm form'] as const) {
    it(`the session id changes at sign-in through the ${via}, and the planted id stays anonymous`, async () => {
      const { app, tokenOf } = createTestApp();
      const victim = request.agent(app);
      const planted = sidOf(await victim.get('/test/visit'));
      assert.ok(planted, 'an anonymous session exists');
      await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
      const signIn = via === 'verify' ? await victim.post('/v1/auth/verify').send({ token: tokenOf() }) : await confirmInBrowser(victim, tokenOf());
      const fresh = sidOf(signIn);
      assert.ok(fresh && fresh !== planted, 'a new session id');
      // An attacker holding the planted id is not signed in.
      expectError(await request(app).get('/v1/me').set('Cookie', `sid=${planted}`), 'session_not_found');
      assert.equal((await victim.get('/v1/me')).status, 200);
    });
  }

  it('the cookie is HttpOnly and SameSite=Lax, without Secure on http', async () => {
    const { app, outbox, close } = demo({ BASE_URL: 'http://localhost:3000' });
    await request(app).post('/v1/auth/magic-link').send({ email: 'me@example.com' });
    const res = await request(app)
      .post('/v1/auth/verify')
      .send({ token: new URL(outbox[0]!.url).searchParams.get('token') });
    const cookie = String(res.headers['set-cookie']);
    assert.match(cookie, /sid=.*HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    assert.doesNotMatch(cookie, /Secure/i);
    await close();
  });

  it('the cookie is Secure when the base URL is https (behind a trusted TLS proxy)', async () => {
    const { app, outbox, close } = demo({ BASE_URL: 'https://demo.example', TRUST_PROXY: '1' });
    await request(app).post('/v1/auth/magic-link').send({ email: 'me@example.com' });
    const res = await request(app)
      .post('/v1/auth/verify')
      .set('X-Forwarded-Proto', 'https')
      .send({ token: new URL(outbox[0]!.url).searchParams.get('token') });
    assert.match(String(res.headers['set-cookie']), /sid=.*HttpOnly.*Secure.*SameSite=Lax/i);
    await close();
  });

  it('sign-out destroys the session: the old cookie no longer signs anyone in', async () => {
    const { app, outbox, close } = demo();
    const browser = request.agent(app);
    await browser.post('/v1/auth/magic-link').send({ email: 'me@example.com' });
    const signIn = await browser.post('/v1/auth/verify').send({ token: new URL(outbox[0]!.url).searchParams.get('token') });
    const sid = sidOf(signIn)!;
    assert.equal((await request(app).get('/v1/me').set('Cookie', `sid=${sid}`)).status, 200);
    const out = await browser.post('/v1/auth/logout');
    assert.equal(out.status, 200);
    assert.match(String(out.headers['set-cookie']), /sid=;/);
    expectError(await request(app).get('/v1/me').set('Cookie', `sid=${sid}`), 'session_not_found');
    await close();
  });
});
