// PostgresTokenStore on a throwaway cluster: the conformance suite, the schema as shipped, and what
// node-postgres users trip on (no table made at request time, unnamed statements, a pool's idle errors).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import request from 'supertest';
import { migrate, PostgresTokenStore } from '../../../src/index.js';
import { PostgresServer } from '../../helpers/postgres-server.js';
import { anyone, createTestApp, expectError, TEST_SECRET } from '../../helpers/test-app.js';
import { describeTokenStore } from '../../helpers/token-store-conformance.js';

describe('PostgreSQL token store', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let pool: pg.Pool;

  before(async () => {
    server = await PostgresServer.start();
    pool = new pg.Pool({ connectionString: server.url, max: 20, connectionTimeoutMillis: 2_000 });
    await migrate(pool);
  });
  after(async () => {
    await pool?.end();
    await server?.destroy();
  });

  describeTokenStore('PostgresTokenStore', () => ({
    // The suite's clock is fixed in the past: prune would take its rows, so it is off here.
    store: new PostgresTokenStore(pool, { pruneIntervalMs: 0 }),
    cleanup: async () => void (await pool.query('TRUNCATE magic_link_links, magic_link_emails, magic_link_limits')),
  }));

  it('schema.sql in the package is what migrate() runs', () => {
    const shipped = readFileSync(new URL('../../../schema.sql', import.meta.url), 'utf8');
    assert.equal(shipped, new PostgresTokenStore(pool, { pruneIntervalMs: 0 }).schema);
  });

  it('migrate() is safe to run again, and from processes starting together', async () => {
    await Promise.all([migrate(pool), migrate(pool), migrate(pool)]);
    assert.equal(server.psql("SELECT value FROM magic_link_meta WHERE name = 'schema_version'"), '3');
  });

  it('a database without the schema answers 503, creates nothing at request time, and works once migrated', async () => {
    server.psql('CREATE DATABASE fresh');
    const fresh = new pg.Pool({ connectionString: server.url.replace(/\/postgres$/, '/fresh'), max: 4 });
    try {
      const { app, outbox } = createTestApp({ postgres: fresh, secret: TEST_SECRET, now: Date.now });
      expectError(await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' }), 'service_unavailable', 'any');
      assert.equal(outbox.length, 0);
      const tables = await fresh.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
      assert.equal(tables.rows[0].n, 0, 'the library made a table at request time');
      await migrate(fresh);
      assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'alice@example.com' })).status, 202);
    } finally {
      await fresh.end();
    }
  });

  it('a database on schema 1 is brought to schema 3 by migrate(): sign-ins work, with the link budgets taken in the save, and attempts', async () => {
    server.psql('CREATE DATABASE upgraded');
    const old = new pg.Pool({ connectionString: server.url.replace(/\/postgres$/, '/upgraded'), max: 4 });
    try {
      await old.query(readFileSync(new URL('../../fixtures/postgres-schema-1.sql', import.meta.url), 'utf8'));
      const { app, tokenOf } = createTestApp({ postgres: old, secret: TEST_SECRET, now: Date.now, verify: anyone });
      await migrate(old);
      const version = await old.query<{ value: string }>("SELECT value FROM magic_link_meta WHERE name = 'schema_version'");
      assert.equal(version.rows[0]!.value, '3');
      assert.equal((await request(app).post('/v1/auth/magic-link').send({ email: 'old@example.com' })).status, 202);
      assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
      const limits = await old.query<{ n: number }>('SELECT count(*)::int AS n FROM magic_link_limits');
      assert.ok(limits.rows[0]!.n >= 1, 'the budgets were taken');
      const crossDevice = createTestApp({ postgres: old, secret: TEST_SECRET, now: Date.now, verify: anyone, crossDevice: true });
      const asker = request.agent(crossDevice.app);
      assert.equal((await asker.post('/v1/auth/magic-link').send({ email: 'old@example.com' })).status, 202);
      assert.equal(((await asker.get('/v1/auth/attempt')).body as { data: { status: string } }).data.status, 'pending');
      const attempts = await old.query<{ n: number }>('SELECT count(*)::int AS n FROM magic_link_attempts');
      assert.equal(attempts.rows[0]!.n, 1, 'the attempt was saved with its link');
    } finally {
      await old.end();
    }
  });

  it('a table prefix keeps two apps apart in one database', async () => {
    await migrate(pool, { tablePrefix: 'staff_' });
    const customers = createTestApp({ postgres: pool, secret: TEST_SECRET, now: Date.now });
    const staff = createTestApp({ postgres: pool, tablePrefix: 'staff_', secret: TEST_SECRET, now: Date.now, verify: anyone });
    await request(staff.app).post('/v1/auth/magic-link').send({ email: 'ada@example.com' });
    expectError(await request(customers.app).post('/v1/auth/verify').send({ token: staff.tokenOf() }), 'magic_link_not_found');
    const res = await request(staff.app).post('/v1/auth/verify').send({ token: staff.tokenOf() });
    assert.equal(res.status, 200, res.text);
    assert.equal(Number(server.psql('SELECT count(*) FROM staff_links')), 1);
  });

  it('the limits live in the database: two apps on one pool share them, windowed on its clock', async () => {
    const limits = { linkRequestsPerEmail: 2 };
    const a = createTestApp({ postgres: pool, secret: TEST_SECRET, now: Date.now, limits });
    const b = createTestApp({ postgres: pool, secret: TEST_SECRET, now: Date.now, limits });
    const email = 'shared-budget@example.com';
    assert.equal((await request(a.app).post('/v1/auth/magic-link').send({ email })).status, 202);
    assert.equal((await request(b.app).post('/v1/auth/magic-link').send({ email })).status, 202);
    expectError(await request(a.app).post('/v1/auth/magic-link').send({ email }), 'magic_link_email_limit_exceeded', 'any');
    assert.ok(Number(server.psql("SELECT count(*) FROM magic_link_limits WHERE key LIKE 'link-email%'")) >= 1);
  });

  it('a link request is one statement, its budgets taken inside the save: an IP refusal takes nothing of the address and saves nothing', async () => {
    await pool.query('TRUNCATE magic_link_links, magic_link_emails, magic_link_limits');
    let statements = 0;
    const counted = { query: (text: string, values?: unknown[]) => (statements++, pool.query(text, values)), on: pool.on.bind(pool) } as unknown as pg.Pool;
    const { app, outbox } = createTestApp({
      postgres: counted,
      secret: TEST_SECRET,
      now: Date.now,
      trustProxy: 1,
      limits: { linkRequestsPerIp: 2, linkRequestsPerEmail: 3 },
    });
    const from = (ip: string, email: string) => request(app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email });
    assert.equal((await from('192.0.2.1', 'budget@example.com')).status, 202); // the first also measures the clock and checks the schema
    await new Promise((resolve) => setTimeout(resolve, 50));
    statements = 0;
    assert.equal((await from('192.0.2.1', 'budget@example.com')).status, 202);
    assert.equal(statements, 1, 'statements per link request');
    expectError(await from('192.0.2.1', 'budget@example.com'), 'magic_link_ip_limit_exceeded', 'any');
    assert.equal((await from('192.0.2.2', 'budget@example.com')).status, 202, "the refused request took none of the address's points");
    expectError(await from('192.0.2.3', 'budget@example.com'), 'magic_link_email_limit_exceeded', 'any');
    assert.equal(outbox.length, 3);
    assert.equal(Number(server.psql('SELECT count(*) FROM magic_link_links')), 3, 'refused requests saved nothing');
  });

  it('statements are unnamed (PgBouncer in transaction mode, limiters sharing a pool): no prepared statement is left', async () => {
    const { app, tokenOf } = createTestApp({ postgres: pool, secret: TEST_SECRET, now: Date.now, verify: anyone });
    await request(app).post('/v1/auth/magic-link').send({ email: 'prepared@example.com' });
    assert.equal((await request(app).post('/v1/auth/verify').send({ token: tokenOf() })).status, 200);
    const client = await pool.connect();
    try {
      // Every connection of the pool is asked in turn; none holds a named statement.
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements');
      assert.equal(rows[0]!.n, 0);
    } finally {
      client.release();
    }
  });

  it('warns when commits are not durable (synchronous_commit off), and when a synchronous commit has no standby to wait for', async () => {
    const warned: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => void warned.push(String(warning.code));
    process.on('warning', onWarning);
    try {
      const lax = new pg.Pool({ connectionString: server.url, max: 2, options: '-c synchronous_commit=off' });
      const a = createTestApp({ postgres: lax, secret: TEST_SECRET, now: Date.now });
      await request(a.app).post('/v1/auth/magic-link').send({ email: 'lax@example.com' });
      const b = createTestApp({
        store: new PostgresTokenStore(pool, { synchronousCommit: 'remote_apply', pruneIntervalMs: 0 }),
        secret: TEST_SECRET,
        now: Date.now,
      });
      await request(b.app).post('/v1/auth/magic-link').send({ email: 'sync@example.com' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await lax.end();
    } finally {
      process.off('warning', onWarning);
    }
    assert.ok(warned.includes('EXPRESS_MAGIC_LINK_POSTGRES_ASYNC_COMMIT'), warned.join());
    assert.ok(warned.includes('EXPRESS_MAGIC_LINK_POSTGRES_NO_SYNC_STANDBY'), warned.join());
  });

  it('refuses what is not a pool, and a table prefix that is not a plain identifier', () => {
    assert.throws(() => new PostgresTokenStore('postgres://x' as never), /needs a node-postgres `Pool`/);
    assert.throws(() => new PostgresTokenStore(pool, { tablePrefix: 'a-b' }), /`tablePrefix` must be lower-case letters/);
    assert.throws(() => new PostgresTokenStore(pool, { synchronousCommit: 'off' as never }), /`synchronousCommit` must be/);
  });

  it('prune() deletes rows past retention, in batches, and keeps the rest', async () => {
    const store = new PostgresTokenStore(pool, { pruneIntervalMs: 0, pruneBatchSize: 2 });
    await pool.query('TRUNCATE magic_link_links, magic_link_emails, magic_link_limits');
    const past = Date.now() - 10_000;
    for (let i = 0; i < 5; i++) {
      await store.save(
        { tag: 't', id: `old${i}`, check: 'c' },
        { sealed: 's', emailKey: 'e', expiresAt: past - 1, retainUntil: past, usedAt: null },
        { now: past - 2, revokeOthers: false },
      );
    }
    await store.save(
      { tag: 't', id: 'live', check: 'c' },
      { sealed: 's', emailKey: 'e', expiresAt: Date.now() + 60_000, retainUntil: Date.now() + 120_000, usedAt: null },
      { now: Date.now(), revokeOthers: false },
    );
    assert.equal(await store.prune(), 5);
    assert.equal(server.psql('SELECT id FROM magic_link_links'), 't:live');
  });
});
