// Secrets never leave: no token, link or address in logs, error bodies or `input`; 5xx stay generic.
import assert from 'node:assert/strict';
import request from 'supertest';
import { createTestApp, expectError } from '../helpers/test-app.js';

async function captureStderr(work: () => Promise<void>): Promise<string> {
  const original = console.error;
  let captured = '';
  console.error = (...args: unknown[]) => void (captured += `${args.map(String).join(' ')}\n`);
  try {
    await work();
  } finally {
    console.error = original;
  }
  return captured;
}

describe('secrets never leave', () => {
  it('the default logger redacts the token, the link and the address a mailer error quotes', async () => {
    let token = '';
    const { app } = createTestApp({
      onError: undefined, // the default logger
      mailer: {
        send: async ({ to, url }) => {
          token = new URL(url).searchParams.get('token')!;
          throw new Error(`550 mailbox ${to} unavailable while sending ${url}`);
        },
      },
    });
    let res!: request.Response;
    const log = await captureStderr(async () => {
      res = await request(app).post('/v1/auth/magic-link').send({ email: 'Alice.Secret@example.com' });
    });
    expectError(res, 'email_delivery_failed');
    assert.match(log, /550 mailbox a•••@example\.com unavailable/);
    assert.ok(token && !log.includes(token), 'no token in the log');
    assert.doesNotMatch(log, /alice\.secret/i);
    assert.match(log, new RegExp(res.body.request_id), 'the log line carries the request id');
  });

  it('a verify callback error is logged redacted and answered as a generic internal_error', async () => {
    const { app, tokenOf } = createTestApp({
      onError: undefined,
      verify: async (email) => {
        throw new Error(`no row for ${email}`);
      },
    });
    await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    let res!: request.Response;
    const log = await captureStderr(async () => {
      res = await request(app).post('/v1/auth/verify').send({ token: tokenOf() });
    });
    expectError(res, 'internal_error');
    assert.doesNotMatch(res.text, /no row|alice/);
    assert.match(log, /no row for a•••@example\.com/);
    assert.ok(!log.includes(tokenOf()));
  });

  it('error bodies never echo an address, a token or a code', async () => {
    const { app } = createTestApp();
    const bodies = [
      await request(app).post('/v1/auth/magic-link').send({ email: 'not an address secret@x' }),
      await request(app)
        .post('/v1/auth/magic-link')
        .send({ email: ['alice@example.com'] }),
      await request(app)
        .post('/v1/auth/magic-link')
        .send({ email: `${'a'.repeat(300)}@example.com` }),
      await request(app)
        .post('/v1/auth/verify')
        .send({ token: 'SECRETSECRET'.repeat(5) }),
      await request(app)
        .post('/v1/auth/verify')
        .send({ token: ['SECRETTOKEN'] }),
    ];
    for (const res of bodies) {
      assert.doesNotMatch(res.text, /secret|alice|aaaaaaaa/i, res.text);
      assert.ok((res.body.details as Array<Record<string, unknown>>).every((d) => !('input' in d)));
    }
  });

  it('5xx messages are the generic catalogue sentences', async () => {
    const { app } = createTestApp({
      store: {
        save: async () => {
          throw new Error('ECONNREFUSED 10.1.2.3:6379 password=hunter2');
        },
        peek: async () => null,
        redeem: async () => ({ status: 'not_found' }),
        exchange: async () => ({ status: 'not_found', wrong: true }),
        delete: async () => undefined,
      },
    });
    const res = await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    expectError(res, 'service_unavailable', 'any');
    assert.doesNotMatch(res.text, /ECONNREFUSED|hunter2|6379/);
  });

  it('the link is never in the response, and the token is never in a page other than its own', async () => {
    const { app, outbox, tokenOf } = createTestApp();
    const res = await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' });
    assert.ok(!res.text.includes(tokenOf()) && !res.text.includes(outbox[0]!.url));
    await request(app).post('/v1/auth/verify').send({ token: tokenOf() });
    const used = await request(app).get(`/auth/magic-link/confirm?token=${tokenOf()}`);
    assert.ok(!used.text.includes(tokenOf()), 'a spent link is not echoed into the page');
  });
});
