// The faults a PostgreSQL has, injected into throwaway clusters while an app signs people in; each
// run counts what was lost: double redeems, lost links (issued and mailed, then unknown) and links
// spent by requests answered 503.
import assert from 'node:assert/strict';
import pg from 'pg';
import request from 'supertest';
import { migrate, PostgresTokenStore, type PostgresClient } from '../../../src/index.js';
import { PostgresServer } from '../../helpers/postgres-server.js';
import { anyone, createTestApp, sleep, TEST_SECRET, type TestApp } from '../../helpers/test-app.js';

const STORE_TIMEOUT_MS = 1_000;
const poolOf = (server: PostgresServer) => new pg.Pool({ connectionString: server.url, max: 10, connectionTimeoutMillis: 1_000 });

function appOn(backend: { postgres: PostgresClient } | { store: PostgresTokenStore }): TestApp {
  return createTestApp({
    ...backend,
    secret: TEST_SECRET,
    now: Date.now,
    verify: anyone,
    storeTimeoutMs: STORE_TIMEOUT_MS,
    limits: { linkRequestsPerIp: 10_000, linkRequestsPerEmail: 10_000, failedVerifiesPerIp: 10_000 },
  });
}

/** Issues `n` links, each for its own address; returns their tokens (only those answered 202). */
async function issue(test: TestApp, n: number, tag: string): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) {
    const before = test.outbox.length;
    const res = await request(test.app)
      .post('/v1/auth/magic-link')
      .send({ email: `${tag}${i}@example.com` });
    if (res.status === 202) {
      assert.equal(test.outbox.length, before + 1);
      tokens.push(test.tokenOf());
    }
  }
  return tokens;
}

const verify = (test: TestApp, token: string) => request(test.app).post('/v1/auth/verify').send({ token });

/** Retries a verify through a passing fault (503s) until it gets a real answer. */
async function settle(test: TestApp, token: string): Promise<{ status: number; error?: string }> {
  for (let attempt = 0; ; attempt++) {
    const res = await verify(test, token);
    if (res.status !== 503 || attempt === 20) return { status: res.status, error: res.body.error };
    await sleep(250);
  }
}

