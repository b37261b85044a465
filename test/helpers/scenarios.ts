// Behaviours pinned once and run on every backend: the memory store in the fast suite, Redis and
// PostgreSQL in test/stores/shared/.
import assert from 'node:assert/strict';
import request from 'supertest';
import type { MagicLinkOptions } from '../../src/index.js';
import { createTestApp } from './test-app.js';

export const ROTATED_SECRET = 'Zq7mP2vL9xR4tN8wB3kD6hF1jS5gC0yUeA2oIrTbVnQ=';

/** Links and codes issued under the old secret still sign in after rotation; new ones use the new one. */
export async function secretRotation(shared: Partial<MagicLinkOptions>, oldSecret: string): Promise<void> {
  const before = createTestApp({ ...shared, secret: oldSecret });
  const rotated = createTestApp({ ...shared, secret: [ROTATED_SECRET, oldSecret] });
  const after = createTestApp({ ...shared, secret: ROTATED_SECRET });
  // Two links under the old secret, in flight when the rotation is deployed.
  await request(before.app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
  await request(before.app).post('/v1/auth/magic-link').send({ email: 'bob@example.com' });
  const oldToken = before.tokenOf(0);
  const oldCode = before.codeOf(1);
  assert.equal((await request(rotated.app).get(`/auth/magic-link/confirm?token=${oldToken}`)).status, 200);
  assert.equal((await request(rotated.app).post('/v1/auth/verify').send({ token: oldToken })).status, 200);
  assert.equal((await request(rotated.app).post('/v1/auth/exchange').send({ email: 'bob@example.com', code: oldCode })).status, 200);
  // A new link is made under the new secret: the old secret alone cannot open it, the new one can.
  await request(rotated.app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
  const newToken = rotated.tokenOf();
  assert.equal((await request(before.app).post('/v1/auth/verify').send({ token: newToken })).status, 401);
  assert.equal((await request(after.app).post('/v1/auth/verify').send({ token: newToken })).status, 200);
}

/**
 * 110 wrong codes and then 10 right ones, all at once, against a budget of 10 wrong codes per IP,
 * through an own route: returns the statuses. The caller counts what its store evaluated.
 */
export async function wrongCodeBurst(shared: Partial<MagicLinkOptions>): Promise<number[]> {
  const { app, passport, codeOf } = createTestApp({ ...shared, limits: { failedExchangesPerIp: 10, failedExchangesPerEmail: 1000 } });
  app.post('/own/token', passport.authenticate('magic-link', { session: false }), (req, res) => void res.json({ signedIn: req.user }));
  await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
  const right = codeOf();
  const wrong = Array.from({ length: 110 }, (_, i) =>
    request(app)
      .post('/own/token')
      .send({ email: 'alice@example.com', code: String(100000 + i) }),
  );
  const rightOnes = Array.from({ length: 10 }, () => request(app).post('/own/token').send({ email: 'alice@example.com', code: right }));
  const statuses = (await Promise.all([...wrong, ...rightOnes])).map((res) => res.status);
  assert.ok(statuses.filter((s) => s === 200).length <= 1, `statuses ${statuses.join(',')}`);
  assert.ok(statuses.filter((s) => s === 429).length >= 110, `statuses ${statuses.join(',')}`);
  return statuses;
}
