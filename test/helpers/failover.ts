// What the failover tests share: a person who retries on 503 as the answer tells them to, and links
// issued to distinct addresses from distinct IPs (so no limit gets in the way of counting).
import assert from 'node:assert/strict';
import request from 'supertest';
import type { RedisClient } from '../../src/index.js';
import { anyone, createTestApp, sleep, type TestApp } from './test-app.js';

/** Sends until the answer is not 503 (or `ms` passed): the final status. */
export async function withRetries(send: () => Promise<request.Response>, ms = 30_000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await send();
    if (res.status !== 503 || Date.now() > deadline) return res.status;
    await sleep(250);
  }
}

export async function issueLinks(app: TestApp['app'], tokenOf: TestApp['tokenOf'], count: number, prefix: string): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(
      await withRetries(() =>
        request(app)
          .post('/v1/auth/magic-link')
          .set('X-Forwarded-For', `192.0.2.${i}`)
          .send({ email: `${prefix}${i}@example.com` }),
      ),
      202,
    );
    tokens.push(tokenOf());
  }
  return tokens;
}

export const verifyLink = (app: TestApp['app'], token: string) => () =>
  request(app).post('/v1/auth/verify').set('X-Forwarded-For', '198.51.100.1').send({ token });

/**
 * Every used link once more (a 200 is a double redeem) and every unused one (anything but 200 is a
 * lost link), each retried through 503s.
 */
export async function countLosses(app: TestApp['app'], used: string[], unused: string[]): Promise<{ doubles: number; lost: number }> {
  let doubles = 0;
  for (const token of used) if ((await withRetries(verifyLink(app, token))) === 200) doubles++;
  let lost = 0;
  for (const token of unused) if ((await withRetries(verifyLink(app, token))) !== 200) lost++;
  return { doubles, lost };
}

/**
 * The failover scenario every topology runs, on the README's recipe (`waitForReplicas: 1`, a deadline
 * long enough for a replica to acknowledge on a busy two-core host): issue `count` links and use half,
 * run `fault` (inject it, wait for the promotion and for writes to be acknowledged again), issue and
 * use more, then count double redeems and lost links. At the 1 s default deadline, a WAIT that timed
 * out under CI load answered 503 for a redeem the master had made, and the retry found the link spent.
 */
export async function exactlyOnceThrough(redis: RedisClient, count: number, fault: () => Promise<void>): Promise<{ failedForMs: number }> {
  const { app, tokenOf } = createTestApp({
    redis,
    now: Date.now,
    trustProxy: 1,
    waitForReplicas: 1,
    storeTimeoutMs: 3_000,
    verify: anyone,
    limits: { failedVerifiesPerIp: 1000 },
  });
  const half = count / 2;
  const before = await issueLinks(app, tokenOf, count, 'before');
  for (const token of before.slice(0, half)) assert.equal(await withRetries(verifyLink(app, token)), 200);
  const outage = watchOutage(app);
  await fault();
  const failedForMs = await outage.recovered();
  // Sign-ins after the failover, on the client that followed it.
  const after = await issueLinks(app, tokenOf, half, 'after');
  for (const token of after.slice(0, half / 2)) assert.equal(await withRetries(verifyLink(app, token)), 200);
  const { doubles, lost } = await countLosses(app, [...before.slice(0, half), ...after.slice(0, half / 2)], [...before.slice(half), ...after.slice(half / 2)]);
  assert.equal(doubles, 0, 'a used link signed in again');
  assert.equal(lost, 0, 'an issued link was lost');
  return { failedForMs };
}

/**
 * A person asking for a link every 100 ms from the moment of the fault: `recovered()` waits (after
 * the fault's own steps) for 10 answers in a row that are not 503 and says how long after the
 * fault the last 503 came: the window the README states.
 */
function watchOutage(app: TestApp['app']): { recovered: () => Promise<number> } {
  const startedAt = Date.now();
  let lastFailureAt = startedAt;
  let inARow = 0;
  let done = false;
  let n = 0;
  const loop = (async () => {
    while (!done) {
      const res = await request(app)
        .post('/v1/auth/magic-link')
        .set('X-Forwarded-For', `203.0.113.${n % 250}`)
        .send({ email: `watch${n++}@example.com` });
      if (res.status === 503) {
        lastFailureAt = Date.now();
        inARow = 0;
      } else inARow++;
      await sleep(100);
    }
  })();
  return {
    async recovered() {
      const deadline = Date.now() + 90_000;
      while (inARow < 10 && Date.now() < deadline) await sleep(100);
      done = true;
      await loop;
      return lastFailureAt - startedAt;
    },
  };
}
