// What an outstanding link costs at rest: issue N links through the real request-link handler
// (in-process, over loopback, a no-op mailer, limits out of the way) and compare before and after.
//   heap:  the memory store's heap bytes per link, after a full GC.
//   redis: used_memory bytes per link in a Redis of its own (REDIS_URL), with RedisTokenStore and
//          the limiters kept in memory, so only links are in Redis. Every link is for a new address.
//   postgres: issues the links into PostgreSQL (DATABASE_URL) and prints how many; bench/run.ts
//          weighs the tables (pg_total_relation_size) before and after.
import express from 'express';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MagicLink, MemoryTokenStore, PostgresTokenStore, RedisTokenStore, type TokenStore } from 'express-magic-link';

const [, , what = 'heap', count = '100000'] = process.argv;
const links = Number(count);
const gc = (globalThis as { gc?: () => void }).gc!;

async function issueLinks(store: TokenStore | undefined, sameAddress: boolean): Promise<void> {
  const magicLink = new MagicLink({
    baseUrl: 'http://127.0.0.1',
    mailer: { send: async () => undefined },
    store,
    secret: 'bK3v9QzH2mXw7RtB5nYc8LpD4sFa6GeU1oKiVbNq0Zw',
    limits: { linkRequestsPerIp: 1_000_000, linkRequestsPerEmail: 1_000_000 },
  });
  const app = express();
  app.set('trust proxy', true);
  app.post('/l', magicLink.requestLinkHandler());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  let n = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    connections: 32,
    amount: links,
    requests: [
      {
        method: 'POST',
        path: '/l',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          n++;
          const email = sameAddress ? 'someone@bench.example' : `user${n}@bench.example`;
          const ip = sameAddress ? '10.0.0.1' : `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
          return { ...req, headers: { ...req.headers, 'x-forwarded-for': ip }, body: JSON.stringify({ email }) };
        },
      },
    ],
  });
  server.close();
  if (result.non2xx || result.errors) throw new Error(`issuing links failed: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const size = (magicLink.store as unknown as { size?: number }).size;
  if (size !== undefined && size !== links) throw new Error(`expected ${links} links, store holds ${size}`);
}

async function heapPerLink(sameAddress: boolean): Promise<number> {
  gc();
  const before = process.memoryUsage().heapUsed;
  await issueLinks(undefined, sameAddress);
  gc();
  return Math.round((process.memoryUsage().heapUsed - before) / links);
}

async function redisPerLink(): Promise<Record<string, number>> {
  const redis = new Redis(process.env.REDIS_URL!);
  const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  await redis.flushall();
  const before = await used();
  // The store would keep the link-request counters too; they expire with the window, so they are not
  // what a link costs at rest: the limits stay in this process, and only links go to Redis.
  const store = Object.assign(new RedisTokenStore(redis), { createLimiter: undefined });
  await issueLinks(store, false);
  const keys = await redis.dbsize();
  if (keys !== links) throw new Error(`expected ${links} keys, Redis holds ${keys}`);
  const [, sample] = await redis.scan('0', 'MATCH', 'ml:{*}:l:*', 'COUNT', 100);
  const usage = await Promise.all(sample.map((key) => redis.memory('USAGE', key) as Promise<number>));
  const result = {
    bytesPerLink: Math.round(((await used()) - before) / links),
    keysPerLink: keys / links,
    memoryUsageOfALinkKey: Math.round(usage.reduce((a, b) => a + b, 0) / Math.max(usage.length, 1)),
  };
  await redis.quit();
  return result;
}

/** Microseconds per save into a memory store that holds `held` records and is full at `cap`. */
async function microsPerSave(held: number, cap: number): Promise<number> {
  const store = new MemoryTokenStore({ maxRecords: cap });
  const now = Date.now();
  const save = (n: number) =>
    store.save(
      { tag: 'tag', id: `id${n}`, check: 'check' },
      { sealed: 'x'.repeat(64), emailKey: `e${n % 5000}`, expiresAt: now + 900_000, retainUntil: now + 86_400_000, usedAt: null },
      { now, revokeOthers: false },
    );
  for (let n = 0; n < held; n++) await save(n);
  const timed = 20_000;
  const started = process.hrtime.bigint();
  for (let n = held; n < held + timed; n++) await save(n);
  store.close();
  return Number(process.hrtime.bigint() - started) / 1000 / timed;
}

async function postgresLinks(): Promise<{ links: number }> {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL!, max: 10 });
  pool.on('error', (error) => console.error(`PostgreSQL: an idle client ended (${error.message})`));
  const store = new PostgresTokenStore(pool, { pruneIntervalMs: 0 });
  await issueLinks(store, false);
  store.close();
  await pool.end();
  return { links };
}

const result =
  what === 'postgres'
    ? await postgresLinks()
    : what === 'redis'
      ? await redisPerLink()
      : what === 'cap'
        ? {
            microsPerSaveAtCap: Number((await microsPerSave(links, links)).toFixed(2)),
            microsPerSaveFarBelowCap: Number((await microsPerSave(1_000, links)).toFixed(2)),
          }
        : { oneAddress: await heapPerLink(true), newAddressAndIpEach: await heapPerLink(false) };
console.log(JSON.stringify(result));
