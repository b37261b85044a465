import assert from 'node:assert/strict';
import express from 'express';
import { Passport } from 'passport';
import request from 'supertest';
import { MagicLink, MagicLinkError, MagicLinkStrategy, type VerifyCallback } from '../src/index.js';
import { createTestApp } from './helpers/test-app.js';

type Outcome = { kind: string; args: unknown[] };

/** Runs the strategy the way Passport does (a fresh Object.create per request) and records every outcome. */
function runStrategy(strategy: MagicLinkStrategy, body: unknown): Promise<Outcome[]> {
  return new Promise((resolve) => {
    const outcomes: Outcome[] = [];
    const finish =
      (kind: string) =>
      (...args: unknown[]) => {
        outcomes.push({ kind, args });
        // Give a buggy strategy a moment to call a second outcome.
        setTimeout(() => resolve(outcomes), 20);
      };
    const instance = Object.assign(Object.create(strategy) as MagicLinkStrategy, {
      success: finish('success'),
      fail: finish('fail'),
      error: finish('error'),
      pass: finish('pass'),
      redirect: finish('redirect'),
    });
    // A token API's route: `passport.authenticate('magic-link', { session: false })`.
    instance.authenticate({ body, headers: {} } as express.Request, { session: false });
  });
}

async function issue(magicLink: MagicLink, outbox: string[], email = 'alice@example.com'): Promise<string> {
  const app = express();
  app.post('/link', magicLink.requestLinkHandler());
  await request(app).post('/link').send({ email });
  return new URL(outbox.at(-1)!).searchParams.get('token')!;
}

function setup(verify: VerifyCallback) {
  const outbox: string[] = [];
  const magicLink = new MagicLink({ baseUrl: 'http://app.test', mailer: { send: async (m) => void outbox.push(m.url) } });
  return { magicLink, outbox, strategy: new MagicLinkStrategy({ magicLink }, verify) };
}

describe('MagicLinkStrategy', () => {
  it("is named 'magic-link'", () => {
    const { strategy } = setup(async () => false);
    assert.equal(strategy.name, 'magic-link');
  });

  it('a valid token → exactly one success with the user and the link info', async () => {
    const { magicLink, outbox, strategy } = setup(async (email) => ({ email }));
    const token = await issue(magicLink, outbox);
    const outcomes = await runStrategy(strategy, { token });
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.kind, 'success');
    assert.deepEqual(outcomes[0]!.args[0], { email: 'alice@example.com' });
    assert.deepEqual(Object.keys(outcomes[0]!.args[1] as object), ['method', 'redirect', 'emailDigest', 'replayed']);
    assert.equal((outcomes[0]!.args[1] as { method: string }).method, 'link');
  });

  it('an unknown token → exactly one fail with a MagicLinkError and its status', async () => {
    const { strategy } = setup(async () => ({}));
    const outcomes = await runStrategy(strategy, { token: 'A'.repeat(46) });
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.kind, 'fail');
    const [challenge, status] = outcomes[0]!.args as [MagicLinkError, number];
    assert.ok(challenge instanceof MagicLinkError);
    assert.equal(challenge.code, 'magic_link_not_found');
    assert.equal(status, 401);
  });

  it('no body or no token → one fail with validation_error', async () => {
    const { strategy } = setup(async () => ({}));
    for (const body of [undefined, {}, { token: 5 }]) {
      const outcomes = await runStrategy(strategy, body);
      assert.equal(outcomes.length, 1);
      assert.equal((outcomes[0]!.args[0] as MagicLinkError).code, 'validation_error');
    }
  });

  it('the verify callback returning false → one fail with account_not_found (404)', async () => {
    const { magicLink, outbox, strategy } = setup(async () => false);
    const outcomes = await runStrategy(strategy, { token: await issue(magicLink, outbox) });
    assert.equal(outcomes.length, 1);
    assert.equal((outcomes[0]!.args[0] as MagicLinkError).code, 'account_not_found');
    assert.equal(outcomes[0]!.args[1], 404);
  });

  it('an exception in the verify callback → exactly one error', async () => {
    const thrown = new Error('db down');
    const { magicLink, outbox, strategy } = setup(async () => {
      throw thrown;
    });
    const outcomes = await runStrategy(strategy, { token: await issue(magicLink, outbox) });
    assert.deepEqual(outcomes, [{ kind: 'error', args: [thrown] }]);
  });

  it('a synchronous throw in the verify callback → exactly one error', async () => {
    const { magicLink, outbox, strategy } = setup(() => {
      throw new Error('sync');
    });
    const outcomes = await runStrategy(strategy, { token: await issue(magicLink, outbox) });
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.kind, 'error');
  });

  it('bad constructor arguments throw TypeErrors that name the fix', () => {
    const { magicLink } = setup(async () => false);
    assert.throws(() => new MagicLinkStrategy(undefined as never, async () => false), { name: 'TypeError', message: /\{ magicLink \}/ });
    assert.throws(() => new MagicLinkStrategy({ magicLink: {} as MagicLink }, async () => false), { name: 'TypeError', message: /MagicLink/ });
    assert.throws(() => new MagicLinkStrategy({ magicLink }, undefined as never), { name: 'TypeError', message: /verify callback/ });
    assert.throws(() => new MagicLinkStrategy({ magicLink, extra: 1 } as never, async () => false), { name: 'TypeError', message: /`extra`/ });
  });

  it('works with plain passport.authenticate by name in an app of its own', async () => {
    const outbox: string[] = [];
    const passport = new Passport();
    const magicLink = new MagicLink({ baseUrl: 'http://app.test', mailer: { send: async (m) => void outbox.push(m.url) } });
    passport.use(new MagicLinkStrategy({ magicLink }, async (email) => ({ email })));
    const app = express();
    app.use(express.json());
    app.post('/link', magicLink.requestLinkHandler());
    app.post('/login', passport.authenticate('magic-link', { session: false }), (req, res) => void res.json(req.user));
    await request(app).post('/link').send({ email: 'zed@example.com' });
    const token = new URL(outbox[0]!).searchParams.get('token');
    const res = await request(app).post('/login').send({ token });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { email: 'zed@example.com' });
    assert.equal((await request(app).post('/login').send({ token })).status, 401);
  });

  it('50 parallel sign-ins for 50 users each end with their own req.user', async () => {
    const { app, outbox, users } = createTestApp({ limits: { linkRequestsPerIp: 100 } });
    for (let i = 0; i < 50; i++) users.set(`user${i}@example.com`, { id: `id${i}`, email: `user${i}@example.com` });
    for (let i = 0; i < 50; i++)
      await request(app)
        .post('/v1/auth/magic-link')
        .send({ email: `user${i}@example.com` });
    const server = app.listen(0);
    try {
      const results = await Promise.all(
        outbox.map(async (message) => {
          const agent = request.agent(server);
          const token = new URL(message.url).searchParams.get('token');
          const verified = await agent.post('/v1/auth/verify').send({ token });
          const me = await agent.get('/v1/me');
          return { to: message.to, verified: verified.body.data?.user?.email, me: me.body.data?.user?.email };
        }),
      );
      for (const result of results) assert.deepEqual([result.verified, result.me], [result.to, result.to]);
    } finally {
      server.close();
    }
  });
});
