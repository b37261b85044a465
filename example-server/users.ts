// The demo's user table: created on first sign-in. In memory for one process; with REDIS_URL in
// Redis and with DATABASE_URL in PostgreSQL, so every demo process finds a user that another one
// created. Sessions hold the id only.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { MagicLinkError } from 'express-magic-link';

export interface DemoUser {
  id: string;
  email: string;
}

export interface Users {
  /** The user for this address, created on first use (the demo signs anyone in). */
  findOrCreate(email: string): Promise<DemoUser>;
  byId(id: string): Promise<DemoUser | undefined>;
}

export function memoryUsers(): Users {
  const byEmail = new Map<string, DemoUser>();
  const byId = new Map<string, DemoUser>();
  return {
    async findOrCreate(email) {
      let user = byEmail.get(email);
      if (!user) {
        user = { id: randomUUID(), email };
        byEmail.set(email, user);
        byId.set(user.id, user);
      }
      return user;
    },
    async byId(id) {
      return byId.get(id);
    },
  };
}

/** A Redis that fails is an outage (503, "try again"), not a bug: say so in the library's terms. */
function outage(error: unknown): never {
  throw new MagicLinkError('service_unavailable', { retryAfter: 5, cause: error });
}

export function redisUsers(redis: Redis, prefix = 'demo:user:'): Users {
  return {
    findOrCreate: (email) => findOrCreate(email).catch(outage),
    byId: (id) => byId(id).catch(outage),
  };
  async function findOrCreate(email: string): Promise<DemoUser> {
    // HSETNX: two processes signing in the same new address agree on one id.
    await redis.hsetnx(`${prefix}by-email`, email, randomUUID());
    const id = (await redis.hget(`${prefix}by-email`, email))!;
    await redis.hset(`${prefix}by-id`, id, email);
    return { id, email };
  }
  async function byId(id: string): Promise<DemoUser | undefined> {
    const email = await redis.hget(`${prefix}by-id`, id);
    return email === null ? undefined : { id, email };
  }
}

export const USERS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS demo_users (id text PRIMARY KEY, email text NOT NULL UNIQUE);`;

export function postgresUsers(pool: pg.Pool): Users {
  return {
    async findOrCreate(email) {
      // One statement: two processes signing in the same new address agree on one id.
      const { rows } = await pool
        .query<DemoUser>('INSERT INTO demo_users (id, email) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email RETURNING id, email', [
          randomUUID(),
          email,
        ])
        .catch(outage);
      return rows[0]!;
    },
    async byId(id) {
      const { rows } = await pool.query<DemoUser>('SELECT id, email FROM demo_users WHERE id = $1', [id]).catch(outage);
      return rows[0];
    },
  };
}
