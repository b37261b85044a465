// Both ioredis majors the library supports; every Redis test runs against each.
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis5';
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis';
import type { RedisClient } from '../../src/index.js';

export interface IoredisFlavour {
  name: string;
  connect: (
    url: string,
  ) => RedisClient & { quit(): Promise<unknown>; disconnect(): void; ping(): Promise<string>; scan: (...args: string[]) => Promise<[string, string[]]> };
  cluster: (nodes: Array<{ host: string; port: number }>) => RedisClient & { quit(): Promise<unknown>; disconnect(): void };
}

// Options the README recommends: fail fast instead of queueing while Redis is away.
const CLIENT_OPTIONS = { maxRetriesPerRequest: 1, enableOfflineQueue: false, autoResendUnfulfilledCommands: false } as const;

// Outage tests stop Redis on purpose; the reconnect errors are expected, not worth a log line each.
function quiet(client: { on(event: 'error', listener: () => void): unknown }): never {
  client.on('error', () => undefined);
  return client as never;
}

export const IOREDIS_FLAVOURS: IoredisFlavour[] = [
  {
    name: 'ioredis 6',
    connect: (url) => quiet(new Redis6(url, CLIENT_OPTIONS)),
    cluster: (nodes) => quiet(new Cluster6(nodes, { redisOptions: CLIENT_OPTIONS, enableOfflineQueue: false })),
  },
  {
    name: 'ioredis 5',
    connect: (url) => quiet(new Redis5(url, CLIENT_OPTIONS)),
    cluster: (nodes) => quiet(new Cluster5(nodes, { redisOptions: CLIENT_OPTIONS, enableOfflineQueue: false })),
  },
];

export async function whenReady(client: { status: string }, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (client.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`client not ready: ${client.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Disconnects a Cluster between slot refreshes. A refresh still in flight at `disconnect()` ends by
 * arming ioredis's `slotsRefreshInterval` timer again, and that timer then refreshes a disconnected
 * cluster for ever: the test process never exits (ioredis 5 and 6).
 */
export async function disconnectCluster(client: { disconnect(): void }, ms = 15_000): Promise<void> {
  const refreshing = (): boolean => (client as unknown as { isRefreshing?: boolean }).isRefreshing === true;
  const deadline = Date.now() + ms;
  while (refreshing() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  client.disconnect();
}
