// The slice of an ioredis client (`Redis` or `Redis.Cluster`, v5 or v6) the library uses; structural,
// so ioredis stays an optional peer and its types never leak into an app that does not use it.

/** An ioredis `Redis` or `Cluster` instance. */
export interface RedisClient {
  /** ioredis connection state; commands are only sent while it is `ready`. */
  readonly status: string;
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  del(...keys: string[]): Promise<number>;
}

export class RedisNotReadyError extends Error {
  constructor(status: string) {
    super(`Redis connection is not ready (status: ${status})`);
    this.name = 'RedisNotReadyError';
  }
}

/**
 * Refuses to queue a command while the client is disconnected: ioredis would otherwise hold it and
 * run it after reconnecting, long after the request was answered `service_unavailable`.
 */
export function assertReady(client: RedisClient): void {
  if (client.status !== 'ready') throw new RedisNotReadyError(client.status);
}

export function isRedisClient(value: unknown): value is RedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<RedisClient>).status === 'string' &&
    typeof (value as Partial<RedisClient>).defineCommand === 'function'
  );
}
