// The demo's user table: created on first sign-in. In memory for one process; with REDIS_URL in
// Redis, so every demo process finds a user that another one created. Sessions hold the id only.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
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
