// The slice of an ioredis client (`Redis` or `Redis.Cluster`, v5 or v6) the library uses; structural,
// so ioredis stays an optional peer and its types never leak into an app that does not use it.

/** An ioredis `Redis` or `Cluster` instance. */
export interface RedisClient {
  /** ioredis connection state; commands are only sent while it is `ready`. */
  readonly status: string;
  once(event: 'ready', listener: () => void): unknown;
  removeListener(event: 'ready', listener: () => void): unknown;
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  get(key: string): Promise<string | null>;
  pttl(key: string): Promise<number>;
  del(...keys: string[]): Promise<number>;
  info(section: string): Promise<string>;
  /** Redis's clock: `[seconds, microseconds]`. */
  time(): Promise<Array<number | string>>;
  pipeline(): RedisPipeline;
  /** A second connection with the same options (durable writes wait on their own). */
  duplicate?(): RedisClient;
  on?(event: 'close' | 'end' | 'error', listener: (...args: unknown[]) => void): unknown;
  disconnect?(): void;
}

/** The slice of an ioredis pipeline the store uses: its defined scripts, WAIT, and exec. */
export interface RedisPipeline {
  wait(replicas: number, timeoutMs: number): RedisPipeline;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

export class RedisNotReadyError extends Error {
  constructor(status: string) {
    super(`Redis connection is not ready (status: ${status})`);
    this.name = 'RedisNotReadyError';
  }
}

/**
 * Waits (at most `ms`) for the connection before sending anything. Commands are never handed to
 * ioredis while it is disconnected: it would queue them and run them after reconnecting, long after
 * the request was answered `service_unavailable` (a redeem would then burn a link nobody got).
 */
export function untilReady(client: RedisClient, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(new RedisNotReadyError(client.status));
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.removeListener('ready', onReady);
      reject(new RedisNotReadyError(client.status));
    }, ms);
    client.once('ready', onReady);
  });
}

/** An ioredis `Cluster`: scripts there may only touch keys of one slot. */
export function isCluster(client: RedisClient): boolean {
  return (client as { isCluster?: unknown }).isCluster === true;
}

export function isRedisClient(value: unknown): value is RedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<RedisClient>).status === 'string' &&
    typeof (value as Partial<RedisClient>).defineCommand === 'function' &&
    typeof (value as Partial<RedisClient>).once === 'function'
  );
}
