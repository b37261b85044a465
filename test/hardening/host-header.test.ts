// Host-header injection: links come from the configured base URL only.
import assert from 'node:assert/strict';
import request from 'supertest';
import { browser, openConfirmPage, submitConfirm } from '../helpers/confirm.js';
import { createTestApp } from '../helpers/test-app.js';

describe('host-header injection', () => {
  for (const trustProxy of [false, true]) {
    it(`Host and X-Forwarded-Host never reach a link (trust proxy ${trustProxy})`, async () => {
      const { app, outbox } = createTestApp({ trustProxy });
      await request(app)
        .post('/v1/auth/magic-link')
        .set('Host', 'evil.example')
        .set('X-Forwarded-Host', 'evil2.example')
        .set('X-Forwarded-Proto', 'https')
        .send({ email: 'alice@example.com' });
      assert.match(outbox[0]!.url, /^http:\/\/app\.test\/auth\/magic-link\/confirm\?token=[A-Za-z0-9_-]{46}$/);
    });
  }

  it('a baseUrl with a path prefix and a custom confirmPath shape the link', async () => {
    const { app, outbox } = createTestApp({ baseUrl: 'https://example.com/app/', confirmPath: '/login/confirm' });
    await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    assert.match(outbox[0]!.url, /^https:\/\/example\.com\/app\/login\/confirm\?token=[A-Za-z0-9_-]{46}$/);
  });

  it('the confirm page links and redirects stay on relative paths, whatever the Host', async () => {
    const { app, tokenOf } = createTestApp();
    await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com', redirect: '/inbox' });
    const page = await request(app).get(`/auth/magic-link/confirm?token=${tokenOf()}`).set('Host', 'evil.example');
    assert.doesNotMatch(page.text, /evil/);
    const person = browser(app);
    const form = await submitConfirm(person, await openConfirmPage(person, tokenOf()), { Host: 'evil.example' });
    assert.equal(form.headers.location, '/inbox');
  });
});