describe('PostgreSQL faults', function () {
  this.timeout(120_000);

  describe('one server', () => {
    let server: PostgresServer;
    let pool: pg.Pool;
    before(async () => {
      server = await PostgresServer.start();
      pool = poolOf(server);
      await migrate(pool);
    });
    after(async () => {
      server?.resumeFromPause();
      await pool?.end();
      await server?.destroy();
    });

    it('frozen past the deadline (SIGSTOP, then SIGCONT): verifies answer 503 in bounds, and none of those links is spent', async () => {
      const test = appOn({ postgres: pool });
      const tokens = await issue(test, 10, 'frozen');
      assert.equal(tokens.length, 10);
      server.pause();
      const started = Date.now();
      const during = await Promise.all(tokens.map((token) => verify(test, token)));
      const took = Date.now() - started;
      assert.deepEqual(
        during.map((res) => res.status),
        tokens.map(() => 503),
      );
      assert.ok(took < STORE_TIMEOUT_MS + 1_500, `503s took ${took} ms`);
      await sleep(1_000); // well past every statement's deadline
      server.resumeFromPause();
      // The statements sent while it was frozen now reach it, late: each must have changed nothing.
      const after = await Promise.all(tokens.map((token) => settle(test, token)));
      const spentBy503 = after.filter((res) => res.error === 'magic_link_already_used').length;
      assert.equal(spentBy503, 0, 'links spent by requests answered 503');
      assert.deepEqual(
        after.map((res) => res.status),
        tokens.map(() => 200),
      );
    });

    it('stopped (immediate) and restarted: 503 while down, nothing lost, nothing redeemed twice, no restart of the app', async () => {
      const test = appOn({ postgres: pool });
      const tokens = await issue(test, 20, 'restart');
      const redeemed = tokens.slice(0, 10);
      for (const token of redeemed) assert.equal((await verify(test, token)).status, 200);
      await server.stop('immediate');
      const down = await verify(test, tokens[15]!);
      assert.equal(down.status, 503);
      assert.equal(down.body.error, 'service_unavailable');
      await server.resume();
      const again = await Promise.all(redeemed.map((token) => settle(test, token)));
      const fresh = await Promise.all(tokens.slice(10).map((token) => settle(test, token)));
      const doubleRedeems = again.filter((res) => res.status === 200).length;
      const lost = fresh.filter((res) => res.error === 'magic_link_not_found').length;
      assert.equal(doubleRedeems, 0, 'double redeems');
      assert.equal(lost, 0, 'lost links');
      assert.deepEqual(
        fresh.map((res) => res.status),
        fresh.map(() => 200),
      );
    });

    it('connections killed (pg_terminate_backend): the pool recovers, the process stays up, no link is spent by a 503', async () => {
      const test = appOn({ postgres: pool });
      const tokens = await issue(test, 6, 'terminated');
      server.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
      await sleep(100);
      const results = await Promise.all(tokens.map((token) => settle(test, token)));
      assert.deepEqual(
        results.map((res) => res.status),
        tokens.map(() => 200),
      );
      assert.equal((await request(test.app).post('/v1/auth/magic-link').send({ email: 'after-kill@example.com' })).status, 202);
    });

    it('a pool that cannot connect answers service_unavailable within the store timeout', async () => {
      const closed = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:1/postgres`, connectionTimeoutMillis: 5_000 });
      try {
        const test = appOn({ postgres: closed });
        const started = Date.now();
        const res = await request(test.app).post('/v1/auth/magic-link').send({ email: 'nobody@example.com' });
        assert.equal(res.status, 503);
        assert.equal(test.outbox.length, 0, 'no mail for a link that was never stored');
        assert.ok(Date.now() - started < STORE_TIMEOUT_MS + 500);
      } finally {
        await closed.end();
      }
    });
  });

  describe('a primary and one streaming standby, the primary killed and the standby promoted', () => {
    for (const synchronous of [false, true]) {
      it(
        synchronous
          ? "with synchronousCommit: 'remote_apply': no double redeem, no lost link, the 503 spent nothing"
          : 'without it (asynchronous): a redeem the standby had not received is redeemed again (exactly-once ends here)',
        async () => {
          const primary = await PostgresServer.start();
          const standby = await PostgresServer.standbyOf(primary);
          if (synchronous) primary.configure('synchronous_standby_names', '*');
          // The app's own pools behind its own client: the app listens for their idle errors.
          const follow = (server: PostgresServer) => poolOf(server).on('error', () => undefined);
          let current = follow(primary);
          // What a virtual IP or a DNS switch does for the app: its client follows the new primary.
          const client: PostgresClient = { query: (text, values) => current.query(text, values) as never };
          try {
            await migrate(current);
            const test = appOn(synchronous ? { store: new PostgresTokenStore(client, { synchronousCommit: 'remote_apply' }) } : { postgres: client });
            const [early, late] = await issue(test, 2, synchronous ? 'sync' : 'async');
            assert.ok(early && late);
            await sleep(300); // both links have reached the standby
            // The standby stops receiving (its WAL receiver frozen); the sign-in goes to the primary.
            const receivers = standby.processes('walreceiver');
            assert.ok(receivers.length > 0, 'the standby streams');
            for (const pid of receivers) process.kill(pid, 'SIGSTOP');
            const signIn = await verify(test, early);
            // The primary dies; what was in flight to the standby is lost with its receiver.
            await primary.stop('immediate');
            for (const pid of receivers) process.kill(pid, 'SIGKILL');
            standby.psql('SELECT pg_promote(true, 30)');
            const old = current;
            current = follow(standby);
            void old.end().catch(() => undefined);

            const retried = await settle(test, early);
            const other = await settle(test, late);
            assert.equal(other.status, 200, 'the link issued before the fault is not lost');
            const doubleRedeems = signIn.status === 200 && retried.status === 200 ? 1 : 0;
            if (synchronous) {
              // The commit waited for the standby, which never confirmed: the person got a 503, and
              // the link is unspent on the new primary.
              assert.equal(signIn.status, 503);
              assert.equal(retried.status, 200, 'the link answered 503 is still usable');
              assert.equal(doubleRedeems, 0);
            } else {
              assert.equal(signIn.status, 200);
              assert.equal(doubleRedeems, 1, 'asynchronous replication forgets the redeem');
            }
          } finally {
            await current.end().catch(() => undefined);
            await primary.destroy();
            await standby.destroy();
          }
        },
      );
    }
  });
});
