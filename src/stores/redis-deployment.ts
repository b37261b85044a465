// Checks, once, that the Redis behind the store keeps what single use depends on: a spent link must
// survive a restart (persistence) and must not be evicted before it expires (eviction policy).
import { warnOnce } from '../warnings.js';
import type { RedisClient } from './redis-client.js';

export const REDIS_WARNINGS = {
  persistence: 'EXPRESS_MAGIC_LINK_REDIS_PERSISTENCE',
  eviction: 'EXPRESS_MAGIC_LINK_REDIS_EVICTION',
} as const;

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Reads INFO (best effort: an ACL may forbid it) and warns about settings that lose spent links. */
export async function checkDeployment(client: RedisClient): Promise<void> {
  let persistence: string;
  let memory: string;
  try {
    [persistence, memory] = await Promise.all([client.info('persistence'), client.info('memory')]);
  } catch {
    return;
  }
  if (field(persistence, 'aof_enabled') === '0') {
    warnOnce(
      REDIS_WARNINGS.persistence,
      'Redis runs without the append-only file (RDB snapshots only, or no persistence): after a crash or restart, links used since the last snapshot can be used again and limits reset. Set `appendonly yes` and `appendfsync everysec` on the Redis server.',
    );
  }
  const policy = field(memory, 'maxmemory_policy');
  if (Number(field(memory, 'maxmemory') ?? '0') > 0 && policy !== undefined && policy !== 'noeviction') {
    warnOnce(
      REDIS_WARNINGS.eviction,
      `Redis may evict keys (maxmemory-policy ${policy}): an evicted record or limiter counter brings back burnt links, dead codes and spent budgets. Set \`maxmemory-policy noeviction\`, or give the library a Redis of its own sized from the README's bytes per link.`,
    );
  }
}

/** Runs the check at the first ready connection, never more than once per client. */
const checked = new WeakSet<object>();
export function checkDeploymentWhenReady(client: RedisClient): void {
  if (checked.has(client)) return;
  checked.add(client);
  const run = (): void => void checkDeployment(client);
  if (client.status === 'ready') run();
  else client.once('ready', run);
}
