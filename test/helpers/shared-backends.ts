// The shared backends a behaviour is run on, each on a throwaway server of its own: the MagicLink
// options that select it, and a look inside for what a test counts.
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate, type MagicLinkOptions } from '../../src/index.js';
import { PostgresServer } from './postgres-server.js';
import { whenReady } from './redis-clients.js';
import { RedisServer } from './redis-server.js';

export interface Backend {
  readonly name: string;
  /** `{ redis }` or `{ postgres }`, plus `now: Date.now` (shared stores decide time on the server's clock). */
  readonly options: Partial<MagicLinkOptions>;
  /** What a separate process needs to reach it (`REDIS_URL` or `DATABASE_URL`). */
  readonly env: Record<string, string>;
  /** Wrong codes the store has counted against one address (all addresses summed). */
  wrongTries(): Promise<number>;
  /** Everything the store holds, as an attacker with read access sees it, and the link records' ids. */
  dump(): Promise<{ dump: string; recordIds: Set<string> }>;
  /** The server's port, for a proxy in front of it. */
  readonly port: number;
  /** MagicLink options for a client of its own on another port (a proxy to this server), and its close. */
  through(port: number): Promise<{ options: Partial<MagicLinkOptions>; close: () => Promise<void> }>;
  /** Freezes the server (SIGSTOP), and wakes it. */
  pause(): void;
  resumeFromPause(): void;
  /** Empties the store between tests. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export const SHARED_BACKENDS: ReadonlyArray<{ name: string; start: () => Promise<Backend> }> = [
  {
    name: 'Redis',
    async start() {
      const server = await RedisServer.start();
      const client = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
      await whenReady(client);
      return {
        name: 'Redis',
        options: { redis: client, now: Date.now },
        env: { REDIS_URL: server.url },
        port: server.port,
        async through(port) {
          const other = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
          other.on('error', () => undefined);
          await whenReady(other, 30_000);
          return { options: { redis: other }, close: async () => void other.disconnect() };
        },
        pause: () => server.pause(),
        resumeFromPause: () => server.resumeFromPause(),
        async wrongTries() {
          const states = server.cli('--scan', '--pattern', 'ml:*:e:*').trim().split('\n').filter(Boolean);
          return states.reduce((sum, key) => sum + Number(server.cli('hget', key, 'f').trim() || 0), 0);
        },
        async dump() {
          const keys = server.cli('--scan').trim().split('\n').filter(Boolean);
          const values = keys.map((key) => (server.cli('type', key).trim() === 'hash' ? server.cli('hgetall', key) : server.cli('get', key)));
          const recordIds = new Set(keys.map((key) => /:l:([A-Za-z0-9_-]{11})$/.exec(key)?.[1]).filter((id): id is string => id !== undefined));
          return { dump: [...keys, ...values].join('\n'), recordIds };
        },
        async reset() {
          await client.flushall();
        },
        async stop() {
          client.disconnect();
          await server.destroy();
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    async start() {
      const server = await PostgresServer.start();
      const pool = new pg.Pool({ connectionString: server.url, max: 10, connectionTimeoutMillis: 2_000 });
      pool.on('error', () => undefined); // an idle client ended by the server's stop is not the test's failure
      await migrate(pool);
      return {
        name: 'PostgreSQL',
        options: { postgres: pool, now: Date.now },
        env: { DATABASE_URL: server.url },
        port: server.port,
        async through(port) {
          const other = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, max: 10, connectionTimeoutMillis: 30_000 });
          other.on('error', () => undefined);
          // Open the connections now (each takes several round trips), as a running app has them.
          const clients = await Promise.all(Array.from({ length: 5 }, () => other.connect()));
          for (const client of clients) client.release();
          return { options: { postgres: other }, close: () => other.end() };
        },
        pause: () => server.pause(),
        resumeFromPause: () => server.resumeFromPause(),
        async wrongTries() {
          const { rows } = await pool.query<{ sum: string | null }>('SELECT sum(failures) AS sum FROM magic_link_emails');
          return Number(rows[0]?.sum ?? 0);
        },
        async dump() {
          const tables = ['magic_link_links', 'magic_link_emails', 'magic_link_limits', 'magic_link_attempts', 'magic_link_meta'];
          const text = tables.map((table) => server.psql(`SELECT * FROM ${table}`)).join('\n');
          const ids = (await pool.query<{ id: string }>('SELECT id FROM magic_link_links')).rows.map((row) => row.id.split(':').at(-1)!);
          return { dump: text, recordIds: new Set(ids) };
        },
        async reset() {
          await pool.query('TRUNCATE magic_link_links, magic_link_emails, magic_link_limits, magic_link_attempts');
        },
        async stop() {
          await pool.end();
          await server.destroy();
        },
      };
    },
  },
];
