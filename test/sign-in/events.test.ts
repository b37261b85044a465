import assert from 'node:assert/strict';
import request from 'supertest';
import type { MagicLinkEvent } from '../../src/index.js';
import { createTestApp } from '../helpers/test-app.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

function recorder() {
  const events: MagicLinkEvent[] = [];
  return { events, onEvent: (event: MagicLinkEvent) => void events.push(event) };
}

describe('sign-in events', () => {
  it('emits each event type once where it should, with request id, email digest, IP key and time', async () => {
    const { events, onEvent } = recorder();
    let failMail = false;
    const { app, tokenOf, codeOf, outbox } = createTestApp({
      onEvent,
      trustProxy: true,
      limits: { linkRequestsPerEmail: 3, failedExchangesPerIp: 2 },
      burnOtherLinksOnSignIn: false,
      mailer: {
        send: async (message) => {
          if (failMail) throw new Error('smtp down');
          outbox.push(message);
        },
      },
    });
    const ip = '203.0.113.9';
    const steps: Array<[() => Promise<request.Response>, string[]]> = [
      [() => request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email: 'alice@example.com' }), ['link_requested', 'link_sent']],
      [
        async () => {
          failMail = true;
          const res = await request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email: 'alice@example.com' });
          failMail = false;
          return res;
        },
        ['link_requested', 'mail_failed'],
      ],
      [() => request(app).post('/v1/auth/verify').set('X-Forwarded-For', ip).send({ token: tokenOf() }), ['link_redeemed']],
      [() => request(app).post('/v1/auth/verify').set('X-Forwarded-For', ip).send({ token: tokenOf() }), ['link_rejected']],
      [() => request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email: 'alice@example.com' }), ['link_requested', 'link_sent']],
      [() => request(app).post('/v1/auth/exchange').set('X-Forwarded-For', ip).send({ email: 'alice@example.com', code: codeOf() }), ['code_redeemed']],
      [() => request(app).post('/v1/auth/exchange').set('X-Forwarded-For', ip).send({ email: 'alice@example.com', code: 'abcdef' }), ['code_rejected']],
      [() => request(app).post('/v1/auth/exchange').set('X-Forwarded-For', ip).send({ email: 'alice@example.com', code: 'abcdef' }), ['code_rejected']],
      [() => request(app).post('/v1/auth/exchange').set('X-Forwarded-For', ip).send({ email: 'alice@example.com', code: 'abcdef' }), ['limit_exceeded']],
      [() => request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email: 'alice@example.com' }), ['link_requested', 'link_sent']],
      [() => request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email: 'alice@example.com' }), ['link_requested', 'limit_exceeded']],
    ];
    let ipKey: string | undefined;
    for (const [run, expected] of steps) {
      const before = events.length;
      const res = await run();
      await settle();
      const emitted = events.slice(before);
      assert.deepEqual(
        emitted.map((e) => e.type),
        expected,
        `answered ${res.status}`,
      );
      for (const event of emitted) {
        assert.equal(event.requestId, res.headers['x-request-id']);
        // A keyed pseudonym of the IP, the same for every event of this client; never the IP.
        ipKey ??= event.ipKey;
        assert.equal(event.ipKey, ipKey);
        assert.ok(!event.ipKey.includes(ip) && /^[A-Za-z0-9_-]{16}$/.test(event.ipKey), event.ipKey);
        assert.match(event.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
        if (event.type === 'link_rejected') assert.equal(event.emailDigest, null, 'an unknown or spent token names no email');
        else assert.match(String(event.emailDigest), /^[A-Za-z0-9_-]{43}$/);
      }
    }
    const byType = (type: string) => events.filter((e) => e.type === type) as Array<MagicLinkEvent & { code?: string }>;
    assert.deepEqual(
      byType('link_rejected').map((e) => e.code),
      ['magic_link_already_used'],
    );
    assert.deepEqual(
      byType('code_rejected').map((e) => e.code),
      ['exchange_code_not_found', 'exchange_code_not_found'],
    );
    assert.deepEqual(
      byType('limit_exceeded').map((e) => e.code),
      ['exchange_code_attempt_limit_exceeded', 'magic_link_email_limit_exceeded'],
    );
    assert.deepEqual(
      byType('mail_failed').map((e) => e.code),
      ['email_delivery_failed'],
    );
    // One email, one digest, across every event that names it.
    assert.equal(new Set(events.map((e) => e.emailDigest).filter(Boolean)).size, 1);

    const everything = JSON.stringify(events);
    assert.doesNotMatch(everything, /alice|example\.com/);
    for (let i = 0; i < outbox.length; i++) {
      assert.ok(!everything.includes(tokenOf(i)) && !everything.includes(codeOf(i)), 'no token or code in any event');
    }
  });

  it('a slow handler does not delay the answer', async () => {
    const { app } = createTestApp({ onEvent: () => new Promise((resolve) => setTimeout(resolve, 5_000).unref()) });
    const started = Date.now();
    const res = await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    assert.equal(res.status, 202);
    assert.ok(Date.now() - started < 1_000);
  });

  it('a blocking handler runs after the answer is written', async () => {
    let answeredBeforeHandler = false;
    let answered = false;
    const { app } = createTestApp({
      onEvent: () => {
        answeredBeforeHandler = answered;
      },
    });
    const server = app.listen(0);
    server.on('request', (_req, res) => res.on('finish', () => (answered = true)));
    try {
      await request(server).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
      await settle();
      assert.equal(answeredBeforeHandler, true);
    } finally {
      server.close();
    }
  });

  for (const [name, onEvent] of [
    [
      'throws',
      () => {
        throw new Error('observer down');
      },
    ],
    ['rejects', () => Promise.reject(new Error('observer down'))],
  ] as const) {
    it(`a handler that ${name} changes nothing`, async () => {
      const { app, tokenOf } = createTestApp({ onEvent });
      assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' })).status, 202);
      assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
      await settle();
    });
  }

  it('onEvent must be a function', () => {
    assert.throws(() => createTestApp({ onEvent: 'log' as never }), { name: 'TypeError', message: /`onEvent` must be a function/ });
  });
});
